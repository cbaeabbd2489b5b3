import { isIPv6 } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../shared/context.js';
import { createLogThrottle } from '../shared/log-throttle.js';
import { authThrottled } from '../shared/metrics.js';
import { evalScript } from '../shared/redis-script.js';
import { withTimeout } from '../shared/with-timeout.js';
import type { ErrorBody } from './errors.js';
import { RETRY_AFTER } from './headers.js';
import { sendsAtOnce } from './request-guard.js';

/** Failed authentications one client address may make per window before it is answered 429. */
export const AUTH_FAILURE_LIMIT = 20;
/** The window those failures are counted in: fixed, starting at the address's first failure. */
export const AUTH_FAILURE_WINDOW_MS = 60_000;
/**
 * How long a failed request waits on Redis for its count before it is answered 401 uncounted. A
 * refusal is normally answered in a millisecond; a stalled Redis must not hold it for the request
 * deadline, nor keep the socket of a client that may be sending thousands.
 */
const REDIS_WAIT_MS = 500;
/**
 * Counts a process has waiting on Redis at once; a refusal past it goes uncounted (401). A burst of
 * wrong tokens while Redis stalls would otherwise pile commands on the shared connection, all sent at
 * once, ahead of the fleet's own work, when it answers again.
 */
const MAX_IN_FLIGHT = 64;
/** Addresses this process remembers as throttled; past it, expired entries go, then all of them. */
const MAX_REMEMBERED = 10_000;

/**
 * Counts one failure and answers the count and the milliseconds left of its window. The expiry is set
 * whenever the key has none (its first failure, or a key left without one by hand), never pushed back:
 * a client that keeps failing is let go when its window ends, and its count starts again.
 */
const COUNT_FAILURE_LUA = `
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
`;

export interface AuthThrottleOptions {
  /** Failures per window before 429 (default AUTH_FAILURE_LIMIT). */
  limit?: number;
  /** The window in ms (default AUTH_FAILURE_WINDOW_MS). */
  windowMs?: number;
  /**
   * The fleet claim's message while another fleet is on KEY_PREFIX (fleet-guard.ts): nothing is
   * counted then, as the API writes nothing to a prefix another fleet holds; refusals are 401.
   */
  fleetContested?: () => string | undefined;
}

export interface AuthThrottle {
  readonly limit: number;
  readonly windowMs: number;
  /**
   * Records a failed authentication from `ip` (Fastify's request.ip); answers the seconds to wait when
   * the address is past its limit, undefined when the refusal is the usual 401. Never rejects: with
   * Redis away it answers undefined (the throttle fails open; authentication itself still holds).
   */
  failed(ip: string | undefined): Promise<number | undefined>;
}

/**
 * The bucket a client address is counted in. An IPv4 address (also as Node reports one on a dual-stack
 * socket, `::ffff:192.0.2.1`) is its own; an IPv6 address counts with its /64, which a single host or
 * home link is given whole — per address, a client could move to a fresh bucket for every attempt.
 */
export function clientBucket(ip: string | undefined): string {
  if (!ip) return 'unknown';
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (!isIPv6(ip.split('%')[0]!)) return ip;
  return `${ipv6Prefix64(ip)}::/64`;
}

/** The first four groups of an IPv6 address, each without leading zeros. */
function ipv6Prefix64(ip: string): string {
  const address = ip.split('%')[0]!.toLowerCase();
  // An embedded IPv4 tail (`::ffff:1.2.3.4`, `64:ff9b::1.2.3.4`) fills the last two groups.
  const groups = (part: string) =>
    part === '' ? [] : part.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g]));
  const gap = address.indexOf('::');
  let all: string[];
  if (gap < 0) {
    all = groups(address);
  } else {
    const head = groups(address.slice(0, gap));
    const tail = groups(address.slice(gap + 2));
    all = [...head, ...Array<string>(Math.max(0, 8 - head.length - tail.length)).fill('0'), ...tail];
  }
  return all
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':');
}

/**
 * The failed-authentication throttle: counts, per client address and fleet-wide in Redis, the requests
 * refused for a missing or wrong credential, and turns the refusals past the limit into 429s. Only a
 * refusal pays for it — one Redis round trip, none while this process already knows the address is
 * past its limit — and an accepted request pays nothing, whatever its address's count.
 */
