import { Redis, ReplyError, type RedisOptions } from 'ioredis';
import { hasNetworkErrorCode } from './retry/classify.js';

/**
 * Connections for BullMQ workers must use `maxRetriesPerRequest: null` (blocking commands); the same
 * setting is harmless elsewhere and makes every connection ride out a Redis restart by reconnecting.
 */
export function createRedis(url: string, extra: RedisOptions = {}): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(200 * times, 2000),
    reconnectOnError: (err) => /READONLY|LOADING/.test(err.message),
    ...extra,
  });
}

/** What ioredis and BullMQ say when a command meets a connection that is gone or closing. */
const CONNECTION_LOST = new Set(['MaxRetriesPerRequestError', 'ConnectionClosedError']);

/**
 * Whether err says Redis could not be reached (refused, reset, timed out, the connection closed, a
 * command out of retries) rather than that Redis answered with an error: the first heals when Redis is
 * back, the second is a bug or a misconfiguration someone must look at.
 */
export function isRedisConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return hasNetworkErrorCode(err) || CONNECTION_LOST.has(err.name) || err.message === 'Connection is closed.';
}

/**
 * Redis's answers that it will not run a command in the state it is in — a replica (READONLY: a
 * failover demoted it), at its memory limit under `noeviction` (OOM), a failing snapshot (MISCONF),
 * loading its data set, its primary or cluster down, a script running too long — which pass as it
 * heals, unlike an answer to a wrong command.
 */
const STATE_REFUSAL = /^(READONLY|OOM|MISCONF|LOADING|MASTERDOWN|NOREPLICAS|CLUSTERDOWN|TRYAGAIN|BUSY) /;

/**
 * Redis's own words when err is such a refusal, else undefined. A MULTI Redis refused a command of is
 * discarded whole (EXECABORT), the refusal kept beside it. Pure.
 */
export function redisStateRefusal(err: unknown): string | undefined {
  // ioredis types ReplyError loosely: instanceof does not narrow it to an Error.
  if (!(err instanceof ReplyError) || !(err instanceof Error)) return undefined;
  if (STATE_REFUSAL.test(err.message)) return err.message;
  const previous = (err as { previousErrors?: unknown }).previousErrors;
  if (!Array.isArray(previous)) return undefined;
  const refusal = previous.find((e): e is Error => e instanceof Error && STATE_REFUSAL.test(e.message));
  return refusal?.message;
}

/** Redis's answer to a command on a key that holds another type than the command works on. */
export function isWrongType(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('WRONGTYPE');
}

export type RedisCheck =
  | { ok: true }
  /** Nobody answers at that address (or not in time). */
  | { ok: false; problem: 'unreachable'; message: string }
  /** Redis answers but refuses these settings: credentials, or a database it does not have. */
  | { ok: false; problem: 'refused'; message: string }
  /**
   * Redis answers but is a read-only replica: every write of the fleet would be refused (READONLY).
   * `message` is a predicate, read after "Redis at <url>" (`is a read-only replica (…)`).
   */
  | { ok: false; problem: 'replica'; message: string };

/** Redis's refusals of the URL's settings, as opposed to a Redis that is not there. */
const REFUSAL = /WRONGPASS|NOAUTH|NOPERM|invalid password|DB index is out of range|invalid DB index/i;

/**
 * Connects once with a short deadline and checks what REDIS_URL asks for: that Redis answers, takes
 * the credentials, and has the database. ioredis only emits an error for a database it could not
 * select and then goes on with database 0, where a fleet would silently share another fleet's keys;
 * so the database is selected here explicitly.
 */
