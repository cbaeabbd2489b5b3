import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Keys } from '../keys.js';
import { evalScript } from '../redis-script.js';

/**
 * Destination-wide backoff. Every worker process delivers to the one WEBHOOK_URL, so a receiver that
 * answers "overloaded" is overloaded for all of them: the whole `webhook` queue holds its deliveries
 * through BullMQ's queue rate limit (the queue's limiter key, honoured by every worker's fetch, and
 * the job put back with RateLimitError without spending an attempt), and resumes on its own when the
 * key expires. Only answers about the receiver as a whole hold the queue: 429 (rate limited), 503
 * (unavailable) and 408 (it could not take the request in time). Another 5xx or a network error may
 * be one bad event or one bad connection, and keeps its per-event retry.
 *
 * The hold belongs to the destination that earned it (its owner key): a process started with another
 * WEBHOOK_URL drops it rather than wait out a receiver it no longer sends to. When the hold ends, one
 * send probes the receiver alone before the fleet resumes (GATE_SCRIPT).
 */

export const HOLDING_STATUSES: ReadonlySet<number> = new Set([408, 429, 503]);

export function holdsDestination(status: number | undefined): boolean {
  return status !== undefined && HOLDING_STATUSES.has(status);
}

export interface DestinationBackoffBounds {
  /** The shortest hold, and the first step of the exponential one when no Retry-After came. */
  minMs: number;
  /** The longest hold: a receiver cannot park the fleet's events for hours with one header. */
  maxMs: number;
}

export const DEFAULT_DESTINATION_BACKOFF: DestinationBackoffBounds = { minMs: 1_000, maxMs: 10 * 60_000 };

/** A receiver's Retry-After as a hold, within the bounds (a `Retry-After: 0` still holds `minMs`). */
export function clampHoldMs(retryAfterMs: number, bounds: DestinationBackoffBounds): number {
  return Math.round(Math.min(Math.max(retryAfterMs, bounds.minMs), Math.max(bounds.minMs, bounds.maxMs)));
}

/**
 * The hold for each overload answer in a row that came without Retry-After: minMs, doubling, up to
 * maxMs; the last entry serves every later one. Handed to the hold script whole, so the streak is
 * counted and its step chosen in one atomic step however many processes answer at once.
 */
export function holdLadderMs(bounds: DestinationBackoffBounds): number[] {
  const max = Math.max(bounds.minMs, bounds.maxMs);
  const ladder: number[] = [];
  for (let step = Math.max(1, bounds.minMs); ; step *= 2) {
    ladder.push(Math.round(Math.min(step, max)));
    if (step >= max) return ladder;
  }
}

/** Consecutive overload answers, fleet-wide; a delivered answer removes it (markDelivered). */
export function destinationBackoffKey(keys: Keys): string {
  // Not `webhook:backoff` alone: `webhook:<job id>` is BullMQ's, and this must never be read as a job.
  return keys.custom('webhook', 'destination-backoff');
}

/**
 * What BullMQ's Queue.rateLimit writes into the limiter key: a job count no limiter `max` reaches,
 * so every worker's fetch finds the queue limited until the key expires. The hold writes the same,
 * but only ever lengthens a hold in place (rateLimit would overwrite a 10-minute hold with the
 * 1-second one of an answer that raced it) and counts the streak in the same step.
 */
export const HOLD_MARK = '9007199254740991';

/**
 * Which destination a hold belongs to. The hold lives in the queue's limiter key, which every worker
 * honours whatever its WEBHOOK_URL: without an owner, an operator who points the fleet at a new
 * receiver (the old one gone for good) would still wait out the old receiver's hold. The id is a
 * digest of the whole URL (two URLs differing only in path or query are two destinations); the
 * label is what logs may show: the origin and the id, never the path or query, where receivers
 * often put a token.
 */
export interface DestinationRef {
  id: string;
  label: string;
}

export function destinationRef(url: string): DestinationRef {
  const id = createHash('sha256').update(url).digest('hex').slice(0, 16);
  let origin = '(unparseable URL)';
  try {
    origin = new URL(url).origin;
  } catch {
    // Config validation rejects such a URL; the id still tells destinations apart.
  }
  return { id, label: `${origin} (#${id.slice(0, 8)})` };
}

/** The destination (id, label) the current hold, streak and probe were earned by: a hash. */
export function destinationOwnerKey(keys: Keys): string {
  return keys.custom('webhook', 'destination-backoff-owner');
}

/** The lease of the one delivery that probes the receiver after a hold (see GATE_SCRIPT). */
export function destinationProbeKey(keys: Keys): string {
  return keys.custom('webhook', 'destination-probe');
}

/** BullMQ's limiter key of the webhook queue (what `queue.toKey('limiter')` names). */
export function webhookLimiterKey(keys: Keys): string {
  return keys.custom('webhook', 'limiter');
}

export interface DestinationBackoffKeys {
  limiterKey: string;
  streakKey: string;
  ownerKey: string;
  probeKey: string;
}

