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
