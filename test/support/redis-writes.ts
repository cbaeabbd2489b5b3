import type { Redis } from 'ioredis';

/** The keys under a prefix, each with its TTL in ms (negative: none), as `keysWritten` compares them. */
export type KeySnapshot = { prefix: string; ignore?: RegExp; ttls: Map<string, number> };

/** Every key under `prefix` but those `ignore` matches, with its TTL. */
export async function snapshotKeys(redis: Redis, prefix: string, ignore?: RegExp): Promise<KeySnapshot> {
  const found = (await redis.keys(`${prefix}*`)).filter((k) => !ignore?.test(k));
  const ttls = await Promise.all(found.map((k) => redis.pttl(k)));
  return { prefix, ignore, ttls: new Map(found.map((k, i) => [k, ttls[i]!])) };
}

/**
 * What was written under the snapshot's prefix since it was taken: keys added, and keys gone that
 * had no TTL to explain it. A key with a TTL may expire in between (BullMQ's rate-limit counter,
 * `<queue>:limiter`, does) and is no write; a test saying "nothing was written" fails on it otherwise.
 */
export async function keysWritten(redis: Redis, before: KeySnapshot): Promise<string[]> {
  const after = await snapshotKeys(redis, before.prefix, before.ignore);
  const added = [...after.ttls.keys()].filter((k) => !before.ttls.has(k)).map((k) => `added ${k}`);
  const removed = [...before.ttls]
    .filter(([k, ttl]) => !after.ttls.has(k) && ttl < 0)
    .map(([k]) => `removed ${k}`);
  return [...added, ...removed].sort();
}
