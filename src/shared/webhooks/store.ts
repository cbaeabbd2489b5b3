import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { z } from 'zod';
import { EVENT_TTL_SECONDS, parseStoredEvent, type StoredEvent } from '../events/publisher.js';
import type { AuditInput } from '../audit/types.js';
import type { Keys } from '../keys.js';
import type { deadLetterFieldsSchema, destinationStateSchema } from '../responses/webhooks.js';
import { DEFAULT_RETRY_SCHEDULE_MS, webhookJobOptions } from './schedule.js';
import { evalScript } from '../redis-script.js';
import { releaseIfHolder } from '../held-key.js';
import { RequestAbandonedError, throwIfAbandoned } from '../errors.js';
import { webhookPendingKey } from './pending.js';
import { destinationBackoffKeys, HOLD_MARK } from './backoff.js';
import { OWE_AUDIT_LUA, owedAuditArgs, owedAuditKey } from './owed-audit.js';

/**
 * Webhook delivery state in Redis: the delivered log (one entry per event id, ever), the dead-letter
 * set, and the destination's disabled flag. Dead-letter details live on the stored event itself so
 * a replay finds the exact bytes and the reason side by side.
 */

/** The delivered log remembers event ids this long (retries and replays are far shorter). */
export const DELIVERED_LOG_DAYS = 30;

// The shapes are the response schemas' (src/shared/responses/webhooks.ts): the routes answer a dead
// letter as stored and the destination state as read here.
export type DeadLetter = z.output<typeof deadLetterFieldsSchema>;
export type DeadLetterReason = DeadLetter['reason'];
export type DestinationState = z.output<typeof destinationStateSchema>;

// KEYS: destination hash, owed audit records. ARGV: url, disabledAt, status, eventId, the audit record
// it owes (owed-audit.ts: dedupe key and JSON, '' for none). Returns 1 only for the call that disabled it.
const DISABLE_SCRIPT = `${OWE_AUDIT_LUA}
local url = redis.call('HGET', KEYS[1], 'url')
local at = redis.call('HGET', KEYS[1], 'disabledAt')
if url == ARGV[1] and at then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'url', ARGV[1], 'disabledAt', ARGV[2], 'status', ARGV[3], 'eventId', ARGV[4])
owe_audit(2, 5)
return 1
`;

export interface WebhookStoreDeps {
  redis: Redis;
  keys: Keys;
}

// KEYS: delivered log, dead-letter set, pending index, event hash, destination backoff streak, the
// webhook queue's limiter key, the backoff's owner, the probe lease.
// ARGV: eventId, nowMs, the delivered log's cut-off, status, the time (ISO), run ('' for none), the
// hold mark, the destination's id ('' for any).
// Returns {1 when the id was new to the log, 1 when the send was still the run's, 1 when it ended
// a backoff run, 1 when it cut a hold short}.
//
// The event's fields are written only while its hash exists: an event whose TTL ran out while it
// was being sent would otherwise come back as a hash of delivery fields with no expiry, kept forever.
// Its run mark went with it, and nothing else settled it: the delivery is the run's own.
// A dead letter from before a replay that delivered it is no longer the event's story. The run mark
// stays: a stale run's delivery must not take it from the run that holds the job now, whose own
// delivery would then go uncounted. The first delivery time is kept; a replay of a delivered event
// only adds when it was resent.
//
// A 2xx from the destination that owns the backoff (backoff.ts) while its hold is still in place (a
// send that left before the hold began, answered after it): the receiver has just taken a delivery,
// so the rest of a long Retry-After is not waited out; the hold is cut, but the streak is kept, so
// the next send still probes alone before the fleet resumes. With no hold in place, the 2xx ends the
// episode (streak, owner, probe). A 2xx of another destination leaves that one's episode alone.
const MARK_DELIVERED_SCRIPT = `
local added = redis.call('ZADD', KEYS[1], 'NX', ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
local stored = redis.call('EXISTS', KEYS[4]) == 1
local own = 1
if stored and ARGV[6] ~= '' and redis.call('HGET', KEYS[4], 'run') ~= ARGV[6] then own = 0 end
if stored then
  local when = 'redeliveredAt'
  if added == 1 then when = 'deliveredAt' end
  redis.call('HSET', KEYS[4], 'state', 'delivered', 'lastStatus', ARGV[4], 'lastError', '',
    'lastAttemptAt', ARGV[5], when, ARGV[5])
  redis.call('HDEL', KEYS[4], 'deadLetter')
end
local ended = 0
local cut = 0
local owner = redis.call('HGET', KEYS[7], 'id')
if ARGV[8] == '' or not owner or owner == ARGV[8] then
  local pttl = redis.call('PTTL', KEYS[6])
  if pttl > 0 and (tonumber(redis.call('GET', KEYS[6])) or 0) >= tonumber(ARGV[7]) then
    redis.call('DEL', KEYS[6])
    cut = 1
  else
    ended = redis.call('DEL', KEYS[5])
    redis.call('DEL', KEYS[7], KEYS[8])
  end
end
return {added, own, ended, cut}
`;

