import type { Redis } from 'ioredis';
import type { z } from 'zod';
import { systemClock, type Clock } from './clock.js';
import type { CampaignRecord } from './campaign-store.js';
import type { AppContext } from './context.js';
import type { CampaignStatus } from './cxone/wire.js';
import type { PreparedAudit } from './audit/audit-script.js';
import type { PreparedEvent } from './events/types.js';
import type { Keys } from './keys.js';
import { isRunning } from './lifecycle/state-machine.js';
import {
  RECORDS_WITH_CHANGE_LUA,
  recordsScriptSlots,
  settleRecords,
  type RecordsReply,
} from './records-with-change.js';
import { evalScript } from './redis-script.js';
import type { launchRecordSchema } from './responses/launch.js';

export const LAUNCH_STATUSES = ['queued', 'running', 'succeeded', 'failed'] as const;
export type LaunchStatus = (typeof LAUNCH_STATUSES)[number];

/**
 * One Redis hash per launch; GET /v1/launches/:launchId shows it. Its shape is its schema's
 * (src/shared/responses/launch.ts), from which the documented answer is derived.
 */
export type LaunchRecord = z.output<typeof launchRecordSchema>;

/** Launch records are kept this long; the idempotency key only for a day, as payment APIs do. */
export const LAUNCH_RETENTION_SECONDS = 30 * 24 * 3600;
export const IDEMPOTENCY_TTL_SECONDS = 24 * 3600;

/** Audit chain of a launch before CXone has given it a campaign id (request, early failure). */
export function launchAuditId(launchId: string): string {
  return `launch:${launchId}`;
}

const TERMINAL: readonly LaunchStatus[] = ['succeeded', 'failed'];

/**
 * A failed launch's `cleanupError`: what failed (the stop it queued, or the direct cancel when none
 * was queued) and why. The one wording for the reason the workers store (campaignGoneReason) and for
 * the one the view reads off a failed stop a stale record still names (routes/launches.ts).
 */
export function cleanupErrorText(stopId: string | undefined, why: string): string {
  return `${stopId ? `the stop ${stopId}` : 'the cancel'} failed (${why})`;
}

/**
 * The `cleanupError` of a failed launch whose cleanup (the direct cancel, or the stop `stopId`) met
 * CXone's 404 for its campaign: nothing was cancelled, and the campaign may live on in another tenant.
 */
export function campaignGoneReason(campaignId: string, stopId?: string): string {
  return cleanupErrorText(
    stopId,
    `not_found: CXone answered 404 for campaign ${campaignId}: deleted outside the orchestrator or another tenant's; nothing was cancelled`,
  );
}

/**
 * Whether a failed launch's cleanup leaves its campaign running instead of cancelling it: running
 * (active or paused) and started in CXone (its console), not by the orchestrator — no campaign record
 * (every activation of ours syncs one first), one its launch took over as started outside, or one no
 * activating write of the orchestrator's was ever sent for (`activationSent`, written before every one
 * is: a scheduled campaign an operator activated in the console before its start). The one rule for
 * the cleanup's own cancel (launch-cleanup.ts) and for the stop it queues when CXone refused that
 * (lifecycle/hooks.ts), which may run long after, when an operator may have started it. Pure.
 */
export function startedOutsideOrchestrator(
  status: CampaignStatus,
  record: Pick<CampaignRecord, 'startedOutside' | 'activationSent'> | null,
): boolean {
  return (
    isRunning(status) &&
    (record === null || record.startedOutside !== undefined || record.activationSent === undefined)
  );
}

/**
 * The status the orchestrator last knew a campaign started outside it in: the takeover's mark, else
 * the record's status before CXone's start (a record a read has synced running since was scheduled:
 * every record the launch writes before an activation is), else draft (the launch made it, no
 * record). Pure.
 */
export function startedOutsideFrom(
  record: Pick<CampaignRecord, 'startedOutside' | 'status'> | null,
): CampaignStatus {
  if (record?.startedOutside) return record.startedOutside.from;
  if (!record) return 'draft';
  return isRunning(record.status) ? 'scheduled' : record.status;
}

/**
 * The `cleanupError` of a failed launch whose campaign its cleanup left running
 * (startedOutsideOrchestrator): cancelling it would stop an operator's campaign. `stopId`: the stop
 * the cleanup had queued, which found it so when it came to run and was withdrawn. `watch`: whether
 * the orchestrator watches it from now on (started-outside.ts watchLeftRunning), or why it could not.
 */
export function startedOutsideReason(
  campaignId: string,
  status: string,
  stopId?: string,
  watch?: { watched: true } | { watched: false; error: string },
): string {
  const watched =
    watch === undefined
      ? ''
      : watch.watched
        ? '; it is watched as every campaign the orchestrator runs (statistics polls, the abandonment guard, its calling windows)'
        : `; it could NOT be watched (${watch.error}), so nothing keeps it to its calling windows or the abandonment cap: stop it in CXone unless someone watches it`;
  return (
    `campaign ${campaignId} was left ${status}, not cancelled${stopId ? ` (its stop ${stopId} withdrawn)` : ''}: ` +
    `it was started outside the orchestrator (in CXone), so whether it keeps running is the operator's call${watched}`
  );
}

