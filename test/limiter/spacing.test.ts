import { describe, expect, it } from 'vitest';
import {
  computeSpacing,
  MAX_LANES,
  MIN_MARGIN_MS,
  MIN_PENDING_PERMITS,
  PENDING_COVER_MS,
  pendingPermits,
} from '../../src/shared/limiter/spacing.js';

describe('computeSpacing', () => {
  it('spreads the production budget over the minute with a 1 % margin', () => {
    const s = computeSpacing(100, 60_000);
    expect(s.marginMs).toBe(600);
    expect(s.minTimeMs).toBe(606);
    // No more than perWindow calls can start in any window when they are minTime apart.
    expect(Math.floor(s.windowMs / s.minTimeMs) + 1).toBeLessThanOrEqual(100);
    expect(s.maxConcurrent).toBe(MIN_PENDING_PERMITS);
  });

  it('keeps at least 250 ms of margin for short benchmark windows', () => {
    const s = computeSpacing(60, 10_000);
    expect(s.marginMs).toBe(250);
    expect(s.minTimeMs).toBe(171);
    const tiny = computeSpacing(10, 1_000);
    expect(tiny.marginMs).toBe(250);
    expect(tiny.minTimeMs).toBe(125);
  });

  it('keeps the heartbeat between 250 ms and 1 s and reclaims dead permits after a few slots', () => {
    expect(computeSpacing(100, 60_000).heartbeatMs).toBe(606);
    expect(computeSpacing(1, 60_000).heartbeatMs).toBe(1_000);
    expect(computeSpacing(1000, 1_000).heartbeatMs).toBe(250);
    const s = computeSpacing(100, 60_000);
    expect(s.permitExpirationMs).toBe(606 * 3 + 2_000);
  });

  it('promises more slots only when the spacing is short, covering a fixed span of the budget', () => {
    // Every realistic CXone budget keeps two promised slots.
    expect(computeSpacing(100, 60_000).maxConcurrent).toBe(2);
    expect(computeSpacing(1_000, 60_000).maxConcurrent).toBe(2); // minTime 61 ms
    expect(computeSpacing(60, 10_000).maxConcurrent).toBe(2);
    // The benchmark's "out of the way" budget: minTime 1 ms → 100 slots, i.e. 100 ms of budget.
    const fast = computeSpacing(100_000, 60_000);
    expect(fast.minTimeMs).toBe(1);
    expect(fast.maxConcurrent).toBe(100);
    expect(computeSpacing(1_000, 10_000).maxConcurrent).toBe(10); // minTime 11 ms
    for (const minTime of [1, 3, 7, 11, 33, 49, 50, 51, 606, 60_000]) {
      const n = pendingPermits(minTime);
      expect(n).toBeGreaterThanOrEqual(MIN_PENDING_PERMITS);
      // Bounded in time: what a control call can find promised ahead of it.
      expect((n - 1) * minTime).toBeLessThanOrEqual(Math.max(PENDING_COVER_MS, minTime));
      // Slots forgotten by a Redis flush fit in the margin whenever there are more than two.
      if (n > MIN_PENDING_PERMITS) expect(n * minTime).toBeLessThanOrEqual(MIN_MARGIN_MS - minTime);
    }
    expect(fast.permitExpirationMs).toBe(1 * 101 + 2_000);
  });

  it('uses one Bottleneck lane per endpoint unless the spacing asks for more promised slots', () => {
    expect(computeSpacing(100, 60_000).lanes).toBe(1);
    expect(computeSpacing(1_000, 60_000).lanes).toBe(1);
    expect(computeSpacing(60, 10_000).lanes).toBe(1);
    expect(computeSpacing(1_000, 10_000).lanes).toBe(5); // 10 promised slots
    expect(computeSpacing(100_000, 60_000).lanes).toBe(MAX_LANES);
  });

  it('refuses nonsense budgets', () => {
    expect(() => computeSpacing(0, 1000)).toThrow(RangeError);
    expect(() => computeSpacing(1.5, 1000)).toThrow(RangeError);
    expect(() => computeSpacing(10, 0)).toThrow(RangeError);
  });
});
