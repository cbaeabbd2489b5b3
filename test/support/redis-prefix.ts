import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';

/** The Redis every test uses: REDIS_URL, or the local one. */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A private, hash-tagged key prefix for one test: `{cxo-test-<tag>-<random>}`. */
export function testPrefix(tag?: string): string {
  return `{cxo-test-${tag ? `${tag}-` : ''}${randomUUID().slice(0, 8)}}`;
}

/**
 * Refuses anything but a test prefix. Deleting by pattern under an empty or foreign prefix would
 * delete the keys of every test running alongside (an empty one matches every key in the database).
 */
export function assertTestPrefix(prefix: string): void {
  if (!/^\{cxo-[^{}]+\}$/.test(prefix)) {
    throw new Error(`refusing to delete keys under "${prefix}": not a test prefix like {cxo-test-…}`);
  }
}

/**
 * Deletes every key under a test prefix, Bottleneck's `b_{…}` keys included (SCAN; never FLUSHDB or
 * FLUSHALL: the database is shared with every other test file and with the developer's own data).
 */
export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  assertTestPrefix(prefix);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `*${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

/** deletePrefix over a connection of its own, for a harness that keeps none open to the end. */
export async function deletePrefixAt(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    await deletePrefix(redis, prefix);
  } finally {
    redis.disconnect();
  }
}
