import type { Redis } from 'ioredis';
import { REDIS_NOW_LUA } from '../redis-script.js';

// Lua scripts for the parts of the limiter Bottleneck does not cover. They read Redis' own clock
// (REDIS_NOW_LUA) so that processes on different hosts agree on "now".

/**
 * Takes up to ARGV[5] calls (a lease's slots; 1 at ordinary rates) from the endpoint's hard window,
 * unless the endpoint is penalized; a nearly full window yields fewer. A control call that got its
 * permit also leaves the registry of waiting control calls here (same round trip). While an
 * operator's call waits anywhere in the fleet (OPERATOR_TAKE), the slot is yielded to it: nothing
 * is taken (a control call stays marked as waiting), and the caller asks for a new permit.
 * KEYS: log (zset of call times), penalty (string with PX), control (zset of waiting control calls),
 * operator (zset of waiting operators' calls, score = expiry).
 * ARGV: spanMs, limit, member, control member to remove ('' = none), slots wanted.
 * Returns {taken, left, 0} when taken; {0, waitMs, 1} while penalized; {0, waitMs, 2} when the window
 * is full; {0, 0, 3} when the slot was yielded to a waiting operator call.
 */
const TAKE = `${REDIS_NOW_LUA}
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
if redis.call('ZCARD', KEYS[4]) > 0 then return {0, 0, 3} end
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

/**
 * An operator's call (a bounded control call: someone waits for the HTTP answer) takes a slot of the
 * hard window without a Bottleneck permit, ahead of every job of the fleet: while it is registered
 * here, TAKE yields every other caller's slot. Waiters are served earliest deadline first, each
 * `minTime` after the latest start in the log (no burst), and only within the operators' share: at
 * most ARGV[7] such calls in any span (their own log), so jobs (pacing, compliance pauses, launches)
 * always keep the rest of the budget. Past the share the caller is told so ({0, 0, 4}, unregistered)
 * and queues for a permit as any control call.
 * KEYS: log, penalty, operator (waiters, score = expiry), operator log (their call times).
 * ARGV: spanMs, limit, member, ttlMs, minTimeMs, log member, share.
 * Returns {1, left, 0} when taken; {0, waitMs, 1} while penalized; {0, waitMs, 2} to wait (window
 * full, or its turn not due yet); {0, 0, 4} when the operators' share of the span is used up.
 * Behind `rank` others the turn is at least `rank` spacings away even when theirs are overdue (one
 * of a crashed process lapses only at its expiry): the caller sleeps, rather than asking every 1 ms.
 */
const OPERATOR_TAKE = `${REDIS_NOW_LUA}
local span = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local member = ARGV[3]
local ttl = tonumber(ARGV[4])
local minTime = tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - span)
if redis.call('ZCARD', KEYS[4]) >= tonumber(ARGV[7]) then
  redis.call('ZREM', KEYS[3], member)
  return {0, 0, 4}
end
if not redis.call('ZSCORE', KEYS[3], member) then redis.call('ZADD', KEYS[3], now + ttl, member) end
if redis.call('PTTL', KEYS[3]) < ttl * 2 then redis.call('PEXPIRE', KEYS[3], ttl * 2) end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local pttl = redis.call('PTTL', KEYS[2])
if pttl > 0 then return {0, pttl, 1} end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - span)
local rank = redis.call('ZRANK', KEYS[3], member) or 0
local used = redis.call('ZCARD', KEYS[1])
local wait = 0
if used + rank >= limit then
  local e = redis.call('ZRANGE', KEYS[1], used + rank - limit, used + rank - limit, 'WITHSCORES')
  if e[2] then wait = tonumber(e[2]) + span - now + 1 else wait = minTime end
end
local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if newest[2] then
  wait = math.max(wait, tonumber(newest[2]) + minTime * (rank + 1) - now)
end
if rank > 0 then
  wait = math.max(wait, minTime * rank)
end
if wait > 0 or rank > 0 then return {0, math.max(1, wait), 2} end
redis.call('ZADD', KEYS[1], now, ARGV[6])
redis.call('PEXPIRE', KEYS[1], span * 2)
redis.call('ZADD', KEYS[4], now, ARGV[6])
redis.call('PEXPIRE', KEYS[4], span * 2)
redis.call('ZREM', KEYS[3], member)
return {1, limit - used - 1, 0}`;

/** Extends the penalty to at least ARGV[1] ms from now (a shorter later 429 never shortens it). */
const PENALIZE = `local ms = tonumber(ARGV[1])
local pttl = redis.call('PTTL', KEYS[1])
if pttl < ms then redis.call('SET', KEYS[1], '1', 'PX', ms) end
return math.max(pttl, ms)`;

/** Marks a control call as waiting until ARGV[2] ms from now. KEYS: control zset. ARGV: member, ttlMs. */
const CONTROL_ADD = `${REDIS_NOW_LUA}
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl * 2)
return 1`;

/**
 * A control call arrives: marks it as waiting (as CONTROL_ADD) and answers the endpoint's penalty
 * (PTTL), in one round trip. KEYS: control zset, penalty. ARGV: member, ttlMs.
 */
const CONTROL_ENTER = `${REDIS_NOW_LUA}
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl * 2)
return redis.call('PTTL', KEYS[2])`;

/** Counts live waiting control calls whose member does not start with ARGV[1] (this process). */
const CONTROL_OTHERS = `${REDIS_NOW_LUA}
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
    operator: string,
    spanMs: number,
    limit: number,
    member: string,
    unmarkControl: string,
    slots: number,
  ): Promise<[number, number, number]>;
  cxoOperatorTake(
    log: string,
    penalty: string,
    operator: string,
    operatorLog: string,
    spanMs: number,
    limit: number,
    member: string,
    ttlMs: number,
    minTimeMs: number,
    logMember: string,
    share: number,
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
  redis.defineCommand('cxoTake', { numberOfKeys: 4, lua: TAKE });
  redis.defineCommand('cxoOperatorTake', { numberOfKeys: 4, lua: OPERATOR_TAKE });
  redis.defineCommand('cxoControlEnter', { numberOfKeys: 2, lua: CONTROL_ENTER });
  redis.defineCommand('cxoPenalize', { numberOfKeys: 1, lua: PENALIZE });
  redis.defineCommand('cxoControlAdd', { numberOfKeys: 1, lua: CONTROL_ADD });
  redis.defineCommand('cxoControlOthers', { numberOfKeys: 1, lua: CONTROL_OTHERS });
  return redis as ScriptedRedis;
}