/**
 * Records a successful delivery. `first` is false when the event was already in the log (a replay);
 * `own` is false when the send was not `run`'s any more (see countSend): the stall limit failed its
 * job while it was sending, and whatever settled it then has counted the run, or another run holds
 * the job now and will count its own answer. The delivery is
 * recorded all the same, because the receiver has the event (in the log, and on the event while it
 * is still stored: an expired event is not brought back).
 *
 * A delivery to `destinationId` (omitted: whichever destination) also acts on its backoff
 * (backoff.ts), in the same round trip: `backoffEnded` is true for the one delivery that ended a run
 * of overload answers, `holdCut` when it cut a hold still in place (see MARK_DELIVERED_SCRIPT).
 */
export async function markDelivered(
  deps: WebhookStoreDeps,
  eventId: string,
  info: { status: number; nowMs: number; run?: string; destinationId?: string },
): Promise<{ first: boolean; own: boolean; backoffEnded: boolean; holdCut: boolean }> {
  const { redis, keys } = deps;
  const backoff = destinationBackoffKeys(keys);
  const [added, own, ended, cut] = (await evalScript(
    redis,
    MARK_DELIVERED_SCRIPT,
    8,
    keys.webhookDelivered(),
    keys.webhookDeadLetters(),
    webhookPendingKey(keys),
    keys.webhookEvent(eventId),
    backoff.streakKey,
    backoff.limiterKey,
    backoff.ownerKey,
    backoff.probeKey,
    eventId,
    info.nowMs,
    info.nowMs - DELIVERED_LOG_DAYS * 86_400_000,
    String(info.status),
    new Date(info.nowMs).toISOString(),
    info.run ?? '',
    HOLD_MARK,
    info.destinationId ?? '',
  )) as [number, number, number, number];
  return { first: added === 1, own: own === 1, backoffEnded: ended === 1, holdCut: cut === 1 };
}

// KEYS: dead-letter set, event hash, pending index, owed audit records. ARGV: eventId, atMs, cutoff
// score, letter JSON, TTL seconds, run ('' for none), the owed record (ARGV[7], ARGV[8]), the job
// instance that writes the letter ('' for none; kept as deadJob, see DeliveryContext.deadLetteredBy).
// Returns 1 when it wrote the dead letter, 0 when the send was no longer the run's, -1 when the event
// is no longer stored.
//
// The event must still hold its bytes: a dead letter is the event's bytes and why they failed, side
// by side, so that a replay can send them. Without the check, an event whose TTL ran out after the
// worker read it (a dead letter without a run: no destination, destination disabled) would come
// back as a hash of dead-letter fields with no body, listed as a dead letter that no replay can
// send. It is written whole or not at all; only its entry in the pending index, which names an event
// that is gone, is removed. The audit record it owes (ARGV[7], ARGV[8]; KEYS[4]) is written with it.
const DEAD_LETTER_SCRIPT = `${OWE_AUDIT_LUA}
if redis.call('HEXISTS', KEYS[2], 'body') == 0 then
  redis.call('ZREM', KEYS[3], ARGV[1])
  return -1
end
if ARGV[6] ~= '' and redis.call('HGET', KEYS[2], 'run') ~= ARGV[6] then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HSET', KEYS[2], 'state', 'dead', 'deadLetter', ARGV[4])
redis.call('HDEL', KEYS[2], 'run')
if ARGV[9] ~= '' then redis.call('HSET', KEYS[2], 'deadJob', ARGV[9]) else redis.call('HDEL', KEYS[2], 'deadJob') end
redis.call('EXPIRE', KEYS[2], ARGV[5])
owe_audit(4, 7)
return 1
`;