export function createAuthThrottle(
  ctx: Pick<AppContext, 'redis' | 'keys' | 'logger'>,
  opts: AuthThrottleOptions = {},
): AuthThrottle {
  const limit = opts.limit ?? AUTH_FAILURE_LIMIT;
  const windowMs = opts.windowMs ?? AUTH_FAILURE_WINDOW_MS;
  const logger = ctx.logger.child({ component: 'auth-throttle' });
  // Until when each address is known to be past its limit: its refusals are answered from here, so a
  // flood of wrong tokens costs Redis one command per process and window, not one per request.
  const throttledUntil = new Map<string, number>();
  const logOutage = createLogThrottle(60_000);
  const logThrottled = createLogThrottle(windowMs);
  let inFlight = 0;

  const remember = (bucket: string, until: number, now: number) => {
    if (throttledUntil.size >= MAX_REMEMBERED) {
      for (const [key, at] of throttledUntil) if (at <= now) throttledUntil.delete(key);
      if (throttledUntil.size >= MAX_REMEMBERED) throttledUntil.clear();
    }
    throttledUntil.set(bucket, until);
  };

  const uncounted = (reason: string): undefined => {
    logOutage(reason, (suppressed) =>
      logger.warn(
        { err: reason, suppressed },
        'failed authentications are not being counted: refusals are answered 401, none 429, until Redis ' +
          'answers again; the token is still checked on every request',
      ),
    );
    return undefined;
  };

  const count = async (bucket: string): Promise<{ failures: number; ttlMs: number } | undefined> => {
    if (opts.fleetContested?.() !== undefined) return undefined;
    if (!sendsAtOnce(ctx.redis)) return uncounted(`Redis is not connected (${ctx.redis.status})`);
    if (inFlight >= MAX_IN_FLIGHT) return uncounted(`${MAX_IN_FLIGHT} counts are already waiting on Redis`);
    const sent = evalScript(
      ctx.redis,
      COUNT_FAILURE_LUA,
      1,
      ctx.keys.custom('auth-failures', bucket),
      windowMs,
    );
    // Held until Redis answers, not until this request gives up on it: the command stays queued.
    inFlight += 1;
    sent.then(
      () => (inFlight -= 1),
      () => (inFlight -= 1),
    );
    try {
      const [failures, ttlMs] = (await withTimeout(
        sent,
        REDIS_WAIT_MS,
        'Redis (failed-authentication count)',
      )) as [number, number];
      return { failures, ttlMs };
    } catch (err) {
      return uncounted(err instanceof Error ? err.message : String(err));
    }
  };

  return {
    limit,
    windowMs,
    async failed(ip) {
      const bucket = clientBucket(ip);
      const known = throttledUntil.get(bucket);
      const now = Date.now();
      if (known !== undefined && known > now) return Math.max(1, Math.ceil((known - now) / 1000));
      if (known !== undefined) throttledUntil.delete(bucket);
      const counted = await count(bucket);
      if (counted === undefined || counted.failures <= limit) return undefined;
      const at = Date.now();
      remember(bucket, at + counted.ttlMs, at);
      logThrottled(bucket, (suppressed) =>
        logger.warn(
          { address: bucket, failures: counted.failures, windowMs, suppressed },
          `more than ${limit} failed authentications from ${bucket} within ${windowMs / 1000} s: its ` +
            'refusals are answered 429 until the window ends (a request with the API token is still accepted)',
        ),
      );
      return Math.max(1, Math.ceil(counted.ttlMs / 1000));
    },
  };
}

/**
 * Answers a request that failed authentication: its challenge (the 401 the caller passes) while the
 * address is within its limit, else 429 `too_many_failed_auth` with Retry-After.
 */
export async function refuseAuthentication(
  throttle: AuthThrottle,
  request: FastifyRequest,
  reply: FastifyReply,
  challenge: () => FastifyReply,
): Promise<FastifyReply> {
  const retryAfterS = await throttle.failed(request.ip);
  if (retryAfterS === undefined) return challenge();
  authThrottled.inc();
  return reply
    .code(429)
    .header(RETRY_AFTER, String(retryAfterS))
    .send({
      error: 'too_many_failed_auth',
      message:
        `more than ${throttle.limit} requests from this address failed authentication within ` +
        `${throttle.windowMs / 1000} s; retry in ${retryAfterS} s. A request with the correct API token ` +
        'is accepted meanwhile',
      retryAfterSeconds: retryAfterS,
    } satisfies ErrorBody);
}
