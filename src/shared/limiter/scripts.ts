import type { Redis } from 'ioredis';

/**
 * Lua scripts for the parts of the limiter Bottleneck does not cover. They read Redis' own clock
 * (TIME) so that processes on different hosts agree on "now".
 */
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * Takes up to ARGV[5] calls (a lease's slots; 1 at ordinary rates) from the endpoint's hard window,
 * unless the endpoint is penalized; a nearly full window yields fewer. A control call that got its
 * permit also leaves the registry of waiting control calls here (same round trip).
 * KEYS: log (zset of call times), penalty (string with PX), control (zset of waiting control calls).
 * ARGV: spanMs, limit, member, control member to remove ('' = none), slots wanted.
 * Returns {taken, left, 0} when taken; {0, waitMs, 1} while penalized; {0, waitMs, 2} when the window is full.
 */
const TAKE = `${NOW}
if ARGV[4] ~= '' then redis.call('ZREM', KEYS[3], ARGV[4]) end
local pttl = redis.call('PTTL', KEYS[2])
if pttl > 0 then return {0, pttl, 1} end
local span = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - span)
local used = redis.call('ZCARD', KEYS[1])
if used >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, math.max(1, tonumber(oldest[2]) + span - now + 1), 2}
end
local n = math.min(tonumber(ARGV[5]), limit - used)
for i = 1, n do redis.call('ZADD', KEYS[1], now, ARGV[3] .. ':' .. i) end
redis.call('PEXPIRE', KEYS[1], span * 2)
return {n, limit - used - n, 0}`;

/** Extends the penalty to at least ARGV[1] ms from now (a shorter later 429 never shortens it). */
const PENALIZE = `local ms = tonumber(ARGV[1])
local pttl = redis.call('PTTL', KEYS[1])
if pttl < ms then redis.call('SET', KEYS[1], '1', 'PX', ms) end
return math.max(pttl, ms)`;

/** Marks a control call as waiting until ARGV[2] ms from now. KEYS: control zset. ARGV: member, ttlMs. */
const CONTROL_ADD = `${NOW}
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl * 2)
return 1`;

/**
 * A control call arrives: marks it as waiting (as CONTROL_ADD) and answers the endpoint's penalty
 * (PTTL), in one round trip. KEYS: control zset, penalty. ARGV: member, ttlMs.
 */
const CONTROL_ENTER = `${NOW}
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl * 2)
return redis.call('PTTL', KEYS[2])`;

/** Counts live waiting control calls whose member does not start with ARGV[1] (this process). */
const CONTROL_OTHERS = `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local mine = ARGV[1]
local n = 0
for _, m in ipairs(members) do
  if string.sub(m, 1, #mine) ~= mine then n = n + 1 end
end
return n`;

export interface LimiterScripts {
  cxoTake(
    log: string,
    penalty: string,
    control: string,
    spanMs: number,
    limit: number,
    member: string,
    unmarkControl: string,
    slots: number,
  ): Promise<[number, number, number]>;
  /** Marks a waiting control call and returns the penalty's PTTL (≤ 0 when not penalized). */
  cxoControlEnter(control: string, penalty: string, member: string, ttlMs: number): Promise<number>;
  cxoPenalize(penalty: string, ms: number): Promise<number>;
  cxoControlAdd(key: string, member: string, ttlMs: number): Promise<number>;
  cxoControlOthers(key: string, ownPrefix: string): Promise<number>;
}

export type ScriptedRedis = Redis & LimiterScripts;

/** Registers the scripts on a connection (ioredis falls back from EVALSHA to EVAL after a Redis restart). */
export function withLimiterScripts(redis: Redis): ScriptedRedis {
  redis.defineCommand('cxoTake', { numberOfKeys: 3, lua: TAKE });
  redis.defineCommand('cxoControlEnter', { numberOfKeys: 2, lua: CONTROL_ENTER });
  redis.defineCommand('cxoPenalize', { numberOfKeys: 1, lua: PENALIZE });
  redis.defineCommand('cxoControlAdd', { numberOfKeys: 1, lua: CONTROL_ADD });
  redis.defineCommand('cxoControlOthers', { numberOfKeys: 1, lua: CONTROL_OTHERS });
  return redis as ScriptedRedis;
}
