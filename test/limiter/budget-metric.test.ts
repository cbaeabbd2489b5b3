import { afterAll, describe, expect, it } from 'vitest';
import { CXONE_ENDPOINTS } from '../../src/shared/cxone/wire.js';
import { createFleetLimiter } from '../../src/shared/limiter/fleet-limiter.js';
import { silentLogger } from '../../src/shared/logger.js';
import { limiterBudgetLeft, refreshLimiterBudgets } from '../../src/shared/metrics.js';
import { REDIS_URL, testPrefix } from '../cxone/harness.js';
import { deletePrefixAt } from '../support/redis-prefix.js';

/**
 * `cxo_limiter_budget_left` over real Redis, with two limiters standing in for two processes: the
 * value is the fleet's budget when scraped, not what this process saw at its last permit.
 */
const EP = CXONE_ENDPOINTS.getCampaign;
const prefix = testPrefix('budget');
const PER_WINDOW = 10;
const WINDOW_MS = 1_500;
const limiters = [0, 1].map(() =>
  createFleetLimiter({
    redisUrl: REDIS_URL,
    prefix,
    perWindow: PER_WINDOW,
    windowMs: WINDOW_MS,
    logger: silentLogger,
  }),
);

afterAll(async () => {
  await Promise.all(limiters.map((l) => l.close()));
  await deletePrefixAt(prefix);
});

async function budgetLeft(): Promise<number | undefined> {
  await refreshLimiterBudgets(1_000);
  return (await limiterBudgetLeft.get()).values.find((v) => v.labels.endpoint === EP)?.value;
}

describe('cxo_limiter_budget_left', () => {
  it("counts every process's calls in the window, and the budget comes back as the window slides", async () => {
    const [a, b] = limiters as [(typeof limiters)[0], (typeof limiters)[0]];
    await Promise.all([
      ...Array.from({ length: 3 }, () => a.schedule(EP, 'control', async () => undefined)),
      ...Array.from({ length: 4 }, () => b.schedule(EP, 'control', async () => undefined)),
    ]);
    expect(await budgetLeft()).toBe(PER_WINDOW - 7);
    // Nobody calls: once the window (and its margin) has passed, the whole budget is back. Read as
    // a scrape would, until then: it must be back by the time the window and margin (and some slack)
    // have passed — 1.75 s after the last call here — not only after a fixed wait that outlasts it.
    const deadline = Date.now() + WINDOW_MS + 1_500;
    let left = await budgetLeft();
    while (left !== PER_WINDOW && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      left = await budgetLeft();
    }
    expect(left).toBe(PER_WINDOW);
  });
});
