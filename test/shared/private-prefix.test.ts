import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertPrivatePrefix, deletePrivatePrefix } from '../../src/shared/private-prefix.js';
import { REDIS_URL, testPrefix } from '../support/redis-prefix.js';

describe('deletePrivatePrefix (real Redis)', () => {
  let redis: Redis;
  const mine = testPrefix('cleanup');
  const neighbour = testPrefix('neighbour');

  beforeAll(() => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    await deletePrivatePrefix(redis, neighbour);
    redis.disconnect();
  });

  it("deletes the prefix's keys and the limiter's b_ keys, and nobody else's", async () => {
    await redis.set(`${mine}:campaign:1`, 'x');
    await redis.hset(`${mine}:launch:meta`, 'k', 'v');
    await redis.set(`b_${mine}:limiter:POST_/api/v2/campaigns_settings`, 'x');
    await redis.set(`${neighbour}:campaign:1`, 'y');
    await redis.set(`b_${neighbour}:limiter:x`, 'y');

    expect(await deletePrivatePrefix(redis, mine)).toBe(3);

    expect(await redis.exists(`${mine}:campaign:1`, `${mine}:launch:meta`)).toBe(0);
    expect(await redis.exists(`b_${mine}:limiter:POST_/api/v2/campaigns_settings`)).toBe(0);
    expect(await redis.exists(`${neighbour}:campaign:1`, `b_${neighbour}:limiter:x`)).toBe(2);
  });

  it('refuses a prefix that is not private', async () => {
    for (const prefix of ['', '{cxo}', 'cxo-demo', '{cxo-a}{cxo-b}', '*']) {
      expect(() => assertPrivatePrefix(prefix)).toThrow(/not a private prefix/);
      await expect(deletePrivatePrefix(redis, prefix)).rejects.toThrow(/not a private prefix/);
    }
    expect(await redis.exists(`${neighbour}:campaign:1`)).toBe(1);
  });
});
