import { afterEach, describe, expect, it, vi } from 'vitest';
import { createKeys } from '../../src/shared/keys.js';
import { limiterBehindProxy } from './fleet-helpers.js';

const ENDPOINT = 'GET /api/v2/campaigns/:id' as const;

let cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => undefined);
  cleanup = [];
});

describe('closing the limiter after Redis came back', () => {
  it('leaves none of Bottleneck’s unsubscribes rejecting with nobody listening', async () => {
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.prependListener('unhandledRejection', onRejection);
    cleanup.push(async () => process.removeListener('unhandledRejection', onRejection));
    const { prefix, proxy, redis, limiter } = await limiterBehindProxy('closeunsub', cleanup);
    await limiter.schedule(ENDPOINT, 'control', async () => 'made');
    proxy.cut();
    await proxy.restore();
    // Back: a call goes through and Bottleneck's subscriber has subscribed again.
    await limiter.schedule(ENDPOINT, 'control', async () => 'made again');
    const channel = `b_${createKeys(prefix).limiter(ENDPOINT)}`;
    await vi.waitFor(
      async () => {
        const [, subscribers] = (await redis.pubsub('NUMSUB', channel)) as [string, number];
        expect(subscribers).toBeGreaterThan(0);
      },
      { timeout: 10_000, interval: 50 },
    );

    await limiter.close();
    // Rejections are reported after the microtasks that could still have handled them.
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 0));
    expect(rejections.map((r) => (r as Error).message)).toEqual([]);
  });
});