/**
 * The index of launches no worker has begun: a sorted set of launch ids scored by `requestedAt` (ms),
 * holding exactly the launches that read `queued`. Written only inside the scripts that create a
 * launch (CREATE_SCRIPT adds it), begin one (BEGIN_SCRIPT removes it) and finish one (UPDATE_SCRIPT,
 * from `finish`, removes it), so the launch path sends no command for it, and a launch that has begun
 * or finished holds nothing in it. The launch sweep reads its old entries to find launches whose job
 * is gone (removed by hand, or never enqueued) — launch-sweep.ts sweepLostLaunches.
 */
export function queuedLaunchIndexKey(keys: Keys): string {
  // Not `launch:…` (BullMQ's job keys of the `launch` queue): see keys.ts.
  return keys.custom('launches-queued');
}

/**
 * The index of launches a worker has begun and nothing has finished: a sorted set of launch ids scored
 * by when a worker first began them (ms), holding the launches that read `running`. Kept, like the
 * queued index, only inside scripts the launch path runs anyway: BEGIN_SCRIPT moves the launch here
 * from the queued index (the first begin's time: a retry or a redelivery keeps it), an outcome
 * (UPDATE_SCRIPT, from `finish`) takes it out of both. A finished launch holds nothing in it. The
 * launch sweep reads its old entries to find running launches whose job is gone (removed by hand
 * after a worker began it) — launch-sweep.ts sweepRunningLaunches.
 */
export function runningLaunchIndexKey(keys: Keys): string {
  return keys.custom('launches-running');
}

/** The statuses a launch index holds: `queued` (queuedLaunchIndexKey) and `running` (runningLaunchIndexKey). */
export type IndexedStatus = Extract<LaunchStatus, 'queued' | 'running'>;

/** The index of the launches that read `status`. */
export function launchIndexKey(keys: Keys, status: IndexedStatus): string {
  return status === 'queued' ? queuedLaunchIndexKey(keys) : runningLaunchIndexKey(keys);
}

/** An entry of a sorted set: its member and its score. */
export interface ScoredEntry {
  score: number;
  id: string;
}

/** Whether an entry lies after the cursor in a sorted set's order (score, then id). */
export function isAfterCursor(entry: ScoredEntry, cursor: ScoredEntry | null): boolean {
  if (!cursor) return true;
  return entry.score > cursor.score || (entry.score === cursor.score && entry.id > cursor.id);
}

/**
 * Entries of the sorted set `key` after the cursor with a score up to `maxScore`, oldest first, at most
 * `limit`. Several entries can share a score (jobs that fail, launches requested, in one millisecond):
 * those at the cursor's score are skipped up to and including its id, page by page however many share it.
 */
export async function readScoredAfter(
  redis: Redis,
  key: string,
  cursor: ScoredEntry | null,
  maxScore: number,
  limit: number,
): Promise<ScoredEntry[]> {
  const min = cursor ? String(cursor.score) : '-inf';
  const entries: ScoredEntry[] = [];
  for (let offset = 0; ;) {
    const flat = await redis.zrangebyscore(key, min, String(maxScore), 'WITHSCORES', 'LIMIT', offset, limit);
    for (let i = 0; i < flat.length && entries.length < limit; i += 2) {
      const entry = { id: flat[i]!, score: Number(flat[i + 1]) };
      if (isAfterCursor(entry, cursor)) entries.push(entry);
    }
    const read = flat.length / 2;
    if (entries.length >= limit || read < limit) return entries;
    offset += read;
  }
}

/**
 * Atomically claims an Idempotency-Key and creates the launch record, indexed as queued, and writes the
 * event announcing it (`campaign.launch.requested`) and the audit record of the request when given.
 * Either all happen or, when the key is already taken, none does and the earlier claim is returned —
 * so two concurrent requests with one key can never both go on to enqueue, and a replay announces and
 * records nothing. The claim is looked up (GET) and the types of the keys written checked
 * (`require_types`) before anything is written: Redis does not roll a script back, so a script that
 * fails (EVENT_WRITE_LUA) leaves no event, no claim and no record behind. The audit record is left to
 * its caller (PreparedAudit.settle) when the chain cannot take it here (AUDIT_APPEND_LUA).
 *
 * KEYS[1] idempotency key ('' slot unused when ARGV[1] = '0'), KEYS[2] launch hash, KEYS[3] the
 * queued-launch index, then the event's KEYS (when there is one) and the audit record's (when there
 * is one); ARGV[1] '1' when an idempotency key is used, ARGV[2] claim JSON, ARGV[3] key TTL s, ARGV[4]
 * record TTL s, ARGV[5] launch id, ARGV[6] its index score (requestedAt, ms), ARGV[7…] the event's
 * slots (eventScriptSlots), the audit record's (auditScriptSlots), then field/value pairs of the
 * record. Answers the earlier claim (a string), or records_reply (a table).
 */
