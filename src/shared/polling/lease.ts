import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * A short Redis lease (SET NX PX with a random token): whoever holds it may act; it expires by
 * itself if the holder dies, and only the holder can release it.
 */
export interface Lease {
  release(): Promise<void>;
  /** Extends the lease by its ttl from now; false when it was lost (expired and taken by another). */
  renew(): Promise<boolean>;
}

const RENEW_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;

const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** Takes the lease if it is free; null when someone else holds it. */
export async function tryLease(redis: Redis, key: string, ttlMs: number): Promise<Lease | null> {
  const token = randomUUID();
  if ((await redis.set(key, token, 'PX', ttlMs, 'NX')) !== 'OK') return null;
  return {
    release: async () => {
      // Best effort: a lease that cannot be released expires after ttlMs anyway.
      await redis.eval(RELEASE_SCRIPT, 1, key, token).catch(() => undefined);
    },
    renew: async () => (await redis.eval(RENEW_SCRIPT, 1, key, token, String(ttlMs))) === 1,
  };
}

/** Waits up to waitMs for the lease; null if it stayed busy. */
export async function waitForLease(
  redis: Redis,
  key: string,
  ttlMs: number,
  waitMs: number,
): Promise<Lease | null> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const lease = await tryLease(redis, key, ttlMs);
    if (lease !== null || Date.now() >= deadline) return lease;
    await new Promise((resolve) => setTimeout(resolve, 25 + Math.random() * 50));
  }
}
