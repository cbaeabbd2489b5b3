import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createKeys } from '../../src/shared/keys.js';
import { campaignLockKey, LockLostError, tryAcquireCampaignLock } from '../../src/shared/lifecycle/lock.js';
import { silentLogger } from '../../src/shared/logger.js';
import { REDIS_URL, testPrefix, deletePrefixAt } from '../support/redis-prefix.js';

const keys = createKeys(testPrefix());
let redis: Redis;

beforeAll(() => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
});

afterAll(async () => {
  await redis.quit();
  await deletePrefixAt(keys.prefix);
});

const opts = (owner: string, leaseMs = 5_000) => ({ redis, keys, logger: silentLogger, owner, leaseMs });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('campaign lock (real Redis)', () => {
  it('lets one holder in at a time per campaign, and other campaigns in parallel', async () => {
    const a = await tryAcquireCampaignLock(opts('a'), 'c1');
    expect(a).not.toBeNull();
    expect(await tryAcquireCampaignLock(opts('b'), 'c1')).toBeNull();
    const other = await tryAcquireCampaignLock(opts('b'), 'c2');
    expect(other).not.toBeNull();
    await a!.release();
    await other!.release();
    const b = await tryAcquireCampaignLock(opts('b'), 'c1');
    expect(b).not.toBeNull();
    await b!.release();
  });

  it('hands out strictly increasing fencing tokens', async () => {
    const tokens: number[] = [];
    for (let i = 0; i < 4; i++) {
      const lease = await tryAcquireCampaignLock(opts(`o${i}`), 'c3');
      tokens.push(lease!.token);
      await lease!.release();
    }
    expect(tokens).toEqual([...tokens].sort((x, y) => x - y));
    expect(new Set(tokens).size).toBe(4);
  });

  it("a holder whose lease ran out cannot free or use the next holder's lock", async () => {
    // Renewal every leaseMs/3 would keep it; stop it by expiring the key under the holder.
    const stale = await tryAcquireCampaignLock(opts('stale', 200), 'c4');
    await redis.del(campaignLockKey(keys, 'c4'));
    const fresh = await tryAcquireCampaignLock(opts('fresh'), 'c4');
    expect(fresh!.token).toBeGreaterThan(stale!.token);
    await expect(stale!.verify()).rejects.toBeInstanceOf(LockLostError);
    expect(stale!.held()).toBe(false);
    await stale!.release();
    expect(await redis.get(campaignLockKey(keys, 'c4'))).toBe(`${fresh!.token}:fresh`);
    await fresh!.verify();
    await fresh!.release();
    expect(await redis.exists(campaignLockKey(keys, 'c4'))).toBe(0);
  });

  it('renews the lease while the holder works', async () => {
    // Renewed every 200 ms, a 600 ms lease outlives a loaded machine's stalls of a few hundred ms;
    // 1.5 s is past two whole leases.
    const lease = await tryAcquireCampaignLock(opts('slow', 600), 'c5');
    await sleep(1_500);
    expect(lease!.held()).toBe(true);
    await lease!.verify();
    expect(await tryAcquireCampaignLock(opts('other'), 'c5')).toBeNull();
    await lease!.release();
  });

  it('frees itself when the holder dies (lease expiry)', async () => {
    const lease = await tryAcquireCampaignLock(opts('dead', 300), 'c6');
    // Simulate a dead process: stop renewing without releasing.
    await lease!
      .release()
      .then(() => redis.set(campaignLockKey(keys, 'c6'), `${lease!.token}:dead`, 'PX', 1_000));
    // Held until its lease lapses, then free (waited for: a fixed pause past a short lease could also
    // let the lease lapse before the first attempt on a loaded machine).
    expect(await tryAcquireCampaignLock(opts('next'), 'c6')).toBeNull();
    await vi.waitFor(async () => expect(await redis.exists(campaignLockKey(keys, 'c6'))).toBe(0), {
      timeout: 5_000,
      interval: 50,
    });
    const next = await tryAcquireCampaignLock(opts('next'), 'c6');
    expect(next).not.toBeNull();
    await next!.release();
  });
});
