import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { releaseIfHolder, renewIfHolder, renewOrRetake } from '../held-key.js';

/**
 * A short Redis lease (SET NX PX with a random token): whoever holds it may act; it expires by
 * itself if the holder dies, and only the holder can release it.
 */
export interface Lease {
  release(): Promise<void>;
  /** Extends the lease by its ttl from now; false when it expired (whether or not another took it since). */
  renew(): Promise<boolean>;
  /** As renew, but a lease that expired with nobody taking it since is taken again (`retaken`). */
  renewOrRetake(): Promise<'renewed' | 'retaken' | 'lost'>;
}

/** Takes the lease if it is free; null when someone else holds it. */
export async function tryLease(redis: Redis, key: string, ttlMs: number): Promise<Lease | null> {
  const token = randomUUID();
  if ((await redis.set(key, token, 'PX', ttlMs, 'NX')) !== 'OK') return null;
  return {
    release: async () => {
      // Best effort: a lease that cannot be released expires after ttlMs anyway.
      await releaseIfHolder(redis, key, token).catch(() => undefined);
    },
    renew: () => renewIfHolder(redis, key, token, ttlMs),
    renewOrRetake: () => renewOrRetake(redis, key, token, ttlMs),
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
