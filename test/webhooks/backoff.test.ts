import { describe, expect, it } from 'vitest';
import {
  clampHoldMs,
  DEFAULT_DESTINATION_BACKOFF,
  destinationRef,
  gateDecision,
  holdLadderMs,
  holdsDestination,
} from '../../src/shared/webhooks/backoff.js';

describe('destination backoff (pure)', () => {
  it('holds the whole destination for 408, 429 and 503 only', () => {
    for (const status of [408, 429, 503]) expect(holdsDestination(status)).toBe(true);
    // One event's 500, a gateway's 502/504, a network error: that event's own retry, nothing held.
    for (const status of [undefined, 200, 400, 410, 500, 502, 504])
      expect(holdsDestination(status)).toBe(false);
  });

  it('bounds a Retry-After hold between the floor and the cap', () => {
    const bounds = DEFAULT_DESTINATION_BACKOFF;
    expect(clampHoldMs(0, bounds)).toBe(1_000);
    expect(clampHoldMs(2_000, bounds)).toBe(2_000);
    expect(clampHoldMs(3_600_000, bounds)).toBe(600_000);
  });

  it('doubles from the floor up to the cap when no Retry-After came', () => {
    expect(holdLadderMs({ minMs: 200, maxMs: 700 })).toEqual([200, 400, 700]);
    expect(holdLadderMs({ minMs: 200, maxMs: 800 })).toEqual([200, 400, 800]);
    const ladder = holdLadderMs(DEFAULT_DESTINATION_BACKOFF);
    expect(ladder.slice(0, 4)).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(ladder.at(-1)).toBe(600_000);
    expect(ladder.length).toBe(11);
    // A cap under the floor is the floor; a zero floor still grows.
    expect(holdLadderMs({ minMs: 500, maxMs: 100 })).toEqual([500]);
    expect(holdLadderMs({ minMs: 0, maxMs: 4 })).toEqual([1, 2, 4]);
  });

  it('names a destination by a digest of its whole URL, and shows only its origin', () => {
    const url = 'https://hooks.example.com:8443/services/T0/B0/s3cr3tpath?token=s3cr3tquery';
    const ref = destinationRef(url);
    expect(ref.id).toMatch(/^[0-9a-f]{16}$/);
    expect(ref.label).toBe(`https://hooks.example.com:8443 (#${ref.id.slice(0, 8)})`);
    expect(ref.label).not.toMatch(/s3cr3t|token|services/);
    expect(destinationRef(url)).toEqual(ref);
    // Another path or query is another destination, though the label's origin is the same.
    expect(destinationRef(url.replace('token=s3cr3tquery', 'token=other')).id).not.toBe(ref.id);
    expect(destinationRef('https://hooks.example.com:8443/other').id).not.toBe(ref.id);
  });

  it("reads the gate script's reply", () => {
    expect(gateDecision([0, 0, null])).toEqual({ kind: 'open' });
    expect(gateDecision([0, 0, 'http://old (#ab)'])).toEqual({ kind: 'open', dropped: 'http://old (#ab)' });
    expect(gateDecision([1, 900, null])).toEqual({ kind: 'held', ms: 900 });
    expect(gateDecision([2, 0, null])).toEqual({ kind: 'probe' });
    expect(gateDecision([3, 4_000, null])).toEqual({ kind: 'wait', ms: 4_000 });
  });
});
