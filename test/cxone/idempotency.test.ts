import { describe, expect, it } from 'vitest';
import { launchIdempotencyKey } from '../../src/shared/cxone/idempotency.js';

describe('launchIdempotencyKey', () => {
  it('is deterministic per launch and differs between launches', () => {
    const a = launchIdempotencyKey('launch-1');
    expect(launchIdempotencyKey('launch-1')).toBe(a);
    expect(launchIdempotencyKey('launch-2')).not.toBe(a);
    expect(a).toMatch(/^cxo-launch-[0-9a-f]{48}$/);
  });

  it('does not expose the launch id and refuses an empty one', () => {
    expect(launchIdempotencyKey('secret-launch')).not.toContain('secret');
    expect(() => launchIdempotencyKey(' ')).toThrow(RangeError);
  });
});