const CREATE_SCRIPT = `${RECORDS_WITH_CHANGE_LUA}
if ARGV[1] == '1' then
  local existing = redis.call('GET', KEYS[1])
  if existing then
    return existing
  end
end
local records = check_records_at(4, 7)
require_types(KEYS[2], 'hash', KEYS[3], 'zset')
write_records(records)
if ARGV[1] == '1' then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', tonumber(ARGV[3]))
end
redis.call('HSET', KEYS[2], unpack(ARGV, records.args_end))
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[4]))
redis.call('ZADD', KEYS[3], tonumber(ARGV[6]), ARGV[5])
return records_reply(records)
`;

/** When an update may be written (UPDATE_SCRIPT's ARGV[1]). */
type UpdateWhen =
  /** The outcome itself. */
  | 'always'
  /**
   * Not once finished (a redelivered job cannot move succeeded back to running), nor once a failure
   * has claimed it (a run that hung past the stall limit cannot record a campaign or a success the
   * failure would not clean up).
   */
  | 'unfinished'
  /** Only once succeeded: what came of its delayed activation. */
  | 'succeeded'
  /** Only once failed, or claimed by a failure: what came of the cleanup its failure queued. */
  | 'failed';

/**
 * What an update does to the campaign → launch marker (`launchOfCampaign`): sets it, naming the launch
 * until it finishes (or until the stop a failed launch queued went through), or deletes it.
 */
type MarkerChange = { campaignId: string; op: 'set' | 'del' };

/**
 * Updates a launch when its status allows it (ARGV[1], an UpdateWhen), and with it the campaign →
 * launch marker KEYS[2] (ARGV[2]: '' leaves it, 'del' deletes it, else a TTL in seconds to set it to
 * ARGV[3]); ARGV[4] names fields to remove (space separated); ARGV[5] the launch id to take out of the
 * queued-launch index KEYS[3] and the running-launch index KEYS[4] ('' for none: only an outcome takes
 * it out); ARGV[6…] the slots of the event announcing the update (eventScriptSlots; its KEYS from
 * KEYS[5]) and of the audit record recording it (auditScriptSlots; its KEYS after the event's),
 * written only when the update is, and after every written key's type is checked (a script that fails
 * then leaves nothing, as Redis does not roll a script back); then field/value pairs. Answers -1 (no
 * launch), 0 (not written), or 1 followed by records_reply (a table).
 */
const UPDATE_SCRIPT = `${RECORDS_WITH_CHANGE_LUA}
if redis.call('EXISTS', KEYS[1]) == 0 then
  return -1
end
local when = ARGV[1]
if when ~= 'always' then
  local status = redis.call('HGET', KEYS[1], 'status')
  local failing = redis.call('HEXISTS', KEYS[1], 'failing') == 1
  local finished = status == 'succeeded' or status == 'failed'
  if (when == 'unfinished' and (finished or failing))
    or (when == 'succeeded' and status ~= 'succeeded')
    or (when == 'failed' and status ~= 'failed' and not failing) then
    return 0
  end
end
local records = check_records_at(5, 6)
if ARGV[5] ~= '' then
  require_types(KEYS[1], 'hash', KEYS[3], 'zset', KEYS[4], 'zset')
else
  require_types(KEYS[1], 'hash')
end
write_records(records)
if ARGV[2] == 'del' then
  redis.call('DEL', KEYS[2])
elseif ARGV[2] ~= '' then
  redis.call('SET', KEYS[2], ARGV[3], 'EX', tonumber(ARGV[2]))
end
for field in string.gmatch(ARGV[4], '%S+') do
  redis.call('HDEL', KEYS[1], field)
end
if ARGV[5] ~= '' then
  redis.call('ZREM', KEYS[3], ARGV[5])
  redis.call('ZREM', KEYS[4], ARGV[5])
end
redis.call('HSET', KEYS[1], unpack(ARGV, records.args_end))
local reply = records_reply(records)
table.insert(reply, 1, 1)
return reply
`;

/**
 * Takes a launch out of an index unless it still reads the status that index holds.
 * KEYS[1] launch hash, KEYS[2] the index; ARGV[1] launch id, ARGV[2] the index's status.
 */
const UNINDEX_UNLESS_SCRIPT = `
if redis.call('HGET', KEYS[1], 'status') == ARGV[2] then
  return 0
end
return redis.call('ZREM', KEYS[2], ARGV[1])
`;

/** The reason of the stop command a failed launch queues when CXone refused its cancel. */
export const LAUNCH_FAILED_REASON = 'launch-failed';

/**
 * A launch job's first step: reads the record and, unless it already finished, marks it running and
 * indexes it as running (NX: scored by the first begin, which a retry or a redelivery keeps), in one
 * round trip; either way it is no longer an unbegun launch, and leaves the queued-launch index.
 * Returns the record as it was before (HGETALL pairs; empty when there is none).
 *
 * KEYS[1] launch hash, KEYS[2] the queued-launch index, KEYS[3] the running-launch index;
 * ARGV[1] updatedAt, ARGV[2] launch id, ARGV[3] now (ms, the running index's score).
 */
