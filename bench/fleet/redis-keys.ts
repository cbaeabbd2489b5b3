import type { Redis } from 'ioredis';

/** Every key under a prefix, by SCAN (never KEYS: the Redis may be shared). */
export async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 2000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found;
}

/**
 * Deletes every key of a benchmark run: those under its prefix and Bottleneck's `b_{…}` ones. Refuses
 * anything but a `{cxo-…}` prefix, since an empty one would match every key of a shared Redis.
 */
export async function deleteKeys(redis: Redis, prefix: string): Promise<number> {
  if (!/^\{cxo-[^{}]+\}$/.test(prefix)) throw new Error(`refusing to delete keys under "${prefix}"`);
  const keys = [...(await keysUnder(redis, prefix)), ...(await keysUnder(redis, `b_${prefix}`))];
  for (let i = 0; i < keys.length; i += 500) await redis.unlink(...keys.slice(i, i + 500));
  return keys.length;
}

/**
 * Bytes Redis holds for every key under a prefix: the sum of MEMORY USAGE (value, key name and
 * per-key overhead; SAMPLES 0 measures whole collections). Isolated from whatever else the same
 * Redis holds, unlike an INFO memory delta on a shared server.
 */
export interface KeyUsage {
  keys: number;
  bytes: number;
  /** Bytes by key shape (ids replaced by `*`), largest first. */
  byShape: { shape: string; keys: number; bytes: number }[];
}

/** `{p}:campaign:3f2c…` → `{p}:campaign:*`; numeric ids (job ids, timestamps) likewise. */
export function keyShape(key: string): string {
  return key
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '*')
    .replace(/(^|[:-])\d+(?=$|[:-])/g, '$1#');
}

export async function bytesUnder(redis: Redis, prefix: string): Promise<KeyUsage> {
  const keys = await keysUnder(redis, prefix);
  let bytes = 0;
  const shapes = new Map<string, { keys: number; bytes: number }>();
  for (let i = 0; i < keys.length; i += 500) {
    const batch = keys.slice(i, i + 500);
    const pipeline = redis.pipeline();
    for (const key of batch) pipeline.call('MEMORY', 'USAGE', key, 'SAMPLES', '0');
    const results = (await pipeline.exec()) ?? [];
    results.forEach(([err, value], j) => {
      if (err || typeof value !== 'number') return;
      bytes += value;
      const shape = keyShape((batch[j] as string).slice(prefix.length));
      const entry = shapes.get(shape) ?? { keys: 0, bytes: 0 };
      entry.keys += 1;
      entry.bytes += value;
      shapes.set(shape, entry);
    });
  }
  const byShape = [...shapes].map(([shape, v]) => ({ shape, ...v })).sort((a, b) => b.bytes - a.bytes);
  return { keys: keys.length, bytes, byShape };
}