/**
 * What deadLetter did: `written`; `superseded` when the send was no longer `run`'s (the event was
 * settled while it was sending, and that outcome stands); `missing` when the event is no longer
 * stored (nothing is written).
 */
export type DeadLetterWrite = 'written' | 'superseded' | 'missing';

/**
 * Dead-letters an event. Entries dead-lettered more than EVENT_TTL_SECONDS before this one are
 * dropped in the same step: their stored event (the bytes a replay needs) has expired by then,
 * so they could only be listed, never replayed, and the set would grow without bound.
 *
 * With `run` (a send's verdict, see countSend) it writes nothing when the send is no longer that
 * run's. An event no longer stored is not dead-lettered at all (see DEAD_LETTER_SCRIPT). `owed`, the
 * audit record of the dead letter, is written as owed with it (owed-audit.ts): the caller appends it.
 * `job` (jobInstance) is the job writing it: that job, run again, skips the event (deadLetteredBy).
 */
export async function deadLetter(
  deps: WebhookStoreDeps,
  letter: DeadLetter,
  run?: string,
  owed?: AuditInput,
  job?: string,
): Promise<DeadLetterWrite> {
  const written = Number(
    await evalScript(
      deps.redis,
      DEAD_LETTER_SCRIPT,
      4,
      ...deadLetterArgs(deps.keys, letter),
      run ?? '',
      ...owedAuditArgs(owed),
      job ?? '',
    ),
  );
  return written === 1 ? 'written' : written === 0 ? 'superseded' : 'missing';
}

/**
 * The keys and arguments both dead-letter scripts take, in their order: the dead-letter set, the
 * event, the pending index, the owed audit records; the event id, the letter's time, the cut-off of
 * the set's trim, the letter, and the TTL the event's bytes get (they must outlive the dead letter
 * long enough for an operator to replay them).
 */
function deadLetterArgs(keys: Keys, letter: DeadLetter): Array<string | number> {
  const atMs = Date.parse(letter.at);
  return [
    keys.webhookDeadLetters(),
    keys.webhookEvent(letter.eventId),
    webhookPendingKey(keys),
    owedAuditKey(keys),
    letter.eventId,
    atMs,
    `(${atMs - EVENT_TTL_SECONDS * 1000}`,
    JSON.stringify(letter),
    EVENT_TTL_SECONDS,
  ];
}

// KEYS: dead-letter set, event hash, pending index, owed audit records. ARGV: eventId, atMs, cutoff
// score, letter JSON, TTL seconds, the audit record it owes (dedupe key and JSON, '' for none), the
// type and campaign id that record was built for, the job instance writing the letter ('' for none;
// kept as deadJob, as DEAD_LETTER_SCRIPT keeps it). Returns {type, campaignId} when it wrote the dead
// letter; nil when the event is gone or decided (either way it leaves the pending index). The record
// is owed only when the event is still the one it was built for: one stored under its id since the
// read (expired and published again in between) gets no webhook_failure record, rather than one
// naming another event's type and campaign.
const DEAD_LETTER_UNDECIDED_SCRIPT = `${OWE_AUDIT_LUA}
local h = redis.call('HMGET', KEYS[2], 'state', 'body', 'type', 'campaignId')
redis.call('ZREM', KEYS[3], ARGV[1])
if not h[2] or h[1] == 'delivered' or h[1] == 'dead' then return nil end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
redis.call('HSET', KEYS[2], 'state', 'dead', 'deadLetter', ARGV[4])
redis.call('HDEL', KEYS[2], 'run')
if ARGV[10] ~= '' then redis.call('HSET', KEYS[2], 'deadJob', ARGV[10]) else redis.call('HDEL', KEYS[2], 'deadJob') end
redis.call('EXPIRE', KEYS[2], ARGV[5])
if (h[3] or '') == ARGV[8] and (h[4] or '') == ARGV[9] then owe_audit(4, 6) end
return {h[3] or '', h[4] or ''}
`;

/**
 * Dead-letters an event unless it already has an outcome (delivered or dead-lettered) or is no longer
 * stored: the fallback for a delivery job that failed for a reason the worker did not decide on (an
 * unexpected error on its last attempt, BullMQ's stall limit). Atomic, so a worker delivering the
 * event at the same moment is never overwritten, and a send still under way for the job finds its
 * event no longer its own (countSend), so it neither dead-letters nor counts it again. Returns the
 * event's type and campaign when it wrote the dead letter, null otherwise; with them, the audit record
 * `owe` builds for the event (if any), written as owed with the dead letter (owed-audit.ts). `job`:
 * the job writing it, as for deadLetter.
 */
