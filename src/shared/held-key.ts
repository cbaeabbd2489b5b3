import type { Redis } from 'ioredis';
import { evalScript } from './redis-script.js';

/*
 * A key held by whoever wrote `value` into it (a polling lease, a campaign lock): only the holder may
 * extend or delete it, checked and done in one script so a holder whose key expired and was taken by
 * someone else cannot touch the new holder's.
 */

const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`;

const RENEW_OR_RETAKE = `
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not held then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 2
end
return 0
`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;

/** Extends the key to ttlMs from now if `value` still holds it; false when it was lost. */
export async function renewIfHolder(
  redis: Redis,
  key: string,
  value: string,
  ttlMs: number,
): Promise<boolean> {
  return Number(await evalScript(redis, RENEW, 1, key, value, String(ttlMs))) === 1;
}

/**
 * Extends the key to ttlMs from now if `value` still holds it (`renewed`), takes it again if it
 * expired and nobody took it since (`retaken`: whatever it guarded may have changed meanwhile, so
 * re-read it), else `lost`.
 */
export async function renewOrRetake(
  redis: Redis,
  key: string,
  value: string,
  ttlMs: number,
): Promise<'renewed' | 'retaken' | 'lost'> {
  const r = Number(await evalScript(redis, RENEW_OR_RETAKE, 1, key, value, String(ttlMs)));
  return r === 1 ? 'renewed' : r === 2 ? 'retaken' : 'lost';
}

/** Deletes the key if `value` still holds it. */
export async function releaseIfHolder(redis: Redis, key: string, value: string): Promise<void> {
  await evalScript(redis, RELEASE, 1, key, value);
}
