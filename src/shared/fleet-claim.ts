import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';
import type { Logger } from './logger.js';
import { evalScript, REDIS_NOW_LUA } from './redis-script.js';
import { withTimeout } from './with-timeout.js';
import {
  prefixContestedMessage,
  prefixInUseMessage,
  prefixLastUsedMessage,
  prefixTakenOverMessage,
  type FleetHolder,
  type FleetIdentity,
  type PreviousFleet,
} from './fleet-identity.js';

/*
 * The claim a fleet holds on its KEY_PREFIX: one hash per prefix naming the fleet (its identity's
 * fingerprint and how to show its CXone) and, per live process, the Redis time of its last renewal.
 * The whole key expires `ttlMs` after the last renewal, so a fleet whose processes all died frees the
 * prefix on its own; a process that stops cleanly removes itself, and the last one deletes the key.
 * Claiming is one script (create-if-absent, like SET NX): of two fleets starting at the same moment,
 * exactly one finds the key absent.
 *
 * The claim only sees live processes; the jobs a fleet leaves in the queues outlive it (delayed
 * launches, its campaigns' polls). So beside it a record with no expiry names the last fleet that
 * held the prefix, and a fleet with another identity may claim a prefix without a live claim only
 * when the operator names that last fleet in FLEET_TAKEOVER, or when both are embedded sandboxes
 * (nothing of a real tenant is at stake). A prefix without a record (new, or written by a release
 * before the record) goes to the first fleet that claims it.
 *
 * Times are Redis's own (TIME): the processes of a fleet run on machines whose clocks differ.
 */

/** How long a fleet's claim outlives its last renewal (the last process of the fleet dying). */
export const FLEET_CLAIM_TTL_MS = 30_000;

/** The prefix's claim key. Not `<queue>:<id>`: no queue is called `fleet`. */
export function fleetClaimKey(keys: Keys): string {
  return keys.custom('fleet');
}

/** The prefix's permanent record of the last fleet that held it (fp, cxone, sandbox, at). */
export function fleetRecordKey(keys: Keys): string {
  return keys.custom('fleet', 'last');
}

/**
 * The `scheme` field of the claim and the record: this release's fingerprints (the machine folded in
 * only in sandbox mode). Releases before it wrote none.
 */
export const FLEET_FINGERPRINT_SCHEME = '2';