export async function deadLetterUndecided(
  deps: WebhookStoreDeps,
  letter: DeadLetter,
  owe?: (event: { type: string; campaignId: string }) => AuditInput | undefined,
  job?: string,
): Promise<{ type: string; campaignId: string; owed?: AuditInput } | null> {
  // The record names the event's type and campaign, read first: both are fixed once it is stored.
  const [type = null, campaignId = null] = owe
    ? await deps.redis.hmget(deps.keys.webhookEvent(letter.eventId), 'type', 'campaignId')
    : [];
  const owed = owe && type !== null ? owe({ type, campaignId: campaignId ?? '' }) : undefined;
  const result = (await evalScript(
    deps.redis,
    DEAD_LETTER_UNDECIDED_SCRIPT,
    4,
    ...deadLetterArgs(deps.keys, letter),
    ...owedAuditArgs(owed),
    type ?? '',
    campaignId ?? '',
    job ?? '',
  )) as [string, string] | null;
  if (!result) return null;
  const [writtenType, writtenCampaign] = result;
  const same = owed !== undefined && writtenType === type && writtenCampaign === (campaignId ?? '');
  return { type: writtenType, campaignId: writtenCampaign, ...(same ? { owed } : {}) };
}

/**
 * Newest first: with thousands held, the page an operator reads must show what is failing now, not
 * what failed a month ago.
 */
export async function listDeadLetters(deps: WebhookStoreDeps, limit = 100): Promise<DeadLetter[]> {
  const ids = await deps.redis.zrevrange(deps.keys.webhookDeadLetters(), 0, Math.max(limit, 1) - 1);
  if (ids.length === 0) return [];
  const pipeline = deps.redis.pipeline();
  for (const id of ids) pipeline.hget(deps.keys.webhookEvent(id), 'deadLetter');
  const results = (await pipeline.exec()) ?? [];
  return ids.map((eventId, i) => {
    const raw = results[i]?.[1];
    return typeof raw === 'string'
      ? (JSON.parse(raw) as DeadLetter)
      : { eventId, reason: 'exhausted', attempts: 0, at: '', error: 'event expired; cannot be replayed' };
  });
}

// KEYS: event hash. ARGV: lastAttemptAt, run ('' for none). Returns the new count, or -1 when the
// event is no longer stored: its TTL ran out after the run read it, and counting would recreate the
// hash as a few fields with no expiry, kept forever.
const COUNT_SEND_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local count = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('HSET', KEYS[1], 'lastAttemptAt', ARGV[1])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'run', ARGV[2]) end
return count
`;

/**
 * Counts a send about to start (the event's `attempts`, every send of it ever, replays included):
 * counted before the request leaves, so a worker that dies mid-send still leaves it counted.
 * Returns the new count, or null when the event is no longer stored (nothing is written, and the
 * send must not go out: there is nothing left to record its answer on).
 *
 * It also marks the send as `run`'s (a token of this one run). Whatever settles the event without
 * the run (the fallback for a job BullMQ failed for its stall limit while this run was still
 * sending), or a later run of the same job, takes that mark away, and the run's own verdict then
 * neither settles nor counts the event a second time (recordAttempt, deadLetter, markDelivered).
 */
export async function countSend(
  deps: WebhookStoreDeps,
  eventId: string,
  nowMs: number,
  run?: string,
): Promise<number | null> {
  const count = Number(
    await evalScript(
      deps.redis,
      COUNT_SEND_SCRIPT,
      1,
      deps.keys.webhookEvent(eventId),
      new Date(nowMs).toISOString(),
      run ?? '',
    ),
  );
  return count < 0 ? null : count;
}

// KEYS: event hash. ARGV: run ('' for none), the job's instance, the free holds per event. Returns
// the event's free holds spent so far, this one included (>= 1), when this one is free; 0 when it has
// spent them all; -1 when the send is no longer the run's; -2 when the event is no longer stored.
// Nothing is written unless it returns >= 1.
//
// The count belongs to one job of the event (`freeHoldsJob`): a replay, or the sweep queueing the
// event again, makes a new job, which starts with every free hold again, as it starts with every
// attempt again.
const SPEND_FREE_HOLD_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -2 end
if ARGV[1] ~= '' and redis.call('HGET', KEYS[1], 'run') ~= ARGV[1] then return -1 end
local spent = 0
if redis.call('HGET', KEYS[1], 'freeHoldsJob') == ARGV[2] then
  spent = tonumber(redis.call('HGET', KEYS[1], 'freeHolds') or '0') or 0
end
if spent >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], 'freeHoldsJob', ARGV[2], 'freeHolds', spent + 1)
return spent + 1
`;

