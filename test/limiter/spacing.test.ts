import { describe, expect, it } from 'vitest';
import {
  computeSpacing,
  LEASE_SPAN_MS,
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

  it('promises more slots only when the permit gap is short, covering a fixed span of the budget', () => {
    // Every realistic CXone budget keeps two promised slots.
    expect(computeSpacing(100, 60_000).maxConcurrent).toBe(2);
    expect(computeSpacing(1_000, 60_000).maxConcurrent).toBe(2); // minTime 61 ms
    expect(computeSpacing(60, 10_000).maxConcurrent).toBe(2);
    for (const gap of [1, 3, 7, 11, 22, 25, 33, 49, 50, 51, 606, 60_000]) {
      const n = pendingPermits(gap);
      expect(n).toBeGreaterThanOrEqual(MIN_PENDING_PERMITS);
      // Bounded in time: what a control call can find promised ahead of it.
      expect((n - 1) * gap).toBeLessThanOrEqual(Math.max(PENDING_COVER_MS, gap));
      // Slots forgotten by a Redis flush fit in the margin whenever there are more than two.
      if (n > MIN_PENDING_PERMITS) expect(n * gap).toBeLessThanOrEqual(MIN_MARGIN_MS - gap);
    }
  });

  it('leases several slots per permit only when the spacing is shorter than LEASE_SPAN_MS', () => {
    for (const [perWindow, windowMs] of [
      [100, 60_000],
      [1_000, 60_000],
      [2_400, 60_000], // minTime 26 ms
      [60, 10_000],
      [10, 1_000],
    ] as const) {
      const s = computeSpacing(perWindow, windowMs);
      expect(s.leaseSlots).toBe(1);
      expect(s.permitGapMs).toBe(s.minTimeMs);
    }
    // The benchmark's "out of the way" budget: minTime 1 ms → a permit is a 50 ms slice of 50 slots.
    const fast = computeSpacing(100_000, 60_000);
    expect(fast.minTimeMs).toBe(1);
    expect(fast.leaseSlots).toBe(50);
    expect(fast.permitGapMs).toBe(50);
    expect(fast.maxConcurrent).toBe(2);
    expect(fast.permitExpirationMs).toBe(50 * 3 + 2_000);
    const mid = computeSpacing(1_000, 10_000); // minTime 11 ms
    expect(mid.leaseSlots).toBe(4);
    expect(mid.permitGapMs).toBe(44);
    // The first budget with leases: minTime 25 ms → two slots per permit.
    expect(computeSpacing(2_500, 60_000).leaseSlots).toBe(2);
    for (const perWindow of [3_000, 10_000, 50_000, 100_000, 1_000_000]) {
      const s = computeSpacing(perWindow, 60_000);
      // A lease is spent within its slice, and the slice stays well inside the margin.
      expect(s.permitGapMs).toBeLessThanOrEqual(LEASE_SPAN_MS);
      expect(s.permitGapMs + PENDING_COVER_MS).toBeLessThan(s.marginMs);
      expect(s.leaseSlots * s.minTimeMs).toBe(s.permitGapMs);
    }
  });

  it('uses one Bottleneck lane per endpoint unless the permit gap asks for more promised slots', () => {
    expect(computeSpacing(100, 60_000).lanes).toBe(1);
    expect(computeSpacing(1_000, 60_000).lanes).toBe(1);
    expect(computeSpacing(60, 10_000).lanes).toBe(1);
    expect(computeSpacing(2_400, 60_000).lanes).toBe(2); // 26 ms gap → 4 promised slots
    expect(computeSpacing(1_000, 10_000).lanes).toBe(2); // 44 ms gap → 3 promised slots
    expect(computeSpacing(100_000, 60_000).lanes).toBe(1); // 50 ms gap → 2 promised slots
    expect(computeSpacing(100_000, 60_000).lanes).toBeLessThanOrEqual(MAX_LANES);
  });

  it('refuses nonsense budgets', () => {
    expect(() => computeSpacing(0, 1000)).toThrow(RangeError);
    expect(() => computeSpacing(1.5, 1000)).toThrow(RangeError);
    expect(() => computeSpacing(10, 0)).toThrow(RangeError);
  });
});