const BEGIN_SCRIPT = `
redis.call('ZREM', KEYS[2], ARGV[2])
local raw = redis.call('HGETALL', KEYS[1])
if #raw == 0 then
  return raw
end
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'succeeded' and status ~= 'failed' then
  redis.call('HSET', KEYS[1], 'status', 'running', 'updatedAt', ARGV[1])
  redis.call('ZADD', KEYS[3], 'NX', tonumber(ARGV[3]), ARGV[2])
end
return raw
`;

/**
 * Marks a launch's create about to leave without an Idempotency-Key (launch-create.ts), unless one may
 * have left already: the launch names a campaign, or another run's mark is there (a run that lost its
 * job's lock to this one, or died with its create in flight) — two runs must never both send one.
 * KEYS[1] launch hash; ARGV[1] when (ISO), ARGV[2] this run's token, ARGV[3] updatedAt. Answers 1 when
 * marked; 0 when the launch is finished, claimed by a failure, or gone; else the mark already there (its
 * `createSentAt`, or '' when the launch names a campaign).
 */
const MARK_CREATE_SCRIPT = `
local f = redis.call('HMGET', KEYS[1], 'status', 'failing', 'createSentAt', 'campaignId')
if not f[1] or f[1] == 'succeeded' or f[1] == 'failed' or f[2] then
  return 0
end
if f[3] then
  return f[3]
end
if f[4] then
  return ''
end
redis.call('HSET', KEYS[1], 'createSentAt', ARGV[1], 'createSentBy', ARGV[2], 'updatedAt', ARGV[3])
return 1
`;

/** Takes a run's create mark back, only while it is still that run's (KEYS[1] launch hash; ARGV[1] its token). */
const FORGET_CREATE_SCRIPT = `
if redis.call('HGET', KEYS[1], 'createSentBy') ~= ARGV[1] then
  return 0
end
redis.call('HDEL', KEYS[1], 'createSentAt', 'createSentBy')
return 1
`;

/** What `markCreateSent` found: marked for this run, or why not. */
export type CreateMark =
  { kind: 'marked' } | { kind: 'unfinished' } | { kind: 'sent'; at: string } | { kind: 'created' };

/**
 * A failure's claim on a launch: unless it has finished, marks it `failing` (keeping the first claim's
 * reason) and returns the campaign it names at that moment — the one the failure must clean up. From
 * then on `recordCreated` and a success are refused, so no run can add a campaign or an outcome the
 * failure would not know of.
 *
 * The claim also names who is recording the failure, in a key of its own that Redis expires (a lease):
 * the launch job's `failed` handler and the launch sweep can both come to one launch (a handler slower
 * than the sweep's grace), and only one of them may announce it. Another recorder's live lease answers
 * `held`; an expired one, or a claim that names nobody (a recorder that died), is taken over. The same
 * script renews the lease, so a recorder calls it again just before it announces: if someone took over
 * meanwhile it learns so there, and stays silent.
 *
 * With ARGV[4] = 'queued' (the launch sweep's claim on a launch whose job it found gone) it claims only
 * a launch that still reads `queued`: one a worker began meanwhile (its job added late, then taken at
 * once) belongs to that worker, which goes on to CXone — answered {'begun'}, nothing written. Begun
 * after this claim, the worker finds it (`failing`) and stops before CXone.
 *
 * With ARGV[4] = 'running' (the sweep's claim on a begun launch whose job it found gone) it claims only
 * a launch that still reads `running` and whose job hash KEYS[3] does not exist, both looked at in the
 * same script: a worker's outcome written just before wins ({status}), and a job there again (added
 * back by hand) answers {'present'} and keeps its run. Claimed first, the worker still running the
 * removed job finds the claim at its next write (`recordCreated`, `finish`: refused) and announces
 * nothing.
 *
 * KEYS[1] launch hash, KEYS[2] its recorder lease, KEYS[3] the launch's job hash (the launch hash
 * again when unused); ARGV[1] reason, ARGV[2] recorder, ARGV[3] lease ms, ARGV[4] '' (any unfinished
 * launch), 'queued' or 'running'. Returns {'claimed', reason, campaignId or ''}, {'held', recorder},
 * {status} when finished, {'begun'}, {'not-running', status}, {'present'}, or {'gone'}.
 */
const CLAIM_FAILURE_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'gone'}
end
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'succeeded' or status == 'failed' then
  return {status}
end
if ARGV[4] == 'queued' and status ~= 'queued' then
  return {'begun'}
end
if ARGV[4] == 'running' then
  if status ~= 'running' then
    return {'not-running', status or ''}
  end
  if redis.call('EXISTS', KEYS[3]) == 1 then
    return {'present'}
  end
end
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[2] then
  return {'held', holder}