const CLAIM = `
local SCHEME = '${FLEET_FINGERPRINT_SCHEME}'
local key, lastKey = KEYS[1], KEYS[2]
local fp, cxone, member, ttl, contest = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local sandbox, takeover = ARGV[6], ARGV[7]
-- Fingerprints an earlier release computed for this very fleet: a claim or record under one is ours.
local former = {}
for i = 8, #ARGV do former[ARGV[i]] = true end
local function ours(v) return v == fp or former[v] == true end
${REDIS_NOW_LUA}
local held = redis.call('HGET', key, 'fp')
if held and not ours(held) then
  local heldTtl = tonumber(redis.call('HGET', key, 'ttl')) or ttl
  local live = 0
  local all = redis.call('HGETALL', key)
  for i = 1, #all, 2 do
    if string.sub(all[i], 1, 2) == 'm:' and now - tonumber(all[i + 1]) <= heldTtl then live = live + 1 end
  end
  if contest == '1' then
    redis.call('HSET', key, 'contested-by', cxone, 'contested-at', now)
  end
  return {0, redis.call('HGET', key, 'cxone') or '?', redis.call('PTTL', key), live}
end
local replaced, replacedFp, how, replacedRecord = '', '', '', {}
if not held then
  local last = redis.call('HGET', lastKey, 'fp')
  if last and not ours(last) then
    local lastCxone = redis.call('HGET', lastKey, 'cxone') or '?'
    -- Only at start-up: a running process whose claim lapsed never takes the prefix from another fleet.
    if contest == '0' and #takeover >= 12 and string.sub(last, 1, #takeover) == takeover then
      how = 'takeover'
    elseif contest == '0' and sandbox == '1' and redis.call('HGET', lastKey, 'sandbox') == '1' then
      how = 'sandbox'
    else
      return {2, lastCxone, last}
    end
    replaced, replacedFp = lastCxone, last
    replacedRecord = redis.call('HGETALL', lastKey)
    redis.call('DEL', lastKey)
  end
  redis.call('HSET', key, 'fp', fp, 'cxone', cxone)
end
-- A record naming this fleet by its former fingerprint takes the current one once the claim does
-- (a claim under the former one has processes of the earlier release in it, which still compare
-- against it; they are refused by a claim under the current one whatever the record says).
local recorded = redis.call('HGET', lastKey, 'fp')
if recorded and recorded ~= fp and former[recorded] and redis.call('HGET', key, 'fp') == fp then
  redis.call('HSET', lastKey, 'fp', fp, 'cxone', cxone, 'at', now)
end
local created = ''
if redis.call('HSETNX', lastKey, 'fp', fp) == 1 then
  redis.call('HSET', lastKey, 'cxone', cxone, 'at', now)
  created = redis.call('HGET', lastKey, 'at')
end
if sandbox == '1' and redis.call('HGET', lastKey, 'fp') == fp then
  redis.call('HSET', lastKey, 'sandbox', '1')
end
-- Marks what this release wrote or holds under its own fingerprint: a fingerprint stored beside the
-- mark is never an earlier release's (formerFingerprints), though in sandbox mode it is the very one
-- the earlier release gave an explicit loopback URL on that machine.
if redis.call('HGET', key, 'fp') == fp then redis.call('HSET', key, 'scheme', SCHEME) end
if redis.call('HGET', lastKey, 'fp') == fp then redis.call('HSET', lastKey, 'scheme', SCHEME) end
redis.call('HSET', key, 'm:' .. member, now, 'ttl', ttl)
local all = redis.call('HGETALL', key)
for i = 1, #all, 2 do
  if string.sub(all[i], 1, 2) == 'm:' and now - tonumber(all[i + 1]) > ttl then
    redis.call('HDEL', key, all[i])
  end
end
redis.call('PEXPIRE', key, ttl)
local by = redis.call('HGET', key, 'contested-by')
local at = tonumber(redis.call('HGET', key, 'contested-at'))
if not (by and at and now - at <= ttl) then by = '' end
return {1, by, replaced, replacedFp, how, created, replacedRecord}
`;

// KEYS: the claim, the record. ARGV: the fingerprint, the record's time as written by this process,
// then the field/value pairs of the record its claim took over from, if it took one over.
// Deletes the record this process wrote while it still says so and no process holds the claim, and
// puts back the one it replaced: 1 when deleted, 2 when the replaced one is back too.
const UNDO_RECORD = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('HGET', KEYS[2], 'fp') ~= ARGV[1] or redis.call('HGET', KEYS[2], 'at') ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[2])
if #ARGV < 4 then return 1 end
redis.call('HSET', KEYS[2], unpack(ARGV, 3))
return 2
`;

const RELEASE = `
local key = KEYS[1]
local held = redis.call('HGET', key, 'fp')
local ours = held == ARGV[1]
for i = 3, #ARGV do ours = ours or held == ARGV[i] end
if not ours then return 0 end
redis.call('HDEL', key, 'm:' .. ARGV[2])
${REDIS_NOW_LUA}
local ttl = tonumber(redis.call('HGET', key, 'ttl')) or 0
local all = redis.call('HGETALL', key)
for i = 1, #all, 2 do
  if string.sub(all[i], 1, 2) == 'm:' and now - tonumber(all[i + 1]) <= ttl then return 1 end
