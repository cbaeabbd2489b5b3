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
    const lease = await tryLease(redis, key, 200);
    expect(lease).not.toBeNull();
    expect(await lease!.renew()).toBe(true);
    expect(await redis.pttl(key)).toBeGreaterThan(100);

    // Expired and taken by someone else: renewing must not extend the other holder's lease.
    await redis.set(key, 'someone-else', 'PX', 50);
    expect(await lease!.renew()).toBe(false);
    expect(await redis.pttl(key)).toBeLessThanOrEqual(50);
    await lease!.release();
    expect(await redis.get(key)).toBe('someone-else');
  });
});
