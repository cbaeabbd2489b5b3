import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

const shas = new Map<string, string>();

function sha1(lua: string): string {
  let sha = shas.get(lua);
  if (sha === undefined) {
    sha = createHash('sha1').update(lua).digest('hex');
    shas.set(lua, sha);
  }
  return sha;
}

/**
 * Runs a Lua script by its SHA-1 (EVALSHA), sending the whole text (EVAL, which also caches it on the
 * server) only when Redis does not know it yet: after a restart, a SCRIPT FLUSH, or on first use. The
 * drop-in for `redis.eval(lua, numKeys, ...args)` on hot paths, where the script text would otherwise
 * be written to the socket and hashed by Redis on every call.
 *
 * The convention: scripts on a shared connection (the context's, which every store uses) go through
 * here, so no module registers commands on a connection it does not own. The fleet limiter, which
 * owns its connection, registers its scripts there with `defineCommand` for typed methods.
 */
export async function evalScript(
  redis: Redis,
  lua: string,
  numKeys: number,
  ...args: Array<string | number | Buffer>
): Promise<unknown> {
  try {
    return await redis.evalsha(sha1(lua), numKeys, ...args);
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
    return redis.eval(lua, numKeys, ...args);
  }
}

/**
 * Lua lines that set `now` to Redis's own clock in ms (TIME): the processes of a fleet run on hosts
 * whose clocks differ, so a script that stores or compares times takes Redis's. Put at the top of a
 * script (or where its `now` is first needed).
 */
export const REDIS_NOW_LUA = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * Key type checks for scripts that must fail, if they fail, before their first write (Redis does not
 * roll a script back), in Lua: `wrong_type(key, type, ...)` answers the first key holding another
 * type than the one written there (and both types), nil when none does; `require_types(...)` raises
 * the error naming it. A key that does not exist is of every type. Fragments that check types
 * (events/event-script.ts, audit/audit-script.ts) start with it, so a script that joins several
 * defines it more than once, which Lua allows.
 */
export const TYPE_CHECK_LUA = `
local function wrong_type(...)
  local n = select('#', ...)
  for i = 1, n, 2 do
    local key, want = select(i, ...)
    local got = redis.call('TYPE', key)['ok']
    if got ~= 'none' and got ~= want then return key, got, want end
  end
  return nil
end
local function require_types(...)
  local key, got, want = wrong_type(...)
  if key then
    error({ err = 'WRONGTYPE ' .. key .. ' holds a ' .. got .. ' where a ' .. want .. ' is written; nothing was written' })
  end
end
`;