end
redis.call('DEL', key)
return 2
`;

export type ClaimAttempt =
  | {
      held: true;
      contestedBy?: string;
      /** The prefix had no record of its last fleet and this claim wrote one, at this Redis time. */
      createdRecordAt?: string;
      /**
       * This claim took the prefix from the fleet that used it last, and why it was allowed to;
       * `record`: that fleet's record as it was, field/value pairs, for a start that fails to put back.
       */
      tookOver?: { previous: PreviousFleet; how: 'takeover' | 'sandbox'; record: string[] };
    }
  /** A live claim of another fleet. */
  | { held: false; holder: FleetHolder }
  /** No live claim, but the prefix's record names another fleet as the last to use it. */
  | { held: false; previous: PreviousFleet };

/** Where the claim and the record of one prefix live. */
export interface FleetClaimKeys {
  claim: string;
  record: string;
}

export function fleetClaimKeys(keys: Keys): FleetClaimKeys {
  return { claim: fleetClaimKey(keys), record: fleetRecordKey(keys) };
}

/**
 * One claim or renewal for `member`. `contest` (renewals) marks a foreign claim as contested, which
 * its holders see at their next renewal: only running processes do that, never one refused at
 * start-up. `takeover` (FLEET_TAKEOVER) is the start of the fingerprint of the last fleet this claim
 * may replace; renewals never replace one. `former`: fingerprints this fleet had in earlier releases
 * (formerFingerprints), treated as its own.
 */
export async function attemptFleetClaim(
  redis: Redis,
  at: FleetClaimKeys,
  identity: FleetIdentity,
  member: string,
  ttlMs: number,
  contest: boolean,
  takeover = '',
  former: readonly string[] = [],
): Promise<ClaimAttempt> {
  const reply = (await evalScript(
    redis,
    CLAIM,
    2,
    at.claim,
    at.record,
    identity.fingerprint,
    identity.cxone,
    member,
    String(ttlMs),
    contest ? '1' : '0',
    identity.sandbox ? '1' : '0',
    contest ? '' : takeover.toLowerCase(),
    ...former,
  )) as [number, string, (number | string)?, (number | string)?, string?, string?, string[]?];
  if (reply[0] === 1) {
    // `createdRecordAt`: the record's time as stored, '' when the record was there already.
    const [, by, replaced, replacedFp, how, createdRecordAt, record = []] = reply;
    return {
      held: true,
      ...(by ? { contestedBy: by } : {}),
      ...(createdRecordAt ? { createdRecordAt } : {}),
      ...(how === 'takeover' || how === 'sandbox'
        ? {
            tookOver: {
              previous: { cxone: String(replaced), fingerprint: String(replacedFp) },
              how,
              record: record.map(String),
            },
          }
        : {}),
    };
  }
  if (reply[0] === 2) return { held: false, previous: { cxone: reply[1], fingerprint: String(reply[2]) } };
  return {
    held: false,
    holder: { cxone: reply[1], expiresInMs: Math.max(0, Number(reply[2])), liveProcesses: Number(reply[3]) },
  };
}

/** Removes `member` from its fleet's claim, deleting the key when no live process is left in it. */
export async function releaseFleetClaim(
  redis: Redis,
  key: string,
  identity: FleetIdentity,
  member: string,
  former: readonly string[] = [],
): Promise<void> {
  await evalScript(redis, RELEASE, 1, key, identity.fingerprint, member, ...former);
}

/**
 * The fingerprints on the prefix (the live claim's, the last-fleet record's) that are this fleet's
 * own from an earlier release (FleetIdentity.isFormerFingerprint): read once at start-up, when a
 * restart with this release meets what the fleet's earlier processes wrote.
 */
export async function formerFingerprints(
  redis: Redis,
  at: FleetClaimKeys,
  identity: FleetIdentity,
): Promise<string[]> {
  const recognise = identity.isFormerFingerprint;
  if (!recognise) return [];
  const stored = await Promise.all([
    redis.hmget(at.claim, 'fp', 'cxone', 'scheme', 'sandbox'),
    redis.hmget(at.record, 'fp', 'cxone', 'scheme', 'sandbox'),
  ]);
  const found = new Set<string>();
  for (const [fp, cxone, scheme, sandbox] of stored) {
    // Written under this release's scheme, or by an embedded sandbox: a sandbox-mode fleet (whose
    // fingerprint still folds its machine in), never this fleet under an earlier release.
    if (scheme || sandbox === '1') continue;
    if (fp && cxone && fp !== identity.fingerprint && recognise({ fingerprint: fp, cxone })) found.add(fp);
  }
  return [...found];
}

/**
 * Another fleet holds the prefix (`holder`, live) or used it last (`previous`): the process must not
 * start. The message is the one line to print.
 */
export class FleetPrefixInUseError extends Error {
  constructor(
    message: string,
    readonly other: { holder: FleetHolder } | { previous: PreviousFleet },
  ) {
    super(message);
    this.name = 'FleetPrefixInUseError';
  }
}

export interface FleetClaimOptions {
  redis: Redis;
  keys: Keys;
  identity: FleetIdentity;
  logger: Logger;
  ttlMs?: number;
  /** How often a live process renews; a third of the TTL, so two missed renewals do not lose it. */
  renewEveryMs?: number;
  /** FLEET_TAKEOVER: the fingerprint (or its first 12 characters) of the last fleet this one may replace. */
  takeover?: string | undefined;
  /** Another fleet is on the prefix too (reported once per episode; the error is logged at every renewal). */
  onContested?(message: string): void;
  /** The other fleet is gone and this one holds the prefix alone again. */
  onSettled?(): void;
}

export interface FleetClaim {
  /** Whether another fleet is on the prefix right now, as of the last renewal. */
  readonly contested: boolean;
  /** While contested: the line naming the prefix and both CXones that the error log carries. */
  readonly contestedMessage: string | undefined;
  /** How often this process renews the claim, which is when it next sees whether the contest is over. */
  readonly renewEveryMs: number;
  /**
   * Stops renewing and removes this process from the claim (the last one out deletes it). Never
   * rejects. `startFailed`: the process ends before it served anything (a taken port, a bad HOST);
   * a record of the prefix's last fleet that its claim wrote goes too, while no process holds the
   * claim: kept, it named a fleet that never worked on the prefix, and a corrected start under another
   * identity (a fixed CXONE_CLIENT_ID) was refused until FLEET_TAKEOVER. A record its claim took over
   * (FLEET_TAKEOVER, or one embedded sandbox after another) is put back: the takeover never worked
   * either, and the fleet it named is again the one a start must name to take the prefix.
   */
  release(opts?: { startFailed?: boolean }): Promise<void>;
  /** Stops renewing and leaves the claim to expire, as a process that died would. */
  abandon(): void;
}

/** How long one claim, renewal or release may wait for Redis. */
const CLAIM_BOUND_MS = 5_000;

/**
 * Claims the prefix for this process's fleet and keeps renewing the claim while the process lives.
 * Rejects with FleetPrefixInUseError when a live claim names another fleet, or when none is live but
 * another fleet used the prefix last and `takeover` does not name it; a process of the same fleet (a
 * rolling restart, one more replica) always joins.
 */
export async function claimFleet(opts: FleetClaimOptions): Promise<FleetClaim> {
  const { redis, keys, identity, logger } = opts;
  const ttlMs = opts.ttlMs ?? FLEET_CLAIM_TTL_MS;
  const renewEveryMs = opts.renewEveryMs ?? Math.max(1, Math.floor(ttlMs / 3));
  const key = fleetClaimKeys(keys);
  // Names the process for whoever reads the key; neither part is a secret.
  const member = `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
  const log = logger.child({ component: 'fleet-claim' });

  const { former, first } = await withTimeout(
    (async () => {
      const former = await formerFingerprints(redis, key, identity);
      const first = await attemptFleetClaim(
        redis,
        key,
        identity,
        member,
        ttlMs,
        false,
        opts.takeover,
        former,
      );
      return { former, first };
    })(),
    CLAIM_BOUND_MS,
    'claiming KEY_PREFIX for this fleet',
  );
  if (former.length > 0) {
    log.info(
      { keyPrefix: keys.prefix, ours: identity.cxone },
      'KEY_PREFIX was claimed or last used by this fleet under the fingerprint of an earlier release (its machine folded in); taken as this fleet',
    );
  }
  if (!first.held) {
    if ('previous' in first) {
      throw new FleetPrefixInUseError(
        prefixLastUsedMessage({ keyPrefix: keys.prefix, ours: identity, previous: first.previous }),
        { previous: first.previous },
      );
    }
    throw new FleetPrefixInUseError(
      prefixInUseMessage({ keyPrefix: keys.prefix, ours: identity, holder: first.holder, ttlMs }),
      { holder: first.holder },
    );
  }
  if (first.tookOver) {
    // The audit trail of a takeover: whose jobs this fleet may now run, and on whose say-so.
    // An embedded sandbox following another is the design, and with SANDBOX_PORT=0 happens at every
    // start (another port, so another fingerprint): info, not a warning an operator should act on.
    const { previous, how } = first.tookOver;
    log[how === 'sandbox' ? 'info' : 'warn'](
      { keyPrefix: keys.prefix, ours: identity.cxone, previous: previous.cxone, how },
      prefixTakenOverMessage({ keyPrefix: keys.prefix, ours: identity, previous, how }),
    );
  } else if (opts.takeover) {
    log.warn(
      { keyPrefix: keys.prefix },
      `FLEET_TAKEOVER is set but took nothing over (KEY_PREFIX ${keys.prefix} was last used by this fleet, or by none); remove it`,
    );
  }

  let contested: string | undefined;
  let unreachable = false;
  let pending: Promise<void> | undefined;
  const report = (other: string, state: 'we-hold' | 'they-hold' | 'took-over') => {
    const message = prefixContestedMessage({ keyPrefix: keys.prefix, ours: identity, other, state });
    log.error({ keyPrefix: keys.prefix, ours: identity.cxone, other }, message);
    const first = contested === undefined;
    contested = message;
    if (first) opts.onContested?.(message);
  };
  const settle = () => {
    if (contested === undefined) return;
    contested = undefined;
    log.warn({ keyPrefix: keys.prefix }, 'this fleet holds KEY_PREFIX alone again; workers take jobs again');
    opts.onSettled?.();
  };
  if (first.contestedBy !== undefined) report(first.contestedBy, 'we-hold');

  const renew = async () => {
    try {
      const attempt = await withTimeout(
        attemptFleetClaim(redis, key, identity, member, ttlMs, true, '', former),
        CLAIM_BOUND_MS,
        'renewing the fleet claim',
      );
      if (unreachable) {
        unreachable = false;
        log.info('fleet claim renewed again');
      }
      // Never settles from took-over by itself: that fleet's jobs may be in the queues, with or without it.
      if (!attempt.held) {
        if ('holder' in attempt) report(attempt.holder.cxone, 'they-hold');
        else report(attempt.previous.cxone, 'took-over');
      } else if (attempt.contestedBy !== undefined) report(attempt.contestedBy, 'we-hold');
      else settle();
    } catch (err) {
      // Redis away: the claim lapses after ttlMs, and the next renewal that gets through says whether
      // another fleet took the prefix meanwhile. Said once per outage; the context logs the outage.
      if (!unreachable) {
        unreachable = true;
        log.warn({ err: (err as Error).message }, 'could not renew the fleet claim');
      }
    }
  };
  const timer = setInterval(() => {
    // One renewal at a time: during an outage the connection queues commands instead of failing them.
    pending ??= renew().finally(() => (pending = undefined));
  }, renewEveryMs);
  timer.unref();

  let released: Promise<void> | undefined;
  return {
    get contested() {
      return contested !== undefined;
    },
    get contestedMessage() {
      return contested;
    },
    renewEveryMs,
    abandon() {
      clearInterval(timer);
    },
    release(releaseOpts = {}) {
      clearInterval(timer);
      const createdRecordAt = first.held ? first.createdRecordAt : undefined;
      const replacedRecord = first.held ? (first.tookOver?.record ?? []) : [];
      released ??= (async () => {
        // A renewal under way and the release would each wait their whole bound for a Redis that
        // is down, past a supervisor's grace period; the claim's TTL frees it all the same.
        if (redis.status !== 'ready') {
          log.warn('Redis is not answering: the fleet claim is not released; it expires by itself');
          return;
        }
        try {
          await pending;
          await withTimeout(
            releaseFleetClaim(redis, key.claim, identity, member, former),
            CLAIM_BOUND_MS,
            'releasing the fleet claim',
          );
          if (releaseOpts.startFailed && createdRecordAt !== undefined) {
            const undone = await withTimeout(
              evalScript(
                redis,
                UNDO_RECORD,
                2,
                key.claim,
                key.record,
                identity.fingerprint,
                createdRecordAt,
                ...replacedRecord,
              ),
              CLAIM_BOUND_MS,
              "removing the record of the prefix's last fleet",
            );
            if (Number(undone) === 1) {
              log.info(
                { keyPrefix: keys.prefix },
                "start-up failed before this fleet served anything: the record of KEY_PREFIX's last fleet it wrote is removed",
              );
            } else if (Number(undone) === 2) {
              log.info(
                { keyPrefix: keys.prefix, previous: first.held ? first.tookOver?.previous.cxone : undefined },
                "start-up failed before this fleet served anything: its takeover is undone, the record of KEY_PREFIX's last fleet put back",
              );
            }
          }
        } catch (err) {
          log.warn(
            { err: (err as Error).message },
            'could not release the fleet claim; it expires by itself',
          );
        }
      })();
      return released;
    },
  };
}