/**
 * What spendFreeHold decided: `free` (and how many the event's job has spent now, this one
 * included), `none_left`, `superseded` (the send is no longer the run's), `missing` (the event is no
 * longer stored).
 */
export type FreeHold =
  { kind: 'free'; spent: number } | { kind: 'none_left' } | { kind: 'superseded' } | { kind: 'missing' };

/**
 * Spends one of the event's free holds, if it has one left: called only when a send's own answer
 * began or joined a destination hold (408/429/503) and the event is about to be put back for it
 * without spending an attempt. Counted on the event's hash, atomically, for its current job (`job`:
 * what tells one job of the event from the next, see jobInstance), and never by put-backs of a send
 * that was only waiting (a hold found at fetch, a worker pausing or closing while another send
 * probes): BullMQ's own attemptsStarted counts every start of the job, those included, so it cannot
 * tell them apart. Nothing is counted when the send is no longer `run`'s (countSend).
 */
export async function spendFreeHold(
  deps: WebhookStoreDeps,
  eventId: string,
  input: { run?: string; job: string; free: number },
): Promise<FreeHold> {
  const result = Number(
    await evalScript(
      deps.redis,
      SPEND_FREE_HOLD_SCRIPT,
      1,
      deps.keys.webhookEvent(eventId),
      input.run ?? '',
      input.job,
      Math.max(0, Math.floor(input.free)),
    ),
  );
  if (result >= 1) return { kind: 'free', spent: result };
  if (result === 0) return { kind: 'none_left' };
  return result === -1 ? { kind: 'superseded' } : { kind: 'missing' };
}

/**
 * The free holds an event's current job has spent (spendFreeHold); 0 for a job that has spent none.
 */
export async function freeHoldsSpent(deps: WebhookStoreDeps, eventId: string, job: string): Promise<number> {
  const [owner, spent] = await deps.redis.hmget(deps.keys.webhookEvent(eventId), 'freeHoldsJob', 'freeHolds');
  return owner === job ? Number(spent ?? 0) : 0;
}

/**
 * Tells one BullMQ job of an event from another: its id is the event id, so a replay's new job has
 * the same id, but not the same creation time, which BullMQ keeps through every retry and put-back.
 */
export function jobInstance(job: { timestamp: number }): string {
  return String(job.timestamp);
}

// KEYS: event hash, pending index. ARGV: lastAttemptAt, lastStatus, lastError, '1' for a replay
// job, eventId, score for the index, run ('' for none). Returns 0 when the send is no longer the
// run's (it then reopens nothing), 1 otherwise.
const RECORD_ATTEMPT_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 1 end
redis.call('HSET', KEYS[1], 'lastAttemptAt', ARGV[1], 'lastStatus', ARGV[2], 'lastError', ARGV[3])
if ARGV[7] ~= '' and redis.call('HGET', KEYS[1], 'run') ~= ARGV[7] then return 0 end
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'dead' and (state ~= 'delivered' or ARGV[4] == '1') then
  redis.call('HSET', KEYS[1], 'state', 'pending')
  redis.call('ZADD', KEYS[2], 'NX', ARGV[6], ARGV[5])
