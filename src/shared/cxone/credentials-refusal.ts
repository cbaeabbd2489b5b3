import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Keys } from '../keys.js';
import type { Logger } from '../logger.js';
import { MAX_PENALTY_MS } from '../limiter/types.js';
import { createLogThrottle } from '../log-throttle.js';
import { evalScript, REDIS_NOW_LUA } from '../redis-script.js';
import { withTimeout } from '../with-timeout.js';

/**
 * CXone's refusal of the fleet's OAuth client credentials, shared by every process under one
 * KEY_PREFIX (docs/limiter.md, Tokens). Each process backing off on its own still made about 3
 * failed logins a minute, so a fleet of 4 made enough for an IdP to lock the client; through this
 * record one refusal holds every process, and after the wait one process in the fleet asks.
 *
 * One Redis hash, `{prefix}:cxone:credentials`:
 * - `state` `refused` with `inARow`, `retryAt` (Redis clock, ms), `status`, `message` (the plain
 *   message callers get: no secret), kept for the wait plus CREDENTIALS_REFUSED_MAX_WAIT_MS so that
 *   the next refusal doubles the wait;
 * - `state` `ok` for OK_TTL_MS after a token was issued to any process: the processes that waited
 *   for the claimant whose token it was go ahead together, without a claim each (a healthy fleet's
 *   cold start is one token request, then all the others at once) — but not while `recoverUntil`
 *   runs (RECOVERY_MS after a token ended refusals): then each takes the claim;
 * - `claim`/`claimUntil`: the one process that may ask now, taken by any other token request (a
 *   token issued a minute ago says nothing of the secret now). The others wait for its answer (a
 *   few 100 ms polls, bounded), so a fleet started with a wrong secret, or whose secret CXone
 *   rotated, makes one failed login, not one per process.
 * - `throttledUntil` (Redis clock, ms) and `throttledSaid` (what CXone said: its OAuth error and
 *   description, no secret): a 429 from the token endpoint (an IdP's lockout after failed logins, or
 *   its rate limit), beside whatever else the record holds. Until then no process asks, and each
 *   tells its callers at once, where each used to queue a token request behind the 429's penalty in
 *   the limiter and its callers waited with it. A refusal before the 429 is kept, with time enough
 *   after the 429 that the next refusal still doubles the wait; a token issued clears the refusal,
 *   and the 429 only once it has passed (the token's request was on its way before it: CXone's
 *   Retry-After still runs, and so does the limiter's penalty, which a token request would wait out).
 *
 * Redis trouble never stops a token request: every call here is bounded and fails open (the token
 * request is then made as if there were no record, and the process falls back to its own back-off).
 */
export interface SharedCredentialsRefusal {
  /** Whether this process may make a token request now. Never rejects. */
  gate(): Promise<GateAnswer>;
  /** CXone refused the credentials: record it fleet-wide. The fleet's count and wait, or undefined (Redis trouble). */
  refused(refusal: {
    status: number;
    message: string;
    /** The first wait after a refusal, doubled per refusal in a row up to maxWaitMs. */
    baseWaitMs: number;
    maxWaitMs: number;
  }): Promise<{ inARow: number; waitMs: number } | undefined>;
  /** CXone issued a token: clear the refusal. The refusals in a row it ended (0 when none). */
  accepted(): Promise<number>;
  /**
   * CXone answered the token request 429: record it fleet-wide for `waitMs` (a shorter one never
   * shortens a longer one) and give the claim up. The 429 the record holds now (this one, or a longer
   * one already there: its time left and what CXone said), and whether CXone refused the credentials
   * before it — as every other process is told it; undefined when it could not be written (Redis trouble).
   */
  throttled(throttle: {
    waitMs: number;
    /** What CXone said (its OAuth error and description), as callers are told it: no secret. */
    said: string;
    /** How long a refusal before the 429 is kept past it (so the next refusal still doubles the wait). */
    keepRefusalMs: number;
  }): Promise<{ leftMs: number; said: string; afterRefusal: boolean } | undefined>;
  /** The token request ended otherwise (5xx, timeout): give the claim up for another process. */
  released(): Promise<void>;
  /**
   * Still asking (the request waits in the limiter: a backlog, a 429 penalty): keep the claim, so
   * that the others go on waiting for its answer instead of queueing requests of their own behind
   * the same penalty, all sent the moment it ends.
   */
  renew(): Promise<void>;
}