export async function checkRedis(
  url: string,
  timeoutMs = 1500,
  opts: { keyPrefix?: string } = {},
): Promise<RedisCheck> {
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: timeoutMs,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  let refusal: string | undefined;
  client.on('error', (err: Error) => {
    if (REFUSAL.test(err.message)) refusal ??= err.message;
  });
  try {
    await client.connect();
    if ((await client.ping()) !== 'PONG') return { ok: false, problem: 'unreachable', message: 'no PONG' };
    const db = client.options.db ?? 0;
    if (db !== 0) await client.select(db);
    if (refusal) return { ok: false, problem: 'refused', message: refusal };
    // A replica's address, or a primary a failover demoted: the fleet's first write failed with a stack
    // trace. Asked first with a write on the fleet's own keys, as /readyz does: ROLE and CONFIG are
    // @admin and @dangerous, which ACLs (`-@dangerous`) and managed services often deny, and with them
    // denied a read-only replica passed and a writable one read as read-only.
    if (opts.keyPrefix !== undefined) {
      const write = await refusedWrite(client, opts.keyPrefix);
      if (write === undefined) return { ok: true };
      if (write.startsWith('READONLY ')) {
        return {
          ok: false,
          problem: 'replica',
          message: 'is a read-only replica (it answers writes READONLY)',
        };
      }
      // Refused otherwise (OOM, a key the ACL does not grant): not a replica's answer; ROLE may say.
    }
    // ROLE may be renamed or not permitted (managed services, ACLs): then nothing is known.
    const role = await client.call('ROLE').then(
      (answer) => (Array.isArray(answer) ? String(answer[0]) : undefined),
      () => undefined,
    );
    if (role === 'slave' && (await client.config('GET', 'replica-read-only').then(readOnlyOf, () => true))) {
      return { ok: false, problem: 'replica', message: 'is a read-only replica (ROLE slave)' };
    }
    return { ok: true };
  } catch (err) {
    const message = refusal ?? (err as Error).message;
    return { ok: false, problem: REFUSAL.test(message) ? 'refused' : 'unreachable', message };
  } finally {
    client.disconnect();
  }
}

/**
 * The key a write probe names (/readyz, start-up): `SET <it> 1 XX` is refused by a read-only replica
 * or a Redis at its memory limit before it runs and, allowed, writes nothing, the key never existing.
 * Under the prefix, so that Redis Cluster routes it to the fleet's slot and an ACL scoped to the
 * prefix permits it.
 */
export function writeProbeKey(keyPrefix: string): string {
  return `${keyPrefix}:readyz-write-probe`;
}

/**
 * Redis's refusal of a write probe (writeProbeKey: `SET <it> 1 XX`, which writes nothing), or undefined
 * when it takes writes. The probe is refused before it runs by a read-only replica (READONLY) and by one
 * at its memory limit under `noeviction` (OOM), the states in which PING still answers.
 */
export async function refusedWrite(
  redis: Pick<Redis, 'set'>,
  keyPrefix: string,
): Promise<string | undefined> {
  return redis.set(writeProbeKey(keyPrefix), '1', 'XX').then(
    () => undefined,
    (err: unknown) => (err instanceof Error ? err.message : String(err)),
  );
}

/** CONFIG GET replica-read-only's answer: a replica takes writes only when it says `no`. */
function readOnlyOf(answer: unknown): boolean {
  return !(Array.isArray(answer) && String(answer[1]).toLowerCase() === 'no');
}

/**
 * Pure: the one line start-up (api, worker, all) and the demo print when Redis refuses what REDIS_URL
 * gives (checkRedis's `refused`), `shownUrl` already redacted. A refused or missing password is said
 * as such: "does not answer" sent the operator looking for a Redis that was up all along.
 */
export function redisRefusalLine(shownUrl: string, refusal: string): string {
  // Redis ends some refusals with a full stop of its own (WRONGPASS … is disabled.): one sentence end.
  const reason = refusal.replace(/\.+$/, '');
  const at = `Redis at ${shownUrl} refuses REDIS_URL's settings`;
  if (/NOAUTH/i.test(reason))
    return `${at}: it asks for a password and REDIS_URL gives none (${reason}). Put it in REDIS_URL: redis://:PASSWORD@host:port.`;
  if (/WRONGPASS|invalid password/i.test(reason))
    return `${at}: it refused the password (${reason}). Fix the user name or password in REDIS_URL.`;
  return `${at}: ${reason}. Fix the user, password or database number in REDIS_URL.`;
}

/** Pings Redis once with a short deadline; resolves false instead of hanging when nobody answers. */
export async function redisAnswers(url: string, timeoutMs = 1500): Promise<boolean> {
  const check = await checkRedis(url, timeoutMs);
  // A replica answers: what it refuses is for the process's start-up to say (ensureRedis), not a cue
  // to start a private redis-server on its port.
  return check.ok || check.problem === 'replica';
}
