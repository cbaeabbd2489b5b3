import type { Redis } from 'ioredis';
import { keysStartingWith } from '../../src/shared/private-prefix.js';

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
  const keys = await keysStartingWith(redis, prefix);
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