export type GateAnswer =
  | { kind: 'go' }
  /**
   * Not known (Redis did not answer in time, or another process's token request outlasted
   * CLAIM_WAIT_MAX_MS): the process goes by its own back-off, and asks when that allows.
   */
  | { kind: 'unknown' }
  /** Refused fleet-wide: no token request for `leftMs`. */
  | { kind: 'held'; leftMs: number; inARow: number; status: number; message: string }
  /**
   * CXone answered a token request 429 (to any process): no token request for `leftMs`.
   * `afterRefusal`: CXone refused the credentials before it (the 429 is likely a lockout).
   */
  | { kind: 'throttled'; leftMs: number; said: string; afterRefusal: boolean };

/** How long a process's claim to be the one asking lasts unless renewed (every CLAIM_MS / 3) — if it died. */
export const CLAIM_MS = 15_000;
/** How long `state ok` lets the processes that waited for the claimant go ahead without a claim. */
export const OK_TTL_MS = 60_000;
/**
 * After a token ends refusals, how long token requests still take the claim one at a time despite
 * `state ok`: a fixed process's token says nothing of the secret of the processes not yet
 * restarted, and letting them all ask at once is the burst of failed logins that locks the client.
 */
export const RECOVERY_MS = 10 * 60_000;
/** How often a process waiting for another's token request looks at the record again (then once a second). */
const CLAIM_POLL_MS = 100;
/**
 * How long it waits at most before asking anyway. The claim is renewed while the other's request
 * waits in the limiter, which a 429 penalty can make as long as MAX_PENALTY_MS; a claimant that
 * died lets its claim lapse within CLAIM_MS.
 */
export const CLAIM_WAIT_MAX_MS = MAX_PENALTY_MS + CLAIM_MS;
/** Bound on each Redis round trip here: past it the record is treated as absent (fail open). */
export const REDIS_BOUND_MS = 1_000;

/**
 * ARGV: claim id, claim ms, waiting since (Redis clock, ms, as the first {2} said; 0 = not waited).
 * Returns {0} = go; {1, leftMs, inARow, status, message} = held; {2, leftMs, now} = another process
 * is asking now; {3, leftMs, said, afterRefusal 0|1} = a 429 holds. The 429 comes first: it is
 * CXone's latest word, and a request made now would only queue behind its penalty in the limiter
 * (the processes that waited for the claimant whose request it answered hear it at once too). `state ok` lets only those that waited skip the claim, and only for a token issued
 * since they began to wait (`okAt`: the answer of the claimant they waited for, not an earlier
 * token's, when that claimant's request failed). A token issued a minute ago says nothing of the
 * secret now: new processes started at once with a wrong one (a bad rotation rolled out), or every
 * process at once after CXone rotated the secret and revoked the tokens, would all ask at once.
 */
const GATE = `${REDIS_NOW_LUA}
local k = KEYS[1]
local state = redis.call('HGET', k, 'state')
local throttledLeft = tonumber(redis.call('HGET', k, 'throttledUntil') or '0') - now
if throttledLeft > 0 then
  return {3, throttledLeft, redis.call('HGET', k, 'throttledSaid') or '', state == 'refused' and 1 or 0}
end
local waitingSince = tonumber(ARGV[3])
if state == 'ok' and waitingSince > 0 and tonumber(redis.call('HGET', k, 'okAt') or '0') >= waitingSince
  and tonumber(redis.call('HGET', k, 'recoverUntil') or '0') <= now then
  return {0}
end
if state == 'refused' then
  local left = tonumber(redis.call('HGET', k, 'retryAt')) - now
  if left > 0 then
    return {1, left, tonumber(redis.call('HGET', k, 'inARow')), tonumber(redis.call('HGET', k, 'status')),
      redis.call('HGET', k, 'message')}
  end
end
local claim = redis.call('HGET', k, 'claim')
local claimUntil = tonumber(redis.call('HGET', k, 'claimUntil') or '0')
if claim and claim ~= ARGV[1] and claimUntil > now then return {2, claimUntil - now, now} end
local claimMs = tonumber(ARGV[2])
redis.call('HSET', k, 'claim', ARGV[1], 'claimUntil', now + claimMs)
if redis.call('PTTL', k) < claimMs then redis.call('PEXPIRE', k, claimMs) end
return {0}`;

/**
 * ARGV: status, message, base wait, max wait. A refusal that comes while a refusal recorded by
 * another process still holds (both asked before either answer was in) is the same refusal: it does
 * not double the wait again. A 429 still running is kept (a request sent before it was recorded),
 * and the refusal with it for max wait past its end, as THROTTLED keeps it. Returns {inARow, waitMs}.
 */
