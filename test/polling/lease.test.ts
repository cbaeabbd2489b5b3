import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tryLease } from '../../src/shared/polling/lease.js';
import { deletePrefix, REDIS_URL, testPrefix } from './helpers.js';

const prefix = testPrefix();
let redis: Redis;

beforeAll(() => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
});
afterAll(async () => {
  await deletePrefix(redis, prefix);
  await redis.quit();
});

describe('lease renewal', () => {
  it('extends the holder’s lease, and tells a holder that lost it', async () => {
    const key = `${prefix}:lock:renew`;
    // Leases of seconds, shortened by hand where time is to have passed: with 200 ms and 50 ms ones, a
    // loaded machine's stall let the other holder's lease lapse before it was read back.
    const lease = await tryLease(redis, key, 10_000);
    expect(lease).not.toBeNull();
    await redis.pexpire(key, 1_000);
    expect(await lease!.renew()).toBe(true);
    expect(await redis.pttl(key)).toBeGreaterThan(5_000);

    // Expired and taken by someone else: renewing must not extend the other holder's lease.
    await redis.set(key, 'someone-else', 'PX', 5_000);
    expect(await lease!.renew()).toBe(false);
    expect(await redis.pttl(key)).toBeLessThanOrEqual(5_000);
    await lease!.release();
    expect(await redis.get(key)).toBe('someone-else');
  });
});