end
return 1
`;

/**
 * What a failed send answered. Never moves a `dead` event back to `pending`, nor a `delivered` one
 * unless the job is a replay: a send that finishes after the event was settled without it (BullMQ's
 * stall limit failed the job while this run was still sending, and the fallback dead-lettered it)
 * must not undo that outcome, or the sweep would dead-letter (and audit) it a second time. A failed
 * replay of a delivered event is pending again (and in the pending index), so that its failing for
 * good is dead-lettered rather than lost behind `delivered`: the replay's own clean-up may not have
 * run yet when its first attempt fails.
 *
 * With `run` (countSend), returns false when the send is no longer that run's: its outcome was
 * decided, and counted, without it.
 */
export async function recordAttempt(
  deps: WebhookStoreDeps,
  eventId: string,
  info: { status?: number; error?: string; nowMs: number; replay?: boolean; run?: string },
): Promise<boolean> {
  const own = await evalScript(
    deps.redis,
    RECORD_ATTEMPT_SCRIPT,
    2,
    deps.keys.webhookEvent(eventId),
    webhookPendingKey(deps.keys),
    new Date(info.nowMs).toISOString(),
    info.status === undefined ? '' : String(info.status),
    info.error ?? '',
    info.replay ? '1' : '0',
    eventId,
    info.nowMs,
    info.run ?? '',
  );
  return own === 1;
}

export async function getDestinationState(deps: WebhookStoreDeps, url: string): Promise<DestinationState> {
  return destinationFrom(url, await deps.redis.hgetall(deps.keys.webhookDestination()));
}

// The state holds no URL: the caller has it, and the API shows only its label (shownDestination).
function destinationFrom(url: string, h: Record<string, string>): DestinationState {
  if (h.url !== url || !h.disabledAt) return { enabled: true };
  return {
    enabled: false,
    disabledAt: h.disabledAt,
    ...(h.status ? { status: Number(h.status) } : {}),
    ...(h.eventId ? { eventId: h.eventId } : {}),
  };
}

export interface DeliveryContext {
  event: StoredEvent | null;
  alreadyDelivered: boolean;
  /** The event is a dead letter (its `state`): only a replay sends it again. */
  deadLettered: boolean;
  /**
   * The job (jobInstance) that wrote the dead letter, when known: a replay's job run again after it
   * dead-lettered the event (its worker died before BullMQ recorded the failure) is still a replay,
   * and would send the dead event once more and record the one failure twice.
   */
  deadLetteredBy: string | undefined;
  destination: DestinationState | null;
  /** A destination backoff (its streak or owner, backoff.ts) is under way: the send passes its gate first. */
  backoff: boolean;
}

/** Everything the worker checks before an attempt, in one round trip. */
export async function loadDeliveryContext(
  deps: WebhookStoreDeps,
  eventId: string,
  url: string | undefined,
): Promise<DeliveryContext> {
  const backoff = destinationBackoffKeys(deps.keys);
  const results =
    (await deps.redis
      .pipeline()
      .hgetall(deps.keys.webhookEvent(eventId))
      .zscore(deps.keys.webhookDelivered(), eventId)
      .hgetall(deps.keys.webhookDestination())
      .exists(backoff.streakKey, backoff.ownerKey)
      .exec()) ?? [];
  for (const [err] of results) if (err) throw err;
  const [event, delivered, destination, episode] = results.map(([, value]) => value) as [
    Record<string, string>,
    string | null,
    Record<string, string>,
    number,
  ];
  return {
    event: parseStoredEvent(eventId, event),
    alreadyDelivered: delivered !== null,
    deadLettered: event.state === 'dead',
    deadLetteredBy: event.deadJob,
    destination: url === undefined ? null : destinationFrom(url, destination),
    backoff: Number(episode) > 0,
  };
}

/**
 * Disables delivery to `url` (persisted). True only for the caller that flipped it, so it is audited
 * once: `owed`, its audit record, is written as owed in the same step (owed-audit.ts), only by that call.
 */
export async function disableDestination(
  deps: WebhookStoreDeps,
  url: string,
  info: { status: number; eventId: string; nowMs: number },
  owed?: AuditInput,
): Promise<boolean> {
  const result = await evalScript(
    deps.redis,
    DISABLE_SCRIPT,
    2,
    deps.keys.webhookDestination(),
    owedAuditKey(deps.keys),
    url,
    new Date(info.nowMs).toISOString(),
    String(info.status),
    info.eventId,
    ...owedAuditArgs(owed),
  );
  return result === 1;
}

/** Re-enables delivery; returns the state it replaced. */
export async function enableDestination(deps: WebhookStoreDeps, url: string): Promise<DestinationState> {
  const before = await getDestinationState(deps, url);
  await deps.redis.del(deps.keys.webhookDestination());
  return before;
}

export type ReplayOutcome = 'queued' | 'already_queued' | 'not_found';

// KEYS: dead-letter set, event hash, pending index. ARGV: eventId, and the state, deadLetter and
// lastAttemptAt the replay saw before it queued the job, the time (ms), and the event TTL (s). Runs
// after the job is queued; leaves alone whatever the worker has decided since (a fresh dead letter,
// a delivery). An event it marks pending goes back into the pending index.
//
// The stored bytes are kept a full TTL from the replay: a dead letter replayed near the end of its
// TTL would otherwise expire under its new job's 28-hour schedule, and its job would find nothing
// to send, dead-letter nothing, and lose the event.
const REPLAY_QUEUED_SCRIPT = `
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('EXPIRE', KEYS[2], ARGV[6])
local h = redis.call('HMGET', KEYS[2], 'state', 'deadLetter', 'lastAttemptAt')
if (h[2] or '') ~= ARGV[3] then return 0 end
redis.call('HDEL', KEYS[2], 'deadLetter')
redis.call('ZREM', KEYS[1], ARGV[1])
local state = h[1] or ''
if state == ARGV[2] and (state ~= 'delivered' or (h[3] or '') == ARGV[4]) then
  redis.call('HSET', KEYS[2], 'state', 'pending')
  redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1])