const REFUSED = `${REDIS_NOW_LUA}
local k = KEYS[1]
local inARow = 0
if redis.call('HGET', k, 'state') == 'refused' then
  inARow = tonumber(redis.call('HGET', k, 'inARow'))
  local left = tonumber(redis.call('HGET', k, 'retryAt')) - now
  if left > 0 then return {inARow, left} end
end
inARow = inARow + 1
local maxWait = tonumber(ARGV[4])
local wait = math.min(maxWait, tonumber(ARGV[3]) * 2 ^ (inARow - 1))
local throttledUntil = tonumber(redis.call('HGET', k, 'throttledUntil') or '0')
local throttledSaid = redis.call('HGET', k, 'throttledSaid') or ''
redis.call('DEL', k)
redis.call('HSET', k, 'state', 'refused', 'inARow', inARow, 'retryAt', now + wait, 'status', ARGV[1],
  'message', ARGV[2])
local ttl = wait + maxWait
if throttledUntil > now then
  redis.call('HSET', k, 'throttledUntil', throttledUntil, 'throttledSaid', throttledSaid)
  ttl = math.max(ttl, throttledUntil - now + maxWait)
end
redis.call('PEXPIRE', k, ttl)
return {inARow, wait}`;

/**
 * ARGV: claim id, wait ms, said, keep-refusal ms. Records a 429 (a shorter one never shortens a
 * longer one, as the limiter's penalty) and gives this process's claim up. The record lives at
 * least as long as the 429 — and, when it holds a refusal, keep-refusal ms past it, so that the
 * refusal after a lockout doubles the wait instead of starting over (a lockout can outlast the
 * refusal's own expiry). Returns {leftMs, said, afterRefusal 0|1}: the 429 the record holds, as
 * GATE answers it to the others, so that the process CXone answered holds and says the same.
 */
const THROTTLED = `${REDIS_NOW_LUA}
local k = KEYS[1]
local wait = tonumber(ARGV[2])
if tonumber(redis.call('HGET', k, 'throttledUntil') or '0') < now + wait then
  redis.call('HSET', k, 'throttledUntil', now + wait, 'throttledSaid', ARGV[3])
end
if redis.call('HGET', k, 'claim') == ARGV[1] then
  redis.call('HDEL', k, 'claim', 'claimUntil')
end
local keep = wait
if redis.call('HGET', k, 'state') == 'refused' then keep = wait + tonumber(ARGV[4]) end
if redis.call('PTTL', k) < keep then redis.call('PEXPIRE', k, keep) end
return {tonumber(redis.call('HGET', k, 'throttledUntil')) - now, redis.call('HGET', k, 'throttledSaid'),
  redis.call('HGET', k, 'state') == 'refused' and 1 or 0}`;

/**
 * ARGV: ok ttl, recovery ms. Returns the refusals in a row it ended. A token that ends refusals (or
 * comes within RECOVERY_MS of one that did) sets `recoverUntil`: until then `state ok` does not let
 * token requests skip the claim, since processes still on the wrong secret may be running (a rolling
 * fix), and all of them would ask at once. A 429 still running is kept: this token's request was on
 * its way before it, and CXone's Retry-After (and the limiter's penalty) still runs — cleared, the
 * next process to ask would wait it out in the limiter with its callers instead of being told.
 */
const ACCEPTED = `${REDIS_NOW_LUA}
local k = KEYS[1]
local ended = 0
local recoverUntil = tonumber(redis.call('HGET', k, 'recoverUntil') or '0')
if redis.call('HGET', k, 'state') == 'refused' then
  ended = tonumber(redis.call('HGET', k, 'inARow'))
  recoverUntil = now + tonumber(ARGV[2])
end
local throttledUntil = tonumber(redis.call('HGET', k, 'throttledUntil') or '0')
local throttledSaid = redis.call('HGET', k, 'throttledSaid') or ''
redis.call('DEL', k)
redis.call('HSET', k, 'state', 'ok', 'okAt', now)
local ttl = tonumber(ARGV[1])
if recoverUntil > now then
  redis.call('HSET', k, 'recoverUntil', recoverUntil)
  ttl = math.max(ttl, recoverUntil - now)
end
if throttledUntil > now then
  redis.call('HSET', k, 'throttledUntil', throttledUntil, 'throttledSaid', throttledSaid)
  ttl = math.max(ttl, throttledUntil - now)
end
redis.call('PEXPIRE', k, ttl)
return ended`;

