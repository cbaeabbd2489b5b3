import type { Redis } from 'ioredis';
import { createRedis } from './redis.js';

/**
 * A private key prefix (`{cxo-<name>}`): one that a demo, benchmark or test run makes up for itself,
 * so that everything it wrote can be deleted by prefix without touching anyone else's keys.
 */
const PRIVATE_PREFIX = /^\{cxo-[^{}]+\}$/;

/** Refuses an empty, shared or malformed prefix: deleting by pattern under it would reach other users' keys. */
export function assertPrivatePrefix(prefix: string): void {
  if (!PRIVATE_PREFIX.test(prefix)) {
    throw new Error(`refusing to delete keys under "${prefix}": not a private prefix like {cxo-demo-…}`);
  }
}

/** Every key whose name starts with `start`, by SCAN (never KEYS: the Redis may be shared). */
export async function keysStartingWith(redis: Redis, start: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${start}*`, 'COUNT', 2000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found;
}

/**
 * Deletes every key of a private prefix: those under it and the fleet limiter's Bottleneck keys,
 * which Bottleneck names `b_<id>` (the limiter's id starts with the prefix). Returns how many.
 */
export async function deletePrivatePrefix(redis: Redis, prefix: string): Promise<number> {
  assertPrivatePrefix(prefix);
  const keys = [
    ...(await keysStartingWith(redis, prefix)),
    ...(await keysStartingWith(redis, `b_${prefix}`)),
  ];
  for (let i = 0; i < keys.length; i += 500) await redis.unlink(...keys.slice(i, i + 500));
  return keys.length;
}

/** deletePrivatePrefix over a connection of its own, for a caller that has closed (or never had) one. */
export async function deletePrivatePrefixAt(redisUrl: string, prefix: string): Promise<number> {
  const redis = createRedis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    return await deletePrivatePrefix(redis, prefix);
  } finally {
    redis.disconnect();
  }
}
