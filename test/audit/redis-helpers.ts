import { Redis } from 'ioredis';
import { vi, type MockInstance } from 'vitest';
import { AuditTrimLockLostError } from '../../src/shared/audit/trail.js';
import { CampaignStore } from '../../src/shared/campaign-store.js';
import type { Keys } from '../../src/shared/keys.js';
import { campaignConfig, resource } from '../lifecycle/fixtures.js';
import { deletePrefix, testPrefix, REDIS_URL } from '../support/redis-prefix.js';

export { REDIS_URL };

export { testPrefix };

export function connect(): Redis {
  return new Redis(REDIS_URL, { maxRetriesPerRequest: null });
}

export { deletePrefix };

/** The environment `npm run audit -- trim` runs with in these tests: one day's retention, silent. */
export function trimCliEnv(keyPrefix: string) {
  return { REDIS_URL, KEY_PREFIX: keyPrefix, LOG_LEVEL: 'silent' as const, AUDIT_RETENTION_DAYS: '1' };
}

/**
 * Gives `id` an active campaign record: a campaign the orchestrator knows, whose chain the retention
 * trim keeps (anchored at its cut) when it cuts every record of it. A chain of no known campaign the
 * trim removes whole then (campaign-retention.ts purgeOrphanChains).
 */
export async function knownCampaign(redis: Redis, keys: Keys, id: string): Promise<void> {
  await new CampaignStore({ redis, keys }).syncFromCxone(resource({ id, status: 'active' }), {
    config: campaignConfig(),
    launchId: `launch-${id}`,
  });
}

/**
 * Makes every Redis client's `method` fail, for the calls `when` picks, as a retention trim's write
 * does once the trim has lost its lock (lock `the-lock`, its lease run out); every other call goes
 * through. The spy: mockRestore it.
 */
export function loseTrimLockOn(method: 'evalsha' | 'del', when: (args: unknown[]) => boolean): MockInstance {
  const real = Redis.prototype[method] as (...a: unknown[]) => Promise<unknown>;
  return vi.spyOn(Redis.prototype, method).mockImplementation(function (this: Redis, ...args: unknown[]) {
    if (when(args)) {
      return Promise.reject(
        new AuditTrimLockLostError(
          'the-lock',
          'its lease ran out, and the lock is gone or another trim took it',
        ),
      );
    }
    return real.apply(this, args);
  } as never);
}