/** ARGV: claim id, claim ms. */
const RENEW = `${REDIS_NOW_LUA}
if redis.call('HGET', KEYS[1], 'claim') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'claimUntil', now + tonumber(ARGV[2]))
  if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2])) end
end
return 0`;

/** ARGV: claim id. */
const RELEASED = `if redis.call('HGET', KEYS[1], 'claim') == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'claim', 'claimUntil')
end
return 0`;

export interface SharedCredentialsRefusalOptions {
  redis: Redis;
  keys: Keys;
  logger: Logger;
}

/** The Redis key of the record, for an operator who must clear it (docs/operations.md). */
export function credentialsRefusalKey(keys: Keys): string {
  return keys.custom('cxone', 'credentials');
}

export function createSharedCredentialsRefusal(
  opts: SharedCredentialsRefusalOptions,
): SharedCredentialsRefusal {
  const key = credentialsRefusalKey(opts.keys);
  // One claimant per process: concurrent callers of one provider share one token request anyway.
  const claimId = randomUUID();
  const throttle = createLogThrottle(30_000);

  async function run(script: string, args: Array<string | number>): Promise<unknown> {
    return withTimeout(
      evalScript(opts.redis, script, 1, key, ...args),
      REDIS_BOUND_MS,
      'the shared credentials record',
    );
  }

  function failOpen(what: string, err: unknown): undefined {
    throttle(what, (suppressed) =>
      opts.logger.warn(
        { err: (err as Error).message, ...(suppressed > 0 ? { suppressed } : {}) },
        `could not ${what} the fleet's shared CXone credentials record in Redis; going on without it`,
      ),
    );
    return undefined;
  }

  return {
    async gate() {
      const started = Date.now();
      /** Redis's clock when this process began to wait for another's token request; 0 = it has not. */
      let waitingSince = 0;
      for (;;) {
        let answer: Array<number | string>;
        try {
          answer = (await run(GATE, [claimId, CLAIM_MS, waitingSince])) as Array<number | string>;
        } catch (err) {
          failOpen('read', err);
          return { kind: 'unknown' };
        }
        if (answer[0] === 0) return { kind: 'go' };
        if (answer[0] === 3) {
          return {
            kind: 'throttled',
            leftMs: Number(answer[1]),
            said: String(answer[2]),
            afterRefusal: Number(answer[3]) === 1,
          };
        }
        if (answer[0] === 1) {
          return {
            kind: 'held',
            leftMs: Number(answer[1]),
            inARow: Number(answer[2]),
            status: Number(answer[3]),
            message: String(answer[4]),
          };
        }
        // Another process is asking: its answer decides for this one too, unless it takes too long.
        if (waitingSince === 0) waitingSince = Number(answer[2]);
        const waitedMs = Date.now() - started;
        if (waitedMs >= CLAIM_WAIT_MAX_MS) return { kind: 'unknown' };
        const pollMs = waitedMs < 2_000 ? CLAIM_POLL_MS : 1_000;
        await new Promise((resolve) => setTimeout(resolve, Math.max(1, Math.min(pollMs, Number(answer[1])))));
      }
    },
    async refused({ status, message, baseWaitMs, maxWaitMs }) {
      try {
        const [inARow, waitMs] = (await run(REFUSED, [status, message, baseWaitMs, maxWaitMs])) as [
          number,
          number,
        ];
        return { inARow: Number(inARow), waitMs: Number(waitMs) };
      } catch (err) {
        return failOpen('write', err);
      }
    },
    async accepted() {
      try {
        return Number(await run(ACCEPTED, [OK_TTL_MS, RECOVERY_MS]));
      } catch (err) {
        failOpen('clear', err);
        return 0;
      }
    },
    async throttled({ waitMs, said, keepRefusalMs }) {
      try {
        const answer = (await run(THROTTLED, [
          claimId,
          Math.max(1, Math.ceil(waitMs)),
          said,
          keepRefusalMs,
        ])) as [number, string, number];
        return {
          leftMs: Number(answer[0]),
          said: String(answer[1]),
          afterRefusal: Number(answer[2]) === 1,
        };
      } catch (err) {
        return failOpen('write', err);
      }
    },
    async released() {
      await run(RELEASED, [claimId]).catch((err: unknown) => failOpen('release', err));
    },
    async renew() {
      await run(RENEW, [claimId, CLAIM_MS]).catch((err: unknown) => failOpen('renew', err));
    },
  };
}
