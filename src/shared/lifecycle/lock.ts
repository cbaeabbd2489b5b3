import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { Keys } from '../keys.js';
import type { Logger } from '../logger.js';
import { releaseIfHolder, renewIfHolder } from '../held-key.js';
import { evalScript } from '../redis-script.js';

/**
 * One mutation at a time per campaign across the whole fleet: a Redis lease per campaign.
 *
 * - Acquire is one Lua script: if the lock key is free, INCR the campaign's fencing counter and SET
 *   the lock to `<token>:<owner>` with a PX lease. Tokens grow with every acquisition, so a holder whose
 *   lease expired (GC pause, partition) can always be told apart from the current one.
 * - While the holder works, a timer renews the lease (compare-and-PEXPIRE) every third of it.
 * - Before every CXone write the holder checks, in Redis, that the lock still carries its token
 *   (`verify`); a holder that lost it stops instead of writing. CXone's own `If-Match: version`
 *   is the last fence: even a write that slipped through after a lost lease can only apply to the
 *   version it read.
 * - Release is compare-and-delete, so a late release never frees somebody else's lock.
 */
const ACQUIRE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local token = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('SET', KEYS[1], token .. ':' .. ARGV[1], 'PX', ARGV[2])
return token
`;

/**
 * The fencing counter of a campaign nobody has locked for this long is dropped (finished campaigns
 * must not leave keys behind). Safe: a holder is recognised by its whole lock value, token and owner
 * (host:pid:job) together, and any lease that old has long expired.
 */
const FENCE_TTL_MS = 7 * 24 * 3600 * 1000;

/** The lock was lost while the holder was working; its remaining writes must not happen. */
export class LockLostError extends Error {
  constructor(
    readonly campaignId: string,
    readonly token: number,
  ) {
    super(`lost the lock on campaign ${campaignId} (fencing token ${token}); another worker may hold it now`);
    this.name = 'LockLostError';
  }
}

export interface CampaignLease {
  readonly campaignId: string;
  /** Fencing token: strictly greater than that of every earlier holder of this campaign's lock. */
  readonly token: number;
  /** False once a renewal found the lock gone (or renewals failed for a whole lease). */
  held(): boolean;
  /** Checks in Redis that this lease still holds the lock; throws LockLostError otherwise. */
  verify(): Promise<void>;
  /** Stops renewing and frees the lock if it is still ours. Never throws. */
  release(): Promise<void>;
}

export interface CampaignLockOptions {
  redis: Redis;
  keys: Keys;
  logger: Logger;
  /** Lease length; renewed every third of it while the holder works. */
  leaseMs?: number;
  /** Identifies the holder in the lock value (for operators reading Redis), e.g. `host:pid:job`. */
  owner: string;
  now?: () => number;
}

export const DEFAULT_LEASE_MS = 30_000;

/** The `owner` this process names in a lock's value: `host:pid`, and `:role` for what takes it. */
export function lockOwner(role?: string): string {
  return `${hostname()}:${process.pid}${role === undefined ? '' : `:${role}`}`;
}

export function campaignLockKey(keys: Keys, campaignId: string): string {
  return keys.lock(`campaign:${campaignId}`);
}

export function campaignFenceKey(keys: Keys, campaignId: string): string {
  return keys.lock(`campaign:${campaignId}:fence`);
}

/** Tries once to take the campaign's lock; null when somebody else holds it. */
export async function tryAcquireCampaignLock(
  opts: CampaignLockOptions,
  campaignId: string,
): Promise<CampaignLease | null> {
  const { redis, keys, logger } = opts;
  const leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
  const now = opts.now ?? Date.now;
  const lockKey = campaignLockKey(keys, campaignId);
  const token = Number(
    await evalScript(
      redis,
      ACQUIRE,
      2,
      lockKey,
      campaignFenceKey(keys, campaignId),
      opts.owner,
      String(leaseMs),
      String(FENCE_TTL_MS),
    ),
  );
  if (!token) return null;

  const value = `${token}:${opts.owner}`;
  let held = true;
  let released = false;
  let lastRenewedAt = now();

  const renew = async () => {
    try {
      if (await renewIfHolder(redis, lockKey, value, leaseMs)) {
        lastRenewedAt = now();
        return;
      }
      held = false;
    } catch (err) {
      // A Redis blip: the lease may still be valid; give up only once it must have run out.
      if (now() - lastRenewedAt >= leaseMs) held = false;
      logger.warn({ campaignId, token, err: (err as Error).message }, 'could not renew the campaign lock');
    }
    if (!held) {
      clearInterval(timer);
      logger.warn({ campaignId, token }, 'campaign lock lost while working');
    }
  };
  const timer = setInterval(() => void renew(), Math.max(50, Math.floor(leaseMs / 3)));
  timer.unref();

  return {
    campaignId,
    token,
    held: () => held && !released,
    async verify() {
      if (!held || released) throw new LockLostError(campaignId, token);
      const current = await redis.get(lockKey);
      if (current !== value) {
        held = false;
        clearInterval(timer);
        throw new LockLostError(campaignId, token);
      }
    },
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      try {
        await releaseIfHolder(redis, lockKey, value);
      } catch (err) {
        // The lease expires by itself; a failed release only delays the next holder by its remainder.
        logger.warn(
          { campaignId, token, err: (err as Error).message },
          'could not release the campaign lock',
        );
      }
    },
  };
}

/**
 * Runs `fn` holding the campaign's lock, or does not run it (null) while someone else holds it. For a
 * look that finds CXone at a newer version than the record and would announce it as changed outside
 * the orchestrator (a poll, an API read refreshing its view): a command holds the lock from its first
 * CXone read to its last record write, so a newer version found while it works may be its own write,
 * not yet synced. Under the lock the record can be compared and synced with no command's write in
 * between; without it the look leaves the version to the command, which records its own write and
 * tells any other change it meets (hooks.ts). `fn` should be a few Redis round trips: a command that
 * meets the lock waits its usual short delay.
 */
export async function ifCampaignUnlocked<T>(
  opts: CampaignLockOptions,
  campaignId: string,
  fn: () => Promise<T>,
): Promise<{ value: T } | null> {
  const lease = await tryAcquireCampaignLock(opts, campaignId);
  if (lease === null) return null;
  try {
    return { value: await fn() };
  } finally {
    await lease.release();
  }
}