end
redis.call('SET', KEYS[2], ARGV[2], 'PX', tonumber(ARGV[3]))
redis.call('HSETNX', KEYS[1], 'failing', ARGV[1])
return {'claimed', redis.call('HGET', KEYS[1], 'failing'), redis.call('HGET', KEYS[1], 'campaignId') or ''}
`;

/**
 * The recorder of failures that come from the launch job itself (its final failure, its redelivery
 * finding a claim, its `failed` handler): BullMQ never runs those for one job at once, and each may
 * finish what an earlier one of them left half-done. The launch sweep claims under names of its own.
 */
export const JOB_FAILURE_RECORDER = 'job';

/**
 * How long a failure's recorder holds the launch without renewing: shorter than the sweep's grace, so
 * the sweep finds the lease of a recorder that died gone, and no longer blocked on it.
 */
export const FAILURE_RECORDER_LEASE_MS = 120_000;

export type FailureClaim =
  | { kind: 'claimed'; reason: string; campaignId?: string }
  | { kind: 'finished'; status: 'succeeded' | 'failed' }
  /** Another recorder is recording this failure now: it announces it, not this one. */
  | { kind: 'held'; recorder: string }
  | { kind: 'gone' };

export interface IdempotencyClaim {
  launchId: string;
  /** SHA-256 of the canonical request body, to tell a replay from a reuse of the key for something else. */
  fingerprint: string;
}

export type CreateLaunchResult = { created: true } | { created: false; existing: IdempotencyClaim };

type StoredFields = Partial<Omit<LaunchRecord, 'launchId'>>;

function encode(fields: StoredFields & { launchId?: string }): string[] {
  const out: string[] = [];
  for (const [field, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    out.push(field, typeof value === 'string' ? value : JSON.stringify(value));
  }
  return out;
}

/** A launch's score in the queued-launch index: when it was requested, or now if that does not parse. */
function indexScore(requestedAt: string, clock: Clock): number {
  const ms = Date.parse(requestedAt);
  return Number.isFinite(ms) ? ms : clock.now();
}

function pairsToObject(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < pairs.length; i += 2) out[pairs[i] as string] = pairs[i + 1] as string;
  return out;
}

function decode(raw: Record<string, string>): LaunchRecord | null {
  if (!raw.launchId || !raw.status) return null;
  const record: Record<string, unknown> = { ...raw };
  if (raw.cxoneVersion !== undefined) record.cxoneVersion = Number(raw.cxoneVersion);
  if (raw.cancelled !== undefined) record.cancelled = raw.cancelled === 'true';
  return record as unknown as LaunchRecord;
}

export class LaunchStore {
  private readonly redis: Redis;
  private readonly keys: Keys;
  private readonly clock: Clock;
  private readonly recorderLeaseMs: number;

  constructor(ctx: LaunchStoreContext) {
    this.redis = ctx.redis;
    this.keys = ctx.keys;
    this.clock = ctx.clock ?? systemClock;
    this.recorderLeaseMs = ctx.failureRecorderLeaseMs ?? FAILURE_RECORDER_LEASE_MS;
  }

  private now(): string {
    return new Date(this.clock.now()).toISOString();
  }

  /**
   * Creates a queued launch; with an idempotency claim, only if the key was free (atomic). `event`
   * (the launch's `campaign.launch.requested`) and `audit` (its `launch_requested` record) are written
   * by the same script, only when the launch is created, and their after-write steps run then
   * (PreparedEvent, PreparedAudit).
   */
  async create(
    record: Pick<LaunchRecord, 'launchId' | 'actor' | 'name' | 'requestedAt'>,
    idempotency?: { key: string; fingerprint: string },
    event?: PreparedEvent,
    audit?: PreparedAudit,
  ): Promise<CreateLaunchResult> {
    const fields: StoredFields & { launchId: string } = {
      ...record,
      status: 'queued',
      updatedAt: this.now(),
      idempotencyKey: idempotency?.key,
    };
    const claim: IdempotencyClaim = {
      launchId: record.launchId,
      fingerprint: idempotency?.fingerprint ?? '',
    };
    const slots = recordsScriptSlots(event, audit);
    const reply = (await evalScript(
      this.redis,
      CREATE_SCRIPT,
      3 + slots.keys.length,
      idempotency ? this.keys.launchIdempotency(idempotency.key) : this.keys.launch(record.launchId),
      this.keys.launch(record.launchId),
      queuedLaunchIndexKey(this.keys),
      ...slots.keys,
      idempotency ? '1' : '0',
      JSON.stringify(claim),
      String(IDEMPOTENCY_TTL_SECONDS),
      String(LAUNCH_RETENTION_SECONDS),
      record.launchId,
      String(indexScore(record.requestedAt, this.clock)),
      ...slots.args,
      ...encode(fields),
    )) as string | RecordsReply;
    if (typeof reply === 'string') return { created: false, existing: JSON.parse(reply) as IdempotencyClaim };
    await settleRecords(reply, event, audit);
    return { created: true };
  }

  async get(launchId: string): Promise<LaunchRecord | null> {
    return decode(await this.redis.hgetall(this.keys.launch(launchId)));
  }

  /**
   * A launch job's start: the record as it was, and — unless it had already finished — marked
   * running, atomically (what `get` then `update({ status: 'running' })` did in two round trips).
   * Null when there is no record.
   */
  async begin(launchId: string): Promise<LaunchRecord | null> {
    const nowMs = this.clock.now();
    const pairs = (await evalScript(
      this.redis,
      BEGIN_SCRIPT,
      3,
      this.keys.launch(launchId),
      queuedLaunchIndexKey(this.keys),
      runningLaunchIndexKey(this.keys),
      new Date(nowMs).toISOString(),
      launchId,
      String(nowMs),
    )) as string[];
    return decode(pairsToObject(pairs));
  }

  /**
   * Sets fields on a launch that has not finished yet. Returns false when it had already finished
   * (the caller is a redelivered job and must not change the outcome) or does not exist.
   */
  async update(launchId: string, fields: StoredFields): Promise<boolean> {
    return this.write(launchId, fields, 'unfinished');
  }

  /**
   * Marks the launch's create (sent without an Idempotency-Key) as about to leave, for this run
   * (`token`), unless one may have left already (MARK_CREATE_SCRIPT).
   */
  async markCreateSent(launchId: string, token: string): Promise<CreateMark> {
    const now = this.now();
    const answer = (await evalScript(
      this.redis,
      MARK_CREATE_SCRIPT,
      1,
      this.keys.launch(launchId),
      now,
      token,
      now,
    )) as number | string;
    if (answer === 1) return { kind: 'marked' };
    if (answer === 0) return { kind: 'unfinished' };
    return answer === '' ? { kind: 'created' } : { kind: 'sent', at: String(answer) };
  }

  /** Takes back this run's create mark (its create was not carried out); another run's is left. */
  async forgetCreateSent(launchId: string, token: string): Promise<boolean> {
    return (await evalScript(this.redis, FORGET_CREATE_SCRIPT, 1, this.keys.launch(launchId), token)) === 1;
  }

  /**
   * The campaign the launch created on CXone, recorded before anything else can fail (a retry then
   * reads it instead of creating another), with the marker `launchOfCampaign` reads until the launch
   * finishes. False when the launch had already finished or does not exist. `audit` (the campaign's
   * `campaign_created` record) is written by the same script, only when the campaign is recorded.
   */
  async recordCreated(
    launchId: string,
    campaignId: string,
    cxoneVersion: number,
    audit?: PreparedAudit,
  ): Promise<boolean> {
    return this.write(launchId, { campaignId, cxoneVersion }, 'unfinished', {
      marker: { campaignId, op: 'set' },
      audit,
    });
  }

  /**
   * The stop a failed launch queued for its campaign (CXone refused the cancel then) went through.
   * False when the launch is not a failed one.
   */
  async recordCleanedUp(
    launchId: string,
    campaignId: string,
    fields: Pick<StoredFields, 'campaignStatus' | 'cxoneVersion'>,
  ): Promise<boolean> {
    // `cancelled`, as on a cleanup done at once: whether it ended as cancelled (a campaign that had
    // started dialing ends as completed). No stop pending any more: the command is no longer named.
    return this.write(launchId, { ...fields, cancelled: fields.campaignStatus === 'cancelled' }, 'failed', {
      marker: { campaignId, op: 'del' },
      remove: ['cancelCommandId', 'cleanupError'],
    });
  }

  /**
   * The stop a failed launch queued for its campaign found that CXone no longer knows the campaign
   * (404: deleted, or a CXone that lost its state): nothing is left on CXone to cancel, so no stop is
   * pending any more, and nothing was cancelled — said in `cleanupError` (campaignGoneReason, naming
   * `stopId`, the stop that met the 404, when there was one). One script, written only on a failed
   * launch or one a failure has claimed. False when the launch is not a failed one.
   */
  async recordCampaignGone(launchId: string, campaignId: string, stopId?: string): Promise<boolean> {
    const cleanupError = campaignGoneReason(campaignId, stopId);
    return this.write(launchId, { cancelled: false, cleanupError }, 'failed', {
      marker: { campaignId, op: 'del' },
      remove: ['cancelCommandId'],
    });
  }

  /**
   * The stop a failed launch queued for its campaign found it started outside the orchestrator when it
   * came to run (startedOutsideOrchestrator) and was withdrawn: the campaign is left running, no stop
   * is pending any more, and `cleanupError` says why (startedOutsideReason). One script, written only on
   * a failed launch or one a failure has claimed. False when the launch is not a failed one.
   */
  async recordLeftRunning(
    launchId: string,
    campaignId: string,
    fields: Pick<StoredFields, 'campaignStatus' | 'cxoneVersion'> & { cleanupError: string },
  ): Promise<boolean> {
    return this.write(launchId, { ...fields, cancelled: false }, 'failed', {
      marker: { campaignId, op: 'del' },
      remove: ['cancelCommandId'],
    });
  }

  /**
   * The launch creating or scheduling this campaign (before its campaign record exists), or the failed
   * one whose stop of it is still retrying, if any.
   */
  async launchOfCampaign(campaignId: string): Promise<string | null> {
    return this.redis.get(this.campaignMarker(campaignId));
  }

  /**
   * Claims the launch for a failure (CLAIM_FAILURE_SCRIPT): the first step of recording one, before
   * its campaign is cleaned up, so that nothing can be recorded on the launch meanwhile; and again
   * before announcing it, so that of two recorders only the one still holding it announces.
   */
  async claimFailure(
    launchId: string,
    reason: string,
    recorder: string = JOB_FAILURE_RECORDER,
  ): Promise<FailureClaim> {
    // Without a required status, the script answers none of the others.
    const claim = await this.claim(launchId, reason, recorder, '');
    return claim.kind === 'begun' || claim.kind === 'present' || claim.kind === 'not-running'
      ? { kind: 'gone' }
      : claim;
  }

  /**
   * claimFailure for a launch no worker has begun (the launch sweep's, for a launch whose job it found
   * gone): `begun` when the launch no longer reads `queued` — a worker took it after the sweep looked
   * at the queue, and its run, not the sweep, decides its outcome. Atomic with BEGIN_SCRIPT: either the
   * worker begins first (this answers `begun`) or finds the claim (`failing`) and stops before CXone.
   */
  async claimUnbegunFailure(
    launchId: string,
    reason: string,
    recorder: string,
  ): Promise<FailureClaim | { kind: 'begun' }> {
    const claim = await this.claim(launchId, reason, recorder, 'queued');
    return claim.kind === 'not-running' || claim.kind === 'present' ? { kind: 'gone' } : claim;
  }

  /**
   * claimFailure for a begun launch whose job the launch sweep found gone (removed by hand after a
   * worker began it): taken only while the launch reads `running` and its job hash (`jobKey`, the
   * launch queue's `queue.toKey(launchId)`) does not exist, atomically. `finished` when a worker's
   * outcome landed first; `present` when the job is there again (its run decides); `not-running` when
   * the launch reads something else (`queued`: a record written by hand; nothing done).
   */
  async claimJoblessRunningFailure(
    launchId: string,
    jobKey: string,
    reason: string,
    recorder: string,
  ): Promise<FailureClaim | { kind: 'present' } | { kind: 'not-running'; status: string }> {
    const claim = await this.claim(launchId, reason, recorder, 'running', jobKey);
    return claim.kind === 'begun' ? { kind: 'gone' } : claim;
  }

  private async claim(
    launchId: string,
    reason: string,
    recorder: string,
    requiredStatus: '' | 'queued' | 'running',
    jobKey?: string,
  ): Promise<
    FailureClaim | { kind: 'begun' } | { kind: 'present' } | { kind: 'not-running'; status: string }
  > {
    const [kind, a, b] = (await evalScript(
      this.redis,
      CLAIM_FAILURE_SCRIPT,
      3,
      this.keys.launch(launchId),
      this.failureRecorderKey(launchId),
      // The slot is declared either way; without a job to look at, the launch's own key stands in.
      jobKey ?? this.keys.launch(launchId),
      reason,
      recorder,
      String(this.recorderLeaseMs),
      requiredStatus,
    )) as string[];
    if (kind === 'claimed') return { kind, reason: a ?? reason, ...(b ? { campaignId: b } : {}) };
    if (kind === 'held') return { kind, recorder: a ?? '' };
    if (kind === 'succeeded' || kind === 'failed') return { kind: 'finished', status: kind };
    if (kind === 'begun' || kind === 'present') return { kind };
    if (kind === 'not-running') return { kind, status: a ?? '' };
    return { kind: 'gone' };
  }

  /**
   * Launches in the index of `status` that reached it at or before `maxScore` (ms): for `queued`, when
   * they were requested; for `running`, when a worker first began them. Oldest first, after `after`
   * (the index's order: score, then id), at most `limit` — the launch sweep's candidates for a launch
   * whose job is gone, not yet begun or begun.
   */
  async indexedBefore(
    status: IndexedStatus,
    maxScore: number,
    limit: number,
    after?: ScoredEntry | null,
  ): Promise<ScoredEntry[]> {
    return readScoredAfter(this.redis, launchIndexKey(this.keys, status), after ?? null, maxScore, limit);
  }

  /**
   * Takes a launch out of the index of `status` unless it still reads `status` (its record is gone —
   * expired after its 30 days — or it began or finished under a release that did not keep the index).
   * True when it was taken out.
   */
  async unindexUnless(status: IndexedStatus, launchId: string): Promise<boolean> {
    const removed = await evalScript(
      this.redis,
      UNINDEX_UNLESS_SCRIPT,
      2,
      this.keys.launch(launchId),
      launchIndexKey(this.keys, status),
      launchId,
      status,
    );
    return Number(removed) === 1;
  }

  /** Left to expire once the failure is recorded: a finished launch answers every claim first. */
  private failureRecorderKey(launchId: string): string {
    return this.keys.custom('launch-failure-recorder', launchId);
  }

  /**
   * Records the outcome. A failure (claimed first: `claimFailure`) may overwrite; a success is written
   * only to a launch neither finished nor claimed by a failure, so a run that hung past BullMQ's stall
   * limit, whose launch was meanwhile given up and failed, cannot turn it into a success when it wakes.
   * False when nothing was written.
   *
   * `event` (the outcome's `campaign.launch.succeeded` or `.failed`) is written by the same script, and
   * only when the outcome is: a process that dies after the outcome cannot lose its announcement, and
   * an outcome refused (false) announces nothing. Its after-write step runs once written.
   */
  async finish(
    launchId: string,
    fields: StoredFields & { status: 'succeeded' | 'failed' },
    event?: PreparedEvent,
  ): Promise<boolean> {
    const marker = fields.campaignId ? { marker: { campaignId: fields.campaignId, op: 'del' as const } } : {};
    // An outcome takes the launch out of the queued- and running-launch indexes, in the same script.
    return fields.status === 'succeeded'
      ? this.write(launchId, fields, 'unfinished', { ...marker, unindex: true, event })
      : this.write(launchId, fields, 'always', { ...marker, remove: ['failing'], unindex: true, event });
  }

  /**
   * A campaign that a late run created for a launch already recorded failed without it (the run hung
   * past BullMQ's stall limit, and the failure knew of no campaign to clean up): named on the failed
   * launch with what its cleanup came to. While a stop is still retrying, the campaign → launch marker
   * leads that stop's success back here (recordCleanedUp). False when the launch is not a failed one.
   */
  async recordLateCampaign(
    launchId: string,
    campaignId: string,
    fields: Pick<
      StoredFields,
      'cancelled' | 'campaignStatus' | 'cxoneVersion' | 'cancelCommandId' | 'cleanupError'
    >,
  ): Promise<boolean> {
    // A failure that named no campaign may have said one could exist (a create asked again went
    // unanswered): that is this campaign, found now, so the warning goes unless its cleanup has its own.
    const remove = [
      ...(fields.cancelCommandId ? [] : ['cancelCommandId']),
      ...(fields.cleanupError ? [] : ['cleanupError']),
    ];
    return this.write(launchId, { ...fields, campaignId }, 'failed', {
      marker: { campaignId, op: fields.cancelCommandId ? 'set' : 'del' },
      ...(remove.length ? { remove } : {}),
    });
  }

  private campaignMarker(campaignId: string): string {
    return this.keys.custom('campaign-launch', campaignId);
  }

  /**
   * What the delayed activation of a succeeded launch came to, so the launch does not go on reading
   * `scheduled` once the campaign dials (or was stopped before its start, or could not be activated),
   * or an `activateAt` its activation has moved.
   * Returns false when the launch is not (or no longer) a succeeded one.
   */
  async recordActivation(
    launchId: string,
    fields: Pick<
      StoredFields,
      'campaignStatus' | 'cxoneVersion' | 'activateAt' | 'activatedAt' | 'activationError'
    >,
    /** The activation's announcement, written by the same script (nothing when it is refused). */
    event?: PreparedEvent,
  ): Promise<boolean> {
    return this.write(launchId, fields, 'succeeded', { event });
  }

  isTerminal(record: Pick<LaunchRecord, 'status'>): boolean {
    return TERMINAL.includes(record.status);
  }

  /** True when written; false when the launch's status did not allow it, or there is no launch. */
  private async write(
    launchId: string,
    fields: StoredFields,
    when: UpdateWhen,
    opts: {
      marker?: MarkerChange;
      remove?: readonly string[];
      unindex?: boolean;
      event?: PreparedEvent | undefined;
      audit?: PreparedAudit | undefined;
    } = {},
  ): Promise<boolean> {
    const { marker, event, audit } = opts;
    const slots = recordsScriptSlots(event, audit);
    const result = (await evalScript(
      this.redis,
      UPDATE_SCRIPT,
      4 + slots.keys.length,
      this.keys.launch(launchId),
      // Without a marker change the launch's own key stands in, untouched (same hash slot).
      marker ? this.campaignMarker(marker.campaignId) : this.keys.launch(launchId),
      queuedLaunchIndexKey(this.keys),
      runningLaunchIndexKey(this.keys),
      ...slots.keys,
      when,
      marker?.op === 'del' ? 'del' : marker?.op === 'set' ? String(LAUNCH_RETENTION_SECONDS) : '',
      marker?.op === 'set' ? launchId : '',
      (opts.remove ?? []).join(' '),
      opts.unindex ? launchId : '',
      ...slots.args,
      ...encode({ ...fields, updatedAt: this.now() }),
    )) as number | [written: number, ...RecordsReply];
    if (!Array.isArray(result)) return false;
    const [, ...reply] = result;
    await settleRecords(reply, event, audit);
    return true;
  }
}

export type LaunchStoreContext = Pick<AppContext, 'redis' | 'keys'> & {
  clock?: Clock;
  /** FAILURE_RECORDER_LEASE_MS unless given (tests that let a recorder's lease lapse). */
  failureRecorderLeaseMs?: number;
};

export function createLaunchStore(ctx: LaunchStoreContext): LaunchStore {
  return new LaunchStore(ctx);
}
