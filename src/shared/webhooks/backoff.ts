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

/**
 * Put-backs left to a job whose send found the destination overloaded: a hold does not spend one of
 * the event's attempts, but only `free` times, so an event whose receiver stays overloaded for days
 * still runs through its retry schedule and is dead-lettered in the end, as before, instead of
 * waiting behind holds until its stored bytes expire. BullMQ counts every start of the job
 * (attemptsStarted, the running one included) and only the spent attempts (attemptsMade): the
 * difference is the put-backs so far (plus any stalled run, rare, which only makes it stricter).
 */
export function freeHoldLeft(job: { attemptsStarted?: number; attemptsMade: number }, free: number): boolean {
  const putBacks = Math.max(0, (job.attemptsStarted ?? 0) - job.attemptsMade - 1);
  return putBacks < free;
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
const HOLD_MARK = '9007199254740991';

// KEYS: the queue's limiter key, the streak key. ARGV: the hold mark, the Retry-After hold ('' for
// none), maxMs, then the ladder. Returns {started, lengthened, streak, hold ms now in place}.
// An answer while a hold is already in place (a send that left before the hold began) is part of the
// same episode: it does not count in the streak, and lengthens the hold only by its own Retry-After.
// The streak outlives the hold by one maxMs, so a receiver quiet for long starts again at the floor
// even when nothing was delivered meanwhile.
const HOLD_SCRIPT = `
local pttl = redis.call('PTTL', KEYS[1])
local held = pttl > 0 and (tonumber(redis.call('GET', KEYS[1])) or 0) >= tonumber(ARGV[1])
local want = 0
local streak
if held then
  streak = tonumber(redis.call('GET', KEYS[2]) or '1')
  if ARGV[2] ~= '' then want = tonumber(ARGV[2]) end
else
  streak = redis.call('INCR', KEYS[2])
  if ARGV[2] ~= '' then
    want = tonumber(ARGV[2])
  else
    want = tonumber(ARGV[3 + math.min(streak, #ARGV - 3)])
  end
end
local lengthened = 0
if not held or want > pttl then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', want)
  lengthened = 1
  pttl = want
end
redis.call('PEXPIRE', KEYS[2], pttl + tonumber(ARGV[3]))
return {held and 0 or 1, lengthened, streak, pttl}
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
}

/** Holds the webhook queue for an overload answer (see HOLD_SCRIPT); one round trip. */
export async function holdDestinationQueue(
  redis: Redis,
  input: {
    limiterKey: string;
    streakKey: string;
    retryAfterMs: number | undefined;
    bounds: DestinationBackoffBounds;
  },
): Promise<DestinationHold> {
  const { bounds } = input;
  const result = (await evalScript(
    redis,
    HOLD_SCRIPT,
    2,
    input.limiterKey,
    input.streakKey,
    HOLD_MARK,
    input.retryAfterMs === undefined ? '' : clampHoldMs(input.retryAfterMs, bounds),
    Math.max(bounds.minMs, bounds.maxMs),
    ...holdLadderMs(bounds),
  )) as [number, number, number, number];
  return {
    started: result[0] === 1,
    lengthened: result[1] === 1,
    streak: Number(result[2]),
    holdMs: Number(result[3]),
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