end
return 1
`;

/** A job state after which the job will deliver nothing more (`unknown`: gone meanwhile). */
const isFinished = (state: string): boolean =>
  state === 'completed' || state === 'failed' || state === 'unknown';

/** How a replay is bounded: see replayEvent. */
export interface ReplayEventOptions {
  /**
   * The API request's deadline: once it has fired (the client was answered 503, "nothing enqueued"),
   * the replay queues nothing. Checked after the reads, right before the first write: a Redis that
   * stalled under a read and came back after the 503 must not see the job queued regardless.
   */
  signal?: AbortSignal;
  /**
   * Replay it only while it is still a dead letter (`skipped` otherwise): a replay of every dead
   * letter works from a snapshot, and another call may have replayed (and delivered) one since.
   */
  deadOnly?: boolean;
}

/**
 * Queues the stored event again under its own id, with its original bytes. A job for the id that is
 * still waiting, delayed or running is left alone (it will deliver); a finished one is replaced. Two
 * replays at once that both find it finished queue one job: the later one finds the job gone (and
 * adds one under the id, which BullMQ adds once) or queued again by the other (`already_queued`).
 *
 * The job is queued first, and only then is the dead letter removed and the event marked pending:
 * if queueing fails, the event is still listed as a dead letter (nothing vanishes from the operator's
 * views). The clean-up removes only the dead letter this replay saw, so a worker that already ran the
 * new job and dead-lettered it again (or delivered it) keeps its outcome.
 *
 * Throws RequestAbandonedError, having written nothing, when `opts.signal` fired before the writes.
 */
export async function replayEvent(
  deps: WebhookStoreDeps & { queue: Queue; schedule?: readonly number[] },
  eventId: string,
  opts: ReplayEventOptions & { deadOnly: true },
): Promise<ReplayOutcome | 'skipped'>;
export async function replayEvent(
  deps: WebhookStoreDeps & { queue: Queue; schedule?: readonly number[] },
  eventId: string,
  opts?: ReplayEventOptions & { deadOnly?: false },
): Promise<ReplayOutcome>;
export async function replayEvent(
  deps: WebhookStoreDeps & { queue: Queue; schedule?: readonly number[] },
  eventId: string,
  opts: ReplayEventOptions = {},
): Promise<ReplayOutcome | 'skipped'> {
  // One replay of an event at a time. Two at once both found no unfinished job and both added one;
  // BullMQ keeps the first of two jobs under one id and drops the second silently, so each answered
  // `queued` where the second is `already_queued`. A replay that dies holding it delays the next by
  // REPLAY_CLAIM_MS at most, which is answered `already_queued` meanwhile.
  const claim = deps.keys.custom('webhook-replay', eventId);
  const token = randomUUID();
  if ((await deps.redis.set(claim, token, 'PX', REPLAY_CLAIM_MS, 'NX')) === null) return 'already_queued';
  try {
    return await replayClaimed(deps, eventId, opts);
  } finally {
    await releaseIfHolder(deps.redis, claim, token).catch(() => undefined);
  }
}

/** How long a replay's claim on its event lasts (the replay's few round trips, with room to spare). */
const REPLAY_CLAIM_MS = 10_000;

async function replayClaimed(
  deps: WebhookStoreDeps & { queue: Queue; schedule?: readonly number[] },
  eventId: string,
  opts: ReplayEventOptions,
): Promise<ReplayOutcome | 'skipped'> {
  // The event and whether it is (still) a dead letter in one round trip.
  const read = (await deps.redis
    .pipeline()
    .hgetall(deps.keys.webhookEvent(eventId))
    .zscore(deps.keys.webhookDeadLetters(), eventId)
    .exec()) ?? [
    [null, {}],
    [null, null],
  ];
  for (const [err] of read) if (err) throw err;
  const seen = read[0]![1] as Record<string, string>;
  const event = parseStoredEvent(eventId, seen);
  if (!event) {
    await deps.redis.zrem(deps.keys.webhookDeadLetters(), eventId);
    return 'not_found';
  }
  if (opts.deadOnly && read[1]![1] === null) return 'skipped';
  const existing = await deps.queue.getJob(eventId);
  if (existing) {
    if (!isFinished(await existing.getState())) return 'already_queued';
    throwIfAbandoned(opts.signal, `the replay of ${eventId}`);
    try {
      await existing.remove();
    } catch (err) {
      // BullMQ refuses ("locked by another worker") when the job is no longer the finished one read
      // above: a concurrent replay removed it, and queued a new one a worker may be running already.
      const current = await deps.queue.getJob(eventId);
      if (current && !isFinished(await current.getState())) return 'already_queued';
      if (current) throw err;
    }
  }
  throwIfAbandoned(opts.signal, `the replay of ${eventId}`);
  await deps.queue.add(
    event.type,
    { eventId, replay: true },
    webhookJobOptions(eventId, deps.schedule ?? DEFAULT_RETRY_SCHEDULE_MS),
  );
  await evalScript(
    deps.redis,
    REPLAY_QUEUED_SCRIPT,
    3,
    deps.keys.webhookDeadLetters(),
    deps.keys.webhookEvent(eventId),
    webhookPendingKey(deps.keys),
    eventId,
    seen.state ?? '',
    seen.deadLetter ?? '',
    seen.lastAttemptAt ?? '',
    Date.now(),
    EVENT_TTL_SECONDS,
  );
  return 'queued';
}

/** Where a replay of every dead letter stops before it has gone through them all. */
export interface ReplayAllBounds {
  /**
   * No replay starts after this moment (Date.now() ms), though at least one does: each replay is
   * several Redis round trips, so a backlog of thousands would outlast the API request's deadline.
   */
  until?: number;
  /** The clock `until` is read on (Date.now by default). */
  now?: () => number;
  /**
   * Nothing is queued once this fires (the request was answered 503 at its deadline), not even by the
   * replay whose reads were under way: see ReplayEventOptions.
   */
  signal?: AbortSignal;
}

/** What a replay of every dead letter did, and how many of its snapshot it did not get to. */
export type ReplayAllResult = Record<ReplayOutcome, string[]> & { remaining: number };

/**
 * Replays the dead letters (oldest first) until the bounds stop it; `remaining` counts those of the
 * snapshot left for the next call, which still lists them as dead letters. One that is no longer a
 * dead letter when its turn comes (another call replayed it since the snapshot, and its job may have
 * delivered it already) is left out of every list: replaying it again would send it twice.
 */
export async function replayDeadLetters(
  deps: WebhookStoreDeps & { queue: Queue; schedule?: readonly number[] },
  bounds: ReplayAllBounds = {},
): Promise<ReplayAllResult> {
  const out: Record<ReplayOutcome, string[]> = { queued: [], already_queued: [], not_found: [] };
  // A snapshot: events dead-lettered while this runs wait for the next replay instead of looping.
  const ids = await deps.redis.zrange(deps.keys.webhookDeadLetters(), 0, '-1');
  const now = bounds.now ?? Date.now;
  let done = 0;
  for (const id of ids) {
    if (bounds.signal?.aborted) break;
    if (done > 0 && bounds.until !== undefined && now() >= bounds.until) break;
    let outcome: ReplayOutcome | 'skipped';
    try {
      outcome = await replayEvent(deps, id, {
        deadOnly: true,
        ...(bounds.signal ? { signal: bounds.signal } : {}),
      });
    } catch (err) {
      // The deadline fired during this one's reads: it queued nothing and is left for the next call.
      if (err instanceof RequestAbandonedError) break;
      throw err;
    }
    if (outcome !== 'skipped') out[outcome].push(id);
    done += 1;
  }
  return { ...out, remaining: ids.length - done };
}
