import { describe, expect, it } from 'vitest';
import {
  budgetTier,
  effectivePollIntervalMs,
  minPollIntervalMs,
  nextBudgetTier,
} from '../../src/shared/polling/budget.js';

describe('poll budget', () => {
  const budget = { perWindow: 100, windowMs: 60_000 };

  it('keeps the desired interval while the campaigns fit in the budget', () => {
    // 80 usable polls a minute: 20 campaigns at 15 s use exactly 80.
    expect(effectivePollIntervalMs(15_000, { ...budget, activeCampaigns: 20 })).toBe(15_000);
  });

  it('stretches every interval once they do not', () => {
    expect(effectivePollIntervalMs(15_000, { ...budget, activeCampaigns: 40 })).toBe(30_000);
    expect(minPollIntervalMs({ ...budget, activeCampaigns: 1000 })).toBe(750_000);
  });

  it('honours a custom reserve and never divides by zero', () => {
    expect(minPollIntervalMs({ ...budget, activeCampaigns: 10, reserveFraction: 0 })).toBe(6_000);
    expect(minPollIntervalMs({ ...budget, activeCampaigns: 0 })).toBe(750);
    expect(minPollIntervalMs({ perWindow: 1, windowMs: 60_000, activeCampaigns: 2 })).toBe(120_000);
  });
});

describe('budget tiers', () => {
  it('rounds the campaign count up to a tier at most ~25% above it', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map(budgetTier)).toEqual([1, 2, 3, 4, 5, 7, 7, 9]);
    for (let n = 1; n <= 20_000; n += 37) {
      const tier = budgetTier(n);
      expect(tier).toBeGreaterThanOrEqual(n);
      expect(tier).toBeLessThanOrEqual(Math.ceil(n * 1.25) + 1);
    }
  });

  it('grows as soon as the count exceeds the tier, so the budget is never overrun', () => {
    expect(nextBudgetTier(10, 9)).toBe(12);
    expect(nextBudgetTier(1, null)).toBe(1);
  });

  it('shrinks only once the count fell a whole ratio below, so a boundary does not flap', () => {
    const tier = budgetTier(1001);
    expect(nextBudgetTier(1000, tier)).toBe(tier);
    expect(nextBudgetTier(1001, tier)).toBe(tier);
    expect(nextBudgetTier(Math.floor(tier / 1.25) + 1, tier)).toBe(tier);
    expect(nextBudgetTier(Math.floor(tier / 1.25), tier)).toBeLessThan(tier);
  });

  it('costs O(1) scheduler rewrites per activation over a growing fleet', () => {
    // Every tier change rewrites every campaign; adding 10 000 one by one costs ~5 per activation.
    let tier: number | null = null;
    let rewrites = 0;
    for (let count = 1; count <= 10_000; count += 1) {
      const next = nextBudgetTier(count, tier);
      rewrites += next !== tier ? count : 1;
      tier = next;
    }
    expect(rewrites / 10_000).toBeLessThan(6);
  });
});
