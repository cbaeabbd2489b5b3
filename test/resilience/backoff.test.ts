import { describe, expect, it } from 'vitest';
import { backoffCeilingMs, fullJitterDelayMs } from '../../src/shared/retry/backoff.js';

const policy = { baseMs: 1_000, capMs: 60_000 };

describe('full-jitter backoff', () => {
  it('doubles the ceiling per attempt up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffCeilingMs(n, policy))).toEqual([
      1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000,
    ]);
    expect(backoffCeilingMs(10_000, policy)).toBe(60_000);
  });

  it('treats odd attempt numbers as the first attempt', () => {
    expect(backoffCeilingMs(0, policy)).toBe(1_000);
    expect(backoffCeilingMs(-3, policy)).toBe(1_000);
    expect(backoffCeilingMs(Number.NaN, policy)).toBe(1_000);
  });

  it('draws uniformly from [0, ceiling)', () => {
    expect(fullJitterDelayMs(3, policy, () => 0)).toBe(0);
    expect(fullJitterDelayMs(3, policy, () => 0.5)).toBe(2_000);
    expect(fullJitterDelayMs(3, policy, () => 0.999999)).toBe(3_999);
  });

  it('spreads a fleet of retries instead of synchronizing them', () => {
    const delays = Array.from({ length: 1_000 }, () => fullJitterDelayMs(4, policy));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...delays)).toBeLessThan(8_000);
    expect(new Set(delays).size).toBeGreaterThan(500);
  });
});
