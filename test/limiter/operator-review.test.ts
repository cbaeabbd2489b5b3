import { Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createKeys } from '../../src/shared/keys.js';
import { withLimiterScripts } from '../../src/shared/limiter/scripts.js';
import { LimiterUnavailableError, LimiterWaitExceededError } from '../../src/shared/limiter/types.js';
import { REDIS_URL, testPrefix } from '../cxone/harness.js';
import { deletePrefixAt } from '../support/redis-prefix.js';
import { limiterBehindProxy, metricValue, untilServedAfterOutage } from './fleet-helpers.js';

const ENDPOINT = 'GET /api/v2/campaigns/:id' as const;

let cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => undefined);
  cleanup = [];
});

describe("operators' calls (cxoOperatorTake)", () => {
  it('an operator behind one that does not come back (a crashed API) waits a spacing per pass, not 1 ms', async () => {
    const prefix = testPrefix('opstale');
    const redis = withLimiterScripts(new Redis(REDIS_URL));
    cleanup.push(
      () => deletePrefixAt(prefix),
      () => redis.quit(),
    );
    const base = createKeys(prefix).limiter(ENDPOINT);
    const [seconds, micros] = await redis.time();
    const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    // A waiting operator's call of a process that died: earliest deadline, never served, never removed.
    await redis.zadd(`${base}:operator`, now + 2_000, 'dead:1');
    await redis.pexpire(`${base}:operator`, 10_000);
    // The endpoint's latest start a while ago: every turn ahead is overdue.
    await redis.zadd(`${base}:log`, now - 5_000, 'earlier:1');
    await redis.pexpire(`${base}:log`, 120_000);
    const minTimeMs = 600;
    const answer = await redis.cxoOperatorTake(
      `${base}:log`,
      `${base}:penalty`,
      `${base}:operator`,
      `${base}:operator-log`,
      60_250,
      100,
      'alive:1',
      4_000,
      minTimeMs,
      'alive:1:0:1',
      50,
    );
    // Not taken (the dead one is ahead), and told to come back no sooner than its turn could be:
    // a 1 ms answer makes every waiting operator hammer Redis until the dead entry lapses.
    expect(answer[0]).toBe(0);
    expect(answer[2]).toBe(2);
    expect(answer[1]).toBeGreaterThanOrEqual(minTimeMs);
  });

  it('a bounded call whose deadline passed while Redis was down takes no slot once Redis is back', async () => {
    const { prefix, proxy, redis, limiter } = await limiterBehindProxy('opoutage', cleanup);
    cleanup.push(() => limiter.close());
    const logKey = `${createKeys(prefix).limiter(ENDPOINT)}:log`;
    await limiter.schedule(ENDPOINT, 'control', async () => 'made');
    expect(await redis.zcard(logKey)).toBe(1);
    // Past the spacing (100 ms at 600/min), so an operator's turn is due at once.
    await new Promise((r) => setTimeout(r, 300));

    const gaveUp = (reason?: string) =>
      metricValue('cxo_limiter_operator_gave_up_total', {
        endpoint: ENDPOINT,
        ...(reason ? { reason } : {}),
      });
    const served = () => metricValue('cxo_limiter_operator_wait_seconds', { endpoint: ENDPOINT }, 'count');
    const [gaveUpBefore, unavailableBefore, servedBefore] = [
      await gaveUp(),
      await gaveUp('redis_unavailable'),
      await served(),
    ];
    proxy.cut();
    let made = 0;
    const err = await limiter
      .schedule(ENDPOINT, 'control', async () => void made++, { maxWaitMs: 500 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LimiterUnavailableError);
    expect(err).not.toBeInstanceOf(LimiterWaitExceededError);
    // Counted once, as Redis being down (the API's 503 redis_unavailable), not as a busy budget; no wait.
    expect((await gaveUp()) - gaveUpBefore).toBe(1);
    expect((await gaveUp('redis_unavailable')) - unavailableBefore).toBe(1);
    expect((await served()) - servedBefore).toBe(0);
    await proxy.restore();

    // An unbounded call after the outage is served after whatever the abandoned call had queued.
    await untilServedAfterOutage(limiter, ENDPOINT);
    await vi.waitFor(
      async () => expect(await redis.zcard(`${createKeys(prefix).limiter(ENDPOINT)}:operator`)).toBe(0),
      // A bound, not a pause: generous for a loaded machine, free when the queue empties at once.
      { timeout: 10_000 },
    );
    expect(made).toBe(0);
    // The warm-up call and the one after the outage: nothing for the call that was never made.
    expect(await redis.zcard(logKey)).toBe(2);
  });
});
