import { afterEach, describe, expect, it, vi } from 'vitest';
import { createKeys } from '../../src/shared/keys.js';
import { LimiterUnavailableError, LimiterWaitExceededError } from '../../src/shared/limiter/types.js';
import { limiterBehindProxy, untilServedAfterOutage } from './fleet-helpers.js';

const ENDPOINT = 'PATCH /api/v2/campaigns/:id' as const;

let cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => undefined);
  cleanup = [];
});

describe('a call that gave up during a Redis outage', () => {
  it('takes nothing from the fleet budget once Redis is back', async () => {
    const { prefix, proxy, redis, limiter } = await limiterBehindProxy('abandon', cleanup, {
      redisOutageMaxMs: 300,
    });
    cleanup.push(() => limiter.close());
    const logKey = `${createKeys(prefix).limiter(ENDPOINT)}:log`;

    // Warm: Bottleneck started, one call in the log.
    await limiter.schedule(ENDPOINT, 'control', async () => 'made');
    expect(await redis.zcard(logKey)).toBe(1);

    proxy.cut();
    const made: number[] = [];
    const abandoned = await Promise.all(
      [1, 2, 3, 4, 5].map((n) =>
        limiter.schedule(ENDPOINT, 'control', async () => made.push(n)).catch((e: unknown) => e),
      ),
    );
    for (const err of abandoned) expect(err).toBeInstanceOf(LimiterUnavailableError);

    await proxy.restore();
    // A call made after Redis is back is served after everything the abandoned calls had queued
    // (their commands and permits were queued first), so when it is through, any slot they took is
    // in the log.
    // (Until the limiter's connection is back, a call still gives up at once; each such call is one
    // more that must take nothing.)
    await untilServedAfterOutage(limiter, ENDPOINT);
    expect(made).toEqual([]);
    // Closed before Bottleneck's subscriber connection is back, the limiter's unsubscribes would be
    // dropped with it (as at any shutdown during an outage; src/main.ts expects those then).
    const channel = `b_${createKeys(prefix).limiter(ENDPOINT)}`;
    await vi.waitFor(
      async () => {
        const [, subscribers] = (await redis.pubsub('NUMSUB', channel)) as [string, number];
        expect(subscribers).toBeGreaterThan(0);
      },
      { timeout: 10_000, interval: 50 },
    );
    // The warm-up call and the one after the outage: nothing for the five that were never made.
    expect(await redis.zcard(logKey)).toBe(2);
  });

  it("a bounded call (the API's) whose deadline passes while Redis is down says Redis, not a busy budget", async () => {
    // The outage bound (30 s) is far past the API's wait: the deadline comes first.
    const { proxy, limiter } = await limiterBehindProxy('outage-bounded', cleanup);
    cleanup.push(() => limiter.close());
    await limiter.schedule(ENDPOINT, 'control', async () => 'made');
    proxy.cut();
    let calls = 0;
    const err = await limiter
      .schedule(ENDPOINT, 'control', async () => void calls++, { maxWaitMs: 800 })
      .catch((e: unknown) => e);
    // Not LimiterWaitExceededError 'budget', which the API reports as the fleet's launches and polls
    // spending the budget.
    expect(err).not.toBeInstanceOf(LimiterWaitExceededError);
    expect(err).toBeInstanceOf(LimiterUnavailableError);
    expect(calls).toBe(0);
    await proxy.restore();
  });
});