export function destinationBackoffKeys(keys: Keys): DestinationBackoffKeys {
  return {
    limiterKey: webhookLimiterKey(keys),
    streakKey: destinationBackoffKey(keys),
    ownerKey: destinationOwnerKey(keys),
    probeKey: destinationProbeKey(keys),
  };
}

/**
 * Lua shared by the scripts below. KEYS are always: limiter, streak, owner, probe; ARGV[1] the hold
 * mark. `held` is the hold's time left (0 when none: the limiter key between holds only counts job
 * starts). `drop_foreign` ends an episode (hold, streak, probe) earned by another destination than
 * `id` and returns its label; an episode with no owner (written by an earlier release) is kept.
 */
const LUA_HELPERS = `
local function held()
  local pttl = redis.call('PTTL', KEYS[1])
  if pttl > 0 and (tonumber(redis.call('GET', KEYS[1])) or 0) >= tonumber(ARGV[1]) then return pttl end
  return 0
end
local function drop_foreign(id)
  local owner = redis.call('HMGET', KEYS[3], 'id', 'label')
  if not owner[1] or owner[1] == id then return false end
  if held() > 0 then redis.call('DEL', KEYS[1]) end
  redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
  return owner[2] or owner[1]
end
`;

// ARGV: hold mark, destination id. Returns the dropped episode's label, or nil.
const DROP_FOREIGN_SCRIPT = `${LUA_HELPERS}
return drop_foreign(ARGV[2])
`;

/**
 * Drops a hold (and its streak and probe) earned by another destination than `self`: run once as a
 * webhook worker process starts, before its first fetch, since a fetch that finds the hold sleeps
 * through it (up to maximumRateLimitDelay) whatever is deleted meanwhile. Returns the dropped hold's
 * label, to the one caller that dropped it (so a fleet restarting together logs it once), or null.
 */
export async function dropForeignHold(
  redis: Redis,
  keys: DestinationBackoffKeys,
  self: DestinationRef,
): Promise<string | null> {
  const dropped = await evalScript(
    redis,
    DROP_FOREIGN_SCRIPT,
    4,
    keys.limiterKey,
    keys.streakKey,
    keys.ownerKey,
    keys.probeKey,
    HOLD_MARK,
    self.id,
  );
  return typeof dropped === 'string' ? dropped : null;
}

/**
 * What a send may do while a backoff episode (a hold, or the streak it leaves) is under way.
 * - `open`: no episode for this destination (none, or another destination's, just dropped): send.
 * - `held`: the hold is in place (this job was fetched just before it began): put the job back unsent.
 * - `probe`: the hold is over and this send took the probe lease: it goes out alone.
 * - `wait`: another send is probing: wait for its answer (`ms`: its lease left).
 */
export type GateDecision =
  | { kind: 'open'; dropped?: string }
  | { kind: 'held'; ms: number }
  | { kind: 'probe' }
  | { kind: 'wait'; ms: number };

/**
 * Pure: the gate script's reply as a decision. Kept apart so the mapping is tested without Redis.
 */
export function gateDecision(reply: [number, number, string | null]): GateDecision {
  const [kind, ms, dropped] = reply;
  switch (kind) {
    case 1:
      return { kind: 'held', ms: Number(ms) };
    case 2:
      return { kind: 'probe' };
    case 3:
      return { kind: 'wait', ms: Number(ms) };
    default:
      return dropped ? { kind: 'open', dropped } : { kind: 'open' };
  }
}

// ARGV: hold mark, destination id, run, lease ms. Returns {kind, ms, dropped label or ''}: kind 0
// open, 1 held, 2 probe (this run holds the lease), 3 wait.
//
// Why a single probe rather than jittered resumption: when a hold ends, every worker's fetch resumes
// at once, and jitter would only spread the same burst over a window while each of those sends still
// reaches a receiver that may not have recovered. One send at a time, fleet-wide (a lease in Redis,
// so it holds across processes), costs the receiver one request to say whether it copes again; a 2xx
// ends the episode (markDelivered) and the waiters go, another 408/429/503 starts the next hold and
// they are put back unsent. The lease outlives the longest send, so a prober that dies frees it.
const GATE_SCRIPT = `${LUA_HELPERS}
local dropped = drop_foreign(ARGV[2])
if dropped then return {0, 0, dropped} end
local pttl = held()
if pttl > 0 then return {1, pttl, ''} end
if redis.call('EXISTS', KEYS[2]) == 0 then return {0, 0, ''} end
if redis.call('SET', KEYS[4], ARGV[3], 'NX', 'PX', ARGV[4]) then return {2, 0, ''} end
return {3, redis.call('PTTL', KEYS[4]), ''}
`;

/** One pass through the gate before a send (see GATE_SCRIPT); one round trip. */
export async function enterDestinationGate(
  redis: Redis,
  keys: DestinationBackoffKeys,
  input: { self: DestinationRef; run: string; leaseMs: number },
): Promise<GateDecision> {
  const reply = (await evalScript(
    redis,
    GATE_SCRIPT,
    4,
    keys.limiterKey,
    keys.streakKey,
    keys.ownerKey,
    keys.probeKey,
    HOLD_MARK,
    input.self.id,
    input.run,
    Math.max(1, Math.round(input.leaseMs)),
  )) as [number, number, string];
  return gateDecision([Number(reply[0]), Number(reply[1]), reply[2] || null]);
}

