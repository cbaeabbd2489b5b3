import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoLaunched, spawnDemo } from '../support/demo-process.js';
import { REDIS_URL } from '../support/redis-prefix.js';

/**
 * `npm run demo` stopped by a process manager (SIGTERM) rather than Ctrl-C: the real demo in its own
 * process against the test Redis, stopped once its fleet is up. It must close everything and delete
 * every key under its private prefix, as it does on Ctrl-C.
 */
describe('the demo stopped by SIGTERM', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  });
  afterAll(() => {
    redis.disconnect();
  });

  it('stops cleanly and leaves no key under its prefix', async () => {
    const demo = spawnDemo('silent');
    // The banner names the demo's prefix; the campaign line means its keys are being written.
    const tag = await demoLaunched(demo);
    expect(await redis.keys(`*${tag}*`)).not.toHaveLength(0);

    demo.child.kill('SIGTERM');
    expect(await demo.exited, demo.out).toBe(0);
    expect(demo.out).toContain('SIGTERM: stopping the demo');
    expect(await redis.keys(`*${tag}*`)).toEqual([]);
  }, 90_000);
});
