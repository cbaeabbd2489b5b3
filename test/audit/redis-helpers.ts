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

/**
 * A connection on which `act` runs once, at the first call of `method` whose first argument is `key`:
 * just before the call is sent (`before`), or right after it has been answered (`after`) — a race
 * between two reads of a walk, placed where a test wants it. `ran` tells whether it came.
 */
export function actOnceAt(
  redis: Redis,
  method: 'get' | 'hget' | 'xrange',
  key: string,
  when: 'before' | 'after',
  act: () => Promise<unknown>,
): { redis: Redis; ran: () => boolean } {
  let done = false;
  const due = (args: unknown[]) => !done && args[0] === key && (done = true);
  const racing = new Proxy(redis, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      const call = value as (...a: unknown[]) => Promise<unknown>;
      if (prop !== method) return call.bind(target);
      return async (...a: unknown[]) => {
        if (when === 'before' && due(a)) await act();
        const result = await call.apply(target, a);
        if (when === 'after' && due(a)) await act();
        return result;
      };
    },
  });
  return { redis: racing, ran: () => done };
}