// KEYS: the probe lease. ARGV: run. Deletes the lease only while it is still this run's.
const RELEASE_PROBE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * Gives up the probe lease after the probe's verdict is recorded, so the next waiter probes at once
 * (a send that failed without an overload answer: the receiver has not shown it copes yet). A 2xx or
 * a new hold has already removed it; a lease another run took since is left alone.
 */
export async function releaseProbe(redis: Redis, probeKey: string, run: string): Promise<boolean> {
  return (await evalScript(redis, RELEASE_PROBE_SCRIPT, 1, probeKey, run)) === 1;
}

// KEYS: the queue's limiter key, the streak key, the owner, the probe lease. ARGV: the hold mark,
// the Retry-After hold ('' for none), maxMs, the destination's id and label, then the ladder. Returns
// {started, lengthened, streak, hold ms now in place, label of another destination's episode dropped
// or ''}.
// An answer while a hold is already in place (a send that left before the hold began) is part of the
// same episode: it does not count in the streak, and lengthens the hold only by its own Retry-After.
// A hold of another destination is not this one's episode: it is dropped first (a fleet part-way
// through a change of WEBHOOK_URL: the last answer's destination owns the hold). The streak and the
// owner outlive the hold by one maxMs, so a receiver quiet for long starts again at the floor even
// when nothing was delivered meanwhile. A probe under way is over: its answer, or this one, began
// the next hold.
const HOLD_SCRIPT = `${LUA_HELPERS}
local dropped = drop_foreign(ARGV[4]) or ''
local pttl = held()
local want = 0
local streak
if pttl > 0 then
  streak = tonumber(redis.call('GET', KEYS[2]) or '1')
  if ARGV[2] ~= '' then want = tonumber(ARGV[2]) end
else
  streak = redis.call('INCR', KEYS[2])
  if ARGV[2] ~= '' then
    want = tonumber(ARGV[2])
  else
    want = tonumber(ARGV[5 + math.min(streak, #ARGV - 5)])
  end
end
local started = pttl == 0
local lengthened = 0
if started or want > pttl then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', want)
  lengthened = 1
  pttl = want
end
redis.call('HSET', KEYS[3], 'id', ARGV[4], 'label', ARGV[5])
redis.call('PEXPIRE', KEYS[2], pttl + tonumber(ARGV[3]))
redis.call('PEXPIRE', KEYS[3], pttl + tonumber(ARGV[3]))
redis.call('DEL', KEYS[4])
return {started and 1 or 0, lengthened, streak, pttl, dropped}
`;

export interface DestinationHold {
  /** This answer began the hold (no hold was in place): the one that logs and counts it. */
  started: boolean;
  /** This answer set the hold's end (began it, or lengthened one in place with its Retry-After). */
  lengthened: boolean;
  /** Overload answers in a row that each began a hold, this one's included. */
  streak: number;
  /** How long the queue now holds, from this moment. */
  holdMs: number;
  /** The label of another destination whose hold this answer replaced, if any. */
  dropped?: string;
}

/** Holds the webhook queue for an overload answer of `self` (see HOLD_SCRIPT); one round trip. */
export async function holdDestinationQueue(
  redis: Redis,
  keys: DestinationBackoffKeys,
  input: {
    self: DestinationRef;
    retryAfterMs: number | undefined;
    bounds: DestinationBackoffBounds;
  },
): Promise<DestinationHold> {
  const { bounds } = input;
  const result = (await evalScript(
    redis,
    HOLD_SCRIPT,
    4,
    keys.limiterKey,
    keys.streakKey,
    keys.ownerKey,
    keys.probeKey,
    HOLD_MARK,
    input.retryAfterMs === undefined ? '' : clampHoldMs(input.retryAfterMs, bounds),
    Math.max(bounds.minMs, bounds.maxMs),
    input.self.id,
    input.self.label,
    ...holdLadderMs(bounds),
  )) as [number, number, number, number, string];
  return {
    started: result[0] === 1,
    lengthened: result[1] === 1,
    streak: Number(result[2]),
    holdMs: Number(result[3]),
    ...(result[4] ? { dropped: result[4] } : {}),
  };
}

/**
 * Milliseconds left of the hold in place, 0 when none. The limiter key also counts job starts
 * between holds (the worker's `limiter` option); only the hold mark is a hold.
 */
export async function destinationHoldLeftMs(redis: Redis, limiterKey: string): Promise<number> {
  const results = (await redis.multi().get(limiterKey).pttl(limiterKey).exec()) ?? [];
  for (const [err] of results) if (err) throw err;
  const [value, pttl] = results.map(([, v]) => v) as [string | null | undefined, number | undefined];
  return value != null && Number(value) >= Number(HOLD_MARK) && pttl !== undefined && pttl > 0 ? pttl : 0;
}
