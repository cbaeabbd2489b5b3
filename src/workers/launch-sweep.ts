import type { Worker, WorkerOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { CampaignStore } from '../shared/campaign-store.js';
import { createCampaignStore } from '../shared/campaign-store.js';
import type { AppContext } from '../shared/context.js';
import { activateJobId } from '../shared/jobs.js';
import { QUEUES, type Keys } from '../shared/keys.js';
import {
  createLaunchStore,
  isAfterCursor,
  readScoredAfter,
  type IdempotencyClaim,
  type IndexedStatus,
  type LaunchStore,
  type ScoredEntry,
} from '../shared/launch-store.js';
import { releaseIfHolder, renewIfHolder } from '../shared/held-key.js';
import { evalScript } from '../shared/redis-script.js';
import { trackHandlerWork } from './handler-work.js';
import { settleGivenUpLaunch, settleJoblessRunningLaunch, settleLostLaunch } from './launch-failure.js';
import {
  defaultJobOptions,
  JOB_BACKOFF,
  KEEP_FAILED,
  slowestCxoneCallMs,
  workerOptions,
} from './worker-options.js';

/**
 * The launch sweep: settles launches whose job BullMQ failed for good while nothing recorded it.
 *
 * A launch job's final failure is recorded by its processor (failLaunch) or, when BullMQ gives the
 * job up without running it (its stall limit), by the worker's `failed` handler (finishGivenUpLaunch).
 * A kill, or a forced close past the shutdown deadline, can cut either off: the job sits in the launch
 * queue's failed set and its launch reads `queued` or `running` for the 30 days it is kept, while
 * `cxo launch` waits on it. The sweep finds those and finishes them through finishGivenUpLaunch, the
 * same code the handler runs: failed with a reason, audited, announced, a created campaign cancelled.
 *
 * Candidates come from the failed set alone, read in its own order (finish time) after a cursor kept
 * in Redis: its cost follows the launch jobs that failed, never the launches that succeeded, and a
 * successful launch pays nothing for it. A job that is waiting, active, delayed or prioritized is not
 * in that set, so its launch is never looked at. A completed job is not read either: processLaunch
 * returns only after recording the outcome, or after finding it recorded or claimed by a failure whose
 * own job is the failed one.
 *
 * A launch whose job is gone altogether — removed by hand before a worker began it, or never enqueued
 * (the API's enqueue failed, or its deadline passed, and nobody retried with its Idempotency-Key) —
 * leaves nothing in the failed set. Those are found through the index of launches not yet begun
 * (launch-store.ts queuedLaunchIndexKey), which the launch path keeps inside the scripts it runs
 * anyway: sweepLostLaunches below. A launch whose job was removed after a worker began it (its job
 * delayed for a retry and removed in Bull Board, the queue cleaned or obliterated) reads `running` with
 * no job: found the same way, through the index of running launches (runningLaunchIndexKey), by
 * sweepRunningLaunches below.
 */

/** A failed job younger than this is left to the `failed` handler that may still be recording it. */
export const DEFAULT_LAUNCH_SWEEP_GRACE_MS = 5 * 60_000;
/** How often a launch worker process looks (one process at a time, under a Redis lease). */
export const DEFAULT_LAUNCH_SWEEP_INTERVAL_MS = 60_000;
/** At most this many failed-set entries are read per sweep; the next sweep continues after them. */
export const DEFAULT_LAUNCH_SWEEP_MAX_SCAN = 2_000;

/**
 * A sweep's lease outlives its turn by this much while it settles launches: each settlement may wait
 * for CXone (the cancel of a created campaign), and another process must not start a second sweep
 * meanwhile, which would announce the same failure twice.
 */
const LEASE_MARGIN_MS = 120_000;

const PIPELINE_BATCH = 500;

const ACTIVATE_ID_START = activateJobId('');

/** Launch jobs' ids are their launch ids; the queue's other jobs are activations (`activate-…`). */
export function isLaunchJobId(jobId: string): boolean {
  return !jobId.startsWith(ACTIVATE_ID_START);
}

/** An entry of the failed set (its score: the job's finish time, ms) or of a launch index. */
export type SweepCursor = ScoredEntry;

export { isAfterCursor };

export function formatSweepCursor(cursor: SweepCursor): string {
  return `${cursor.score}:${cursor.id}`;
}

export function parseSweepCursor(raw: string | null): SweepCursor | null {
  if (!raw) return null;
  const sep = raw.indexOf(':');
  const score = Number(raw.slice(0, sep));
  if (sep <= 0 || !Number.isFinite(score)) return null;
  return { score, id: raw.slice(sep + 1) };
}

/** The launch statuses a job's final failure should have moved on from. */
export function isUnfinishedStatus(status: string | null): boolean {
  return status === 'queued' || status === 'running';
}

export function launchSweepCursorKey(keys: Keys): string {
  return keys.custom('launch-sweep', 'cursor');
}

export function launchSweepLeaseKey(keys: Keys): string {
  return keys.custom('launch-sweep', 'lease');
}

export interface LaunchSweepDeps {
  ctx: AppContext;
  launches: LaunchStore;
  campaigns: CampaignStore;
}

export interface LaunchSweepOptions {
  nowMs: number;
  graceMs?: number;
  maxScan?: number;
  /** Asked before each settlement; false stops the sweep there (its lease lost, its worker closing). */
  mayContinue?: () => Promise<boolean>;
}

export interface LaunchSweepResult {
  /** Failed-set entries read. */
  scanned: number;
  /** Launches recorded failed by this sweep. */
  settled: string[];
  /**
   * True when it stopped before the end of what it read: mayContinue said no, or another recorder (the
   * launch's `failed` handler, still at it) holds a launch's failure. The cursor stays there.
   */
  stopped: boolean;
}

/**
 * One sweep over the launch queue's failed set, from the cursor to `nowMs - graceMs`. The cursor moves
 * past what has been dealt with only: a settlement that throws (Redis away) stops the sweep before it,
 * and the next one tries that launch again.
 */
export async function sweepGivenUpLaunches(
  deps: LaunchSweepDeps,
  opts: LaunchSweepOptions,
): Promise<LaunchSweepResult> {
  const { ctx } = deps;
  const queue = ctx.queues.launch;
  const graceMs = opts.graceMs ?? DEFAULT_LAUNCH_SWEEP_GRACE_MS;
  const maxScan = Math.max(1, opts.maxScan ?? DEFAULT_LAUNCH_SWEEP_MAX_SCAN);
  const cursorKey = launchSweepCursorKey(ctx.keys);
  const cursor = parseSweepCursor(await ctx.redis.get(cursorKey));
  // Several jobs can fail in one millisecond: readScoredAfter skips those at the cursor's score up to
  // and including its id.
  const entries = await readScoredAfter(
    ctx.redis,
    queue.toKey('failed'),
    cursor,
    opts.nowMs - graceMs,
    maxScan,
  );
  const result: LaunchSweepResult = { scanned: entries.length, settled: [], stopped: false };
  let done: SweepCursor | null = null;
  try {
    for (let from = 0; from < entries.length; from += PIPELINE_BATCH) {
      const batch = entries.slice(from, from + PIPELINE_BATCH);
      const launchIds = batch.filter((e) => isLaunchJobId(e.id)).map((e) => e.id);
      const replies =
        launchIds.length > 0
          ? ((await ctx.redis
              .pipeline(launchIds.map((id) => ['hget', ctx.keys.launch(id), 'status']))
              .exec()) ?? [])
          : [];
      const unfinished = new Set<string>();
      replies.forEach(([err, status], i) => {
        if (err) throw err;
        if (isUnfinishedStatus(status as string | null)) unfinished.add(launchIds[i]!);
      });
      for (const entry of batch) {
        if (unfinished.has(entry.id)) {
          if (opts.mayContinue && !(await opts.mayContinue())) {
            result.stopped = true;
            return result;
          }
          const outcome = await settle(deps, entry.id);
          // Its recorder announces it; should that recorder die, its lease lapses and the next
          // sweep, starting here again, takes the launch over.
          if (outcome === 'held') {
            result.stopped = true;
            return result;
          }
          if (outcome === 'recorded') result.settled.push(entry.id);
        }
        done = entry;
      }
    }
    return result;
  } finally {
    // Kept as long as a failed job is: past that, whatever it pointed at is gone anyway.
    if (done) await ctx.redis.set(cursorKey, formatSweepCursor(done), 'EX', KEEP_FAILED.age);
  }
}

/**
 * A queued launch requested longer ago than this whose job is gone is failed. Long enough that a
 * launch between its record and its enqueue (the API's request, bounded by its deadline) is never
 * taken for lost; a launch whose job still waits in a backlog is never touched however old it is.
 */
export const DEFAULT_LOST_LAUNCH_GRACE_MS = 15 * 60_000;

/** Where the last sweep of the queued-launch index stopped (it goes round: see sweepLostLaunches). */
export function lostLaunchSweepCursorKey(keys: Keys): string {
  return keys.custom('launch-sweep', 'queued-cursor');
}

/** How long the cursor of a launch index's sweep is kept (lostLaunchSweepCursorKey, runningLaunchSweepCursorKey). */
const INDEX_CURSOR_TTL_SECONDS = 24 * 3600;

export interface LostLaunchSweepOptions {
  nowMs: number;
  /** DEFAULT_LOST_LAUNCH_GRACE_MS unless given: how long after its request a launch may be taken for lost. */
  graceMs?: number;
  maxScan?: number;
  /** Asked before each settlement; false stops the sweep there (its lease lost, its worker closing). */
  mayContinue?: () => Promise<boolean>;
}

export interface LostLaunchSweepResult {
  /** Index entries read. */
  scanned: number;
  /** Launches recorded failed by this sweep: no job, and no Idempotency-Key claim that could bring one. */
  settled: string[];
  /** No job, but the launch's Idempotency-Key claim is live: the client's retry would enqueue it. */
  keptForRetry: string[];
  /** Index entries whose launch record is gone, or no longer reads `queued`: taken out, nothing else. */
  dropped: string[];
  /** True when it stopped before the end of what it read (mayContinue said no, or a failure is held). */
  stopped: boolean;
}

const lostReason = (keyed: boolean) =>
  `the launch job was removed from the queue (by hand, or with the queue cleaned or obliterated) or ` +
  `never enqueued, and no worker began it` +
  (keyed ? `; no retry with its Idempotency-Key enqueued it before the key's 24 h claim lapsed` : '') +
  `; nothing was sent to CXone — submit the launch again (settled by the launch sweep)`;

/** What a sweep of a launch index reports: sweepLostLaunches's and sweepRunningLaunches's results. */
interface IndexSweepResult {
  scanned: number;
  settled: string[];
  dropped: string[];
  stopped: boolean;
}

/** One launch index's sweep: what sweepIndex is given by sweepLostLaunches and sweepRunningLaunches. */
interface IndexSweep<F extends string, R extends IndexSweepResult> {
  /** The index read (launch-store.ts launchIndexKey), and the status its launches are settled in. */
  status: IndexedStatus;
  cursorKey: string;
  nowMs: number;
  graceMs: number;
  maxScan?: number;
  /** The launch record's fields read beside its status, for `settle`. */
  fields: readonly F[];
  /** The result, nothing in it yet, for `scanned` entries read. */
  result: (scanned: number) => R;
  /**
   * Settles one launch that reads `status` and whose job hash is gone: `recorded` counts it settled,
   * `stopped` (mayContinue said no) and `held` (another recorder holds its failure) end the sweep there.
   */
  settle: (launchId: string, record: Record<F, string | null>, result: R) => Promise<string>;
}

/**
 * One sweep over a launch index, for the entries scored before `nowMs - graceMs`: reads each one's
 * record and whether its job exists, in pipelined batches; takes out an entry whose launch no longer
 * reads the index's status, and settles one whose job is gone. It goes round the index from a cursor,
 * `maxScan` entries at a time, and starts again at its head once it has read its end.
 */
async function sweepIndex<F extends string, R extends IndexSweepResult>(
  deps: LaunchSweepDeps,
  sweep: IndexSweep<F, R>,
): Promise<R> {
  const { ctx, launches } = deps;
  const queue = ctx.queues.launch;
  const maxScan = Math.max(1, sweep.maxScan ?? DEFAULT_LAUNCH_SWEEP_MAX_SCAN);
  const cursor = parseSweepCursor(await ctx.redis.get(sweep.cursorKey));
  const entries = await launches.indexedBefore(sweep.status, sweep.nowMs - sweep.graceMs, maxScan, cursor);
  const result = sweep.result(entries.length);
  let done: SweepCursor | null = null;
  try {
    for (let from = 0; from < entries.length; from += PIPELINE_BATCH) {
      const batch = entries.slice(from, from + PIPELINE_BATCH);
      const replies =
        (await ctx.redis
          .pipeline(
            batch.flatMap((e) => [
              ['hmget', ctx.keys.launch(e.id), 'status', ...sweep.fields],
              // The job's hash: BullMQ deletes it when the job is removed, in whatever state it was.
              ['exists', queue.toKey(e.id)],
            ]),
          )
          .exec()) ?? [];
      for (const [i, entry] of batch.entries()) {
        const [recordErr, record] = replies[2 * i] ?? [new Error('no reply')];
        const [jobErr, jobExists] = replies[2 * i + 1] ?? [new Error('no reply')];
        if (recordErr) throw recordErr;
        if (jobErr) throw jobErr;
        const [status, ...values] = record as (string | null)[];
        if (status !== sweep.status) {
          if (await launches.unindexUnless(sweep.status, entry.id)) result.dropped.push(entry.id);
        } else if (Number(jobExists) === 0) {
          const fields = Object.fromEntries(sweep.fields.map((f, j) => [f, values[j] ?? null]));
          const outcome = await sweep.settle(entry.id, fields as Record<F, string | null>, result);
          if (outcome === 'stopped' || outcome === 'held') {
            // A held failure: its recorder announces it; should it die, a later round takes it over.
            result.stopped = true;
            return result;
          }
          if (outcome === 'recorded') result.settled.push(entry.id);
        }
        done = entry;
      }
    }
    return result;
  } finally {
    if (done && (result.stopped || entries.length >= maxScan)) {
      await ctx.redis.set(sweep.cursorKey, formatSweepCursor(done), 'EX', INDEX_CURSOR_TTL_SECONDS);
    } else if (!result.stopped && entries.length < maxScan) {
      // Read to the end of the index's old entries: the next sweep goes round from its head.
      await ctx.redis.del(sweep.cursorKey);
    }
  }
}

/**
 * One sweep over the index of launches not yet begun, for those requested before `nowMs - graceMs`:
 * each whose job the launch queue does not hold is failed (settleLostLaunch: `launch_failed`,
 * `campaign.launch.failed`, under a recorder lease of its own), unless its Idempotency-Key's claim is
 * still live — the client's retry with that key enqueues it, so it stays `queued` until the claim
 * lapses. A launch whose job exists in any state is not touched: waiting, delayed, active or
 * prioritized it will run; failed, the failed-set sweep above settles it. An entry whose record is gone
 * or no longer `queued` is only taken out of the index.
 *
 * The index holds only launches that read `queued`, so a sweep costs nothing for launches that began
 * or finished, and reads nothing while no launch is older than the grace. Old entries that stay (a
 * backlog older than the grace, keyed launches awaiting their retry) are read `maxScan` at a time: the
 * sweep goes round the index from a cursor, and starts again at its head once it has read its end.
 */
export async function sweepLostLaunches(
  deps: LaunchSweepDeps,
  opts: LostLaunchSweepOptions,
): Promise<LostLaunchSweepResult> {
  return sweepIndex(deps, {
    status: 'queued',
    cursorKey: lostLaunchSweepCursorKey(deps.ctx.keys),
    nowMs: opts.nowMs,
    graceMs: opts.graceMs ?? DEFAULT_LOST_LAUNCH_GRACE_MS,
    maxScan: opts.maxScan,
    fields: ['idempotencyKey', 'actor'],
    result: (scanned): LostLaunchSweepResult => ({
      scanned,
      settled: [],
      keptForRetry: [],
      dropped: [],
      stopped: false,
    }),
    async settle(launchId, { idempotencyKey, actor }, result) {
      const outcome = await settleLost(deps, launchId, idempotencyKey, actor ?? 'unknown', opts);
      if (outcome === 'kept') result.keptForRetry.push(launchId);
      return outcome;
    },
  });
}

/** The CXone calls one run of a launch job makes at most: create; schedule and activate, each a read
 * and up to 3 If-Match writes with a re-read after each conflict; a read of a campaign found created. */
const LAUNCH_RUN_CXONE_CALLS = 15;

/** Never less than this, whatever short timeouts and locks the fleet is configured with. */
const MIN_RUNNING_LAUNCH_GRACE_MS = 60 * 60_000;

/** What the grace for a running launch without a job is derived from (runningLaunchGraceMs). */
export interface LaunchJobBounds {
  /** Attempts per launch job (the launch queue's defaultJobOptions: 10). */
  attempts: number;
  /** The longest backoff between two attempts (JOB_BACKOFF.capMs: 60 s). */
  backoffCapMs: number;
  /** The longest a single CXone call may take (slowestCxoneCallMs: a token, the call, a 401 retry). */
  cxoneCallMs: number;
  /** The launch worker's lock, stall check and stall limit (workerOptions). */
  lockDurationMs: number;
  stalledIntervalMs: number;
  maxStalledCount: number;
}

/**
 * How long after a worker first began a launch the sweep may take it, its job gone, for abandoned:
 * longer than the longest legitimate life of its job, so that a run still under way when its job was
 * removed (obliterated by force mid-run) has finished, its outcome recorded, before the sweep looks.
 * The running index keeps the first begin's time (a retry's begin keeps it), and retries of transient
 * CXone failures keep a launch `running` through all its attempts, so the grace covers them all:
 *
 *   attempts × (run + stalls + backoff)
 *
 * where a run makes at most LAUNCH_RUN_CXONE_CALLS calls, each taking at most its slowest (its HTTP
 * timeout three times over), a run whose worker dies waits out its lock and the next stall check
 * before it is run again, up to maxStalledCount times, and a retry waits at most the backoff's cap.
 * With the defaults (10 attempts, 10 s timeout so 30 s calls and a 30 s lock and stall check, 2 stalls,
 * 60 s cap): 10 × (450 + 120 + 60) s = 105 min. Not below one hour.
 *
 * Waits that no attempt counts are not in it: a 429 puts the job back delayed without spending an
 * attempt, and a call waits for the fleet's CXone budget as long as it must. Through those the job
 * exists, so the sweep never touches the launch (it acts only on a launch without a job); only a run
 * still going when its job was removed after such waits could be overtaken, and that run finds the
 * sweep's claim and records nothing (settleJoblessRunningLaunch).
 */
export function runningLaunchGraceMs(bounds: LaunchJobBounds): number {
  const runMs = LAUNCH_RUN_CXONE_CALLS * bounds.cxoneCallMs;
  const stallsMs = bounds.maxStalledCount * (bounds.lockDurationMs + bounds.stalledIntervalMs);
  const lifeMs = bounds.attempts * (runMs + stallsMs + bounds.backoffCapMs);
  return Math.max(MIN_RUNNING_LAUNCH_GRACE_MS, lifeMs);
}

/** The bounds of the fleet's launch jobs: its config, and the launch worker's options if given. */
export function launchJobBounds(
  ctx: AppContext,
  worker?: Pick<WorkerOptions, 'lockDuration' | 'stalledInterval' | 'maxStalledCount'>,
): LaunchJobBounds {
  const defaults = workerOptions(ctx, QUEUES.launch);
  const pick = <K extends 'lockDuration' | 'stalledInterval' | 'maxStalledCount'>(key: K): number =>
    Number(worker?.[key] ?? defaults[key] ?? 0);
  return {
    attempts: defaultJobOptions(QUEUES.launch).attempts ?? 1,
    backoffCapMs: JOB_BACKOFF.capMs,
    cxoneCallMs: slowestCxoneCallMs(ctx.config.cxone.timeoutMs),
    lockDurationMs: pick('lockDuration'),
    stalledIntervalMs: pick('stalledInterval'),
    maxStalledCount: pick('maxStalledCount'),
  };
}

/** Where the last sweep of the running-launch index stopped (it goes round, as the queued one does). */
export function runningLaunchSweepCursorKey(keys: Keys): string {
  return keys.custom('launch-sweep', 'running-cursor');
}

export interface RunningLaunchSweepOptions {
  nowMs: number;
  /** runningLaunchGraceMs(launchJobBounds(ctx)) unless given: how long after its first begin. */
  graceMs?: number;
  maxScan?: number;
  /** Asked before each settlement; false stops the sweep there (its lease lost, its worker closing). */
  mayContinue?: () => Promise<boolean>;
}

export interface RunningLaunchSweepResult {
  /** Index entries read. */
  scanned: number;
  /** Launches recorded failed by this sweep: begun, and their job gone. */
  settled: string[];
  /** Index entries whose launch record is gone, or no longer reads `running`: taken out, nothing else. */
  dropped: string[];
  /** True when it stopped before the end of what it read (mayContinue said no, or a failure is held). */
  stopped: boolean;
}

const removedWhileRunningReason = (lastError: string | null) =>
  `the launch job was removed from the queue (by hand, or with the queue cleaned or obliterated) after ` +
  `a worker began the launch, and no worker finished it` +
  (lastError ? ` (its last error: ${lastError})` : '') +
  `; a campaign it created on CXone, if any, is cancelled (\`cancelled\` says whether) — submit the ` +
  `launch again (settled by the launch sweep)`;

/**
 * One sweep over the index of running launches, for those a worker first began before
 * `nowMs - graceMs`: each whose job hash the launch queue does not hold (EXISTS on `queue.toKey(id)`:
 * BullMQ deletes it when it removes the job, in whatever state) is failed through failLaunch under a
 * recorder lease of its own (settleJoblessRunningLaunch: `launch_failed`, `campaign.launch.failed`, its
 * campaign cancelled or its stop queued). A launch whose job exists in any state is not touched:
 * waiting, delayed or active it will run again or is running; failed, the failed-set sweep settles it;
 * completed, its run recorded the outcome. An entry whose record is gone or no longer `running` is only
 * taken out of the index.
 *
 * The index holds only launches that read `running`, so a launch that finished costs this nothing,
 * and it reads nothing while no launch has been running longer than the grace. Old entries that stay
 * (launches retried for hours through CXone's 429s) are read `maxScan` at a time, going round from a
 * cursor as sweepLostLaunches does.
 */
export async function sweepRunningLaunches(
  deps: LaunchSweepDeps,
  opts: RunningLaunchSweepOptions,
): Promise<RunningLaunchSweepResult> {
  const queue = deps.ctx.queues.launch;
  return sweepIndex(deps, {
    status: 'running',
    cursorKey: runningLaunchSweepCursorKey(deps.ctx.keys),
    nowMs: opts.nowMs,
    graceMs: opts.graceMs ?? runningLaunchGraceMs(launchJobBounds(deps.ctx)),
    maxScan: opts.maxScan,
    fields: ['actor', 'lastError'],
    result: (scanned): RunningLaunchSweepResult => ({ scanned, settled: [], dropped: [], stopped: false }),
    async settle(launchId, { actor, lastError }) {
      if (opts.mayContinue && !(await opts.mayContinue())) return 'stopped';
      // The claim looks at the job hash again, atomically with the launch's status: a worker's
      // outcome or a job added back since the pipeline read keeps the launch out of the sweep's hands.
      return settleJoblessRunningLaunch(
        deps,
        { launchId, actor: actor ?? 'unknown' },
        queue.toKey(launchId),
        removedWhileRunningReason(lastError),
        sweepRecorder(),
      );
    },
  });
}

/** Whether a launch's Idempotency-Key still claims it: a retry with that key would enqueue it. */
async function claimLive(deps: LaunchSweepDeps, launchId: string, key: string): Promise<boolean> {
  const raw = await deps.ctx.redis.get(deps.ctx.keys.launchIdempotency(key));
  if (!raw) return false;
  try {
    return (JSON.parse(raw) as IdempotencyClaim).launchId === launchId;
  } catch {
    return false;
  }
}

/** Fails one queued launch whose job is gone, unless a live Idempotency-Key claim keeps it for a retry. */
async function settleLost(
  deps: LaunchSweepDeps,
  launchId: string,
  idempotencyKey: string | null,
  actor: string,
  opts: Pick<LostLaunchSweepOptions, 'mayContinue'>,
): Promise<'recorded' | 'held' | 'finished' | 'kept' | 'present' | 'begun' | 'stopped'> {
  if (idempotencyKey && (await claimLive(deps, launchId, idempotencyKey))) return 'kept';
  if (opts.mayContinue && !(await opts.mayContinue())) return 'stopped';
  // Asked of the queue itself, just before settling: a job added since the pipeline read is left to run.
  // One added after this look and begun at once is left to its worker too: the claim is taken only
  // while the launch reads `queued` (settleLostLaunch).
  if (await deps.ctx.queues.launch.getJob(launchId)) return 'present';
  return settleLostLaunch(deps, { launchId, actor }, lostReason(Boolean(idempotencyKey)), sweepRecorder());
}

/** Finishes one launch whose job sits failed, under a recorder name of this sweep's own. */
async function settle(
  deps: LaunchSweepDeps,
  launchId: string,
): Promise<'recorded' | 'held' | 'skipped' | 'finished'> {
  const job = await deps.ctx.queues.launch.getJob(launchId);
  // Retried or removed since it was read: its next run, or nothing, is what is left to record.
  if (!job) return 'skipped';
  const why = job.failedReason || 'failed';
  return settleGivenUpLaunch(
    deps,
    job,
    new Error(`${why} (its failure was not recorded when it failed; settled by the launch sweep)`),
    sweepRecorder(),
  );
}

/** A name no other recorder has: two sweeps that overlap (a lease lost mid-sweep) exclude each other too. */
function sweepRecorder(): string {
  return `sweep:${process.pid}-${Math.random().toString(36).slice(2)}`;
}

export interface LaunchSweepLease {
  /** Who holds it: given back to the next takeLaunchSweepLease, it lets this holder take its next turn. */
  readonly token: string;
  /** Extends the lease while sweeping; false once it is no longer this sweep's. */
  renew(): Promise<boolean>;
  /** Keeps the lease to the end of the turn (`intervalMs` after it was taken), or frees it if past. */
  end(): Promise<void>;
}

/**
 * SET PX if the key is free or still holds ARGV[1] (the caller's previous turn), then ARGV[2].
 * KEYS[1] lease; ARGV[1] previous token ('' for none), ARGV[2] token, ARGV[3] ms.
 */
const TAKE_TURN = `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', tonumber(ARGV[3]))
return 1
`;

/**
 * Takes the sweep's turn: a lease for the one process that sweeps now, or null. Leases run on the
 * process's own clock, as the webhook sweep's turn does: Redis times them.
 *
 * A turn ends `intervalMs` after it was taken, a few milliseconds after the holder's next tick (taken
 * a round trip into it): taken with NX only, that tick would find its own lease and skip, and the
 * fleet would sweep only when some other process's tick happened to fall after the lapse — every other
 * interval in a fleet of one. So the holder passes its previous lease (`previous`) and takes its next
 * turn over it; every other process finds the lease held until the holder stops taking turns.
 */
export async function takeLaunchSweepLease(
  redis: Redis,
  keys: Keys,
  intervalMs: number,
  nowMs: () => number = Date.now,
  previous?: string,
): Promise<LaunchSweepLease | null> {
  const key = launchSweepLeaseKey(keys);
  const token = previous ?? `${process.pid}-${nowMs()}-${Math.random().toString(36).slice(2)}`;
  const leaseMs = intervalMs + LEASE_MARGIN_MS;
  const takenAt = nowMs();
  const taken = await evalScript(redis, TAKE_TURN, 1, key, previous ?? '', token, String(leaseMs));
  if (Number(taken) !== 1) return null;
  return {
    token,
    renew: () => renewIfHolder(redis, key, token, leaseMs),
    // A sweep done early keeps the lease for the rest of its turn, so the fleet sweeps at most once
    // per interval; one done late frees it.
    async end() {
      const left = intervalMs - (nowMs() - takenAt);
      if (left > 0) await renewIfHolder(redis, key, token, left);
      else await releaseIfHolder(redis, key, token);
    },
  };
}

export interface LaunchSweepSchedule {
  intervalMs?: number;
  /** The failed-set sweep's grace (DEFAULT_LAUNCH_SWEEP_GRACE_MS). */
  graceMs?: number;
  /** The queued-launch index sweep's grace (DEFAULT_LOST_LAUNCH_GRACE_MS). */
  lostGraceMs?: number;
  /** The running-launch index sweep's grace (runningLaunchGraceMs of the fleet's launch jobs). */
  runningGraceMs?: number;
  maxScan?: number;
  /**
   * Told of each sweep and the turn it ran under (its lease's token: tests, logs): the failed-set
   * sweep's result, with the queued-launch index sweep's as `lost` and the running-launch index
   * sweep's as `running` (each absent when it threw, or was not run: the worker pausing or closing).
   */
  onSwept?: (
    result: LaunchSweepResult & { lost?: LostLaunchSweepResult; running?: RunningLaunchSweepResult },
    turn: { token: string },
  ) => void;
}

/**
 * Runs the launch sweep beside a launch worker, every `intervalMs`, in whichever process takes the
 * lease. Not while the worker is paused (the fleet claim pauses it when another fleet shares the
 * prefix: nothing of this fleet may write then), and never after it closed: its pause() and graceful
 * close() wait for a sweep under way (handler-work.ts), which stops before its next settlement.
 */
export function withLaunchSweep(ctx: AppContext, worker: Worker, schedule: LaunchSweepSchedule = {}): Worker {
  const intervalMs = schedule.intervalMs ?? DEFAULT_LAUNCH_SWEEP_INTERVAL_MS;
  if (intervalMs <= 0) return worker;
  const log = ctx.logger.child({ component: 'launch-sweep' });
  const deps: LaunchSweepDeps = {
    ctx,
    launches: createLaunchStore(ctx),
    campaigns: createCampaignStore(ctx),
  };
  // Derived from this worker's own lock and stall settings (a fleet with overrides: tests, tuning).
  const runningGraceMs = schedule.runningGraceMs ?? runningLaunchGraceMs(launchJobBounds(ctx, worker.opts));
  const work = trackHandlerWork(worker);
  let closing = false;
  let running = false;
  const idle = () => closing || worker.isPaused();

  /** This process's last turn: its next one is taken over it (takeLaunchSweepLease). */
  let lastTurn: string | undefined;

  function warnSettled(settled: string[], message: string): void {
    if (settled.length > 0) log.warn({ launchIds: settled.slice(0, 20), count: settled.length }, message);
  }

  /**
   * A turn's sweep of a launch index (sweepLostLaunches, sweepRunningLaunches), unless the worker is
   * idle by then: one that throws is logged (`failed`) and answers undefined, its launches settled warned
   * of (`settled`).
   */
  async function sweepIndexInTurn<R extends { settled: string[] }>(
    sweep: (deps: LaunchSweepDeps, opts: LostLaunchSweepOptions & RunningLaunchSweepOptions) => Promise<R>,
    graceMs: number | undefined,
    mayContinue: () => Promise<boolean>,
    messages: { failed: string; settled: string },
  ): Promise<R | undefined> {
    if (idle()) return undefined;
    const result = await sweep(deps, {
      nowMs: ctx.clock.now(),
      graceMs,
      maxScan: schedule.maxScan,
      mayContinue,
    }).catch((err: unknown) => {
      log.error({ err }, messages.failed);
      return undefined;
    });
    if (result) warnSettled(result.settled, messages.settled);
    return result;
  }

  async function sweepOnce(): Promise<void> {
    const lease = await takeLaunchSweepLease(
      ctx.redis,
      ctx.keys,
      intervalMs,
      () => ctx.clock.now(),
      lastTurn,
    );
    lastTurn = lease?.token;
    if (!lease) return;
    const mayContinue = async () => !idle() && (await lease.renew());
    try {
      // The two sweeps are independent: one that throws (its next turn tries again) does not hold
      // the other back.
      let givenUpError: unknown;
      const result = await sweepGivenUpLaunches(deps, {
        nowMs: ctx.clock.now(),
        graceMs: schedule.graceMs,
        maxScan: schedule.maxScan,
        mayContinue,
      }).catch((err: unknown) => {
        givenUpError = err ?? new Error('launch sweep failed');
        return undefined;
      });
      if (result) {
        warnSettled(
          result.settled,
          'launches whose job failed without their failure being recorded: recorded failed now',
        );
      }
      const lost = await sweepIndexInTurn(sweepLostLaunches, schedule.lostGraceMs, mayContinue, {
        failed: 'launch sweep of the queued-launch index failed; the next one tries again',
        settled: 'queued launches whose job was removed or never enqueued: recorded failed now',
      });
      const running = await sweepIndexInTurn(sweepRunningLaunches, runningGraceMs, mayContinue, {
        failed: 'launch sweep of the running-launch index failed; the next one tries again',
        settled: 'running launches whose job was removed after a worker began them: recorded failed now',
      });
      if (!result) throw givenUpError;
      schedule.onSwept?.(
        { ...result, ...(lost ? { lost } : {}), ...(running ? { running } : {}) },
        { token: lease.token },
      );
    } finally {
      await lease.end();
    }
  }

  const timer = setInterval(() => {
    if (running || idle()) return;
    running = true;
    const started = work.run(() =>
      sweepOnce()
        .catch((err: unknown) => log.error({ err }, 'launch sweep failed; the next one tries again'))
        .finally(() => {
          running = false;
        }),
    );
    if (!started) running = false;
  }, intervalMs);
  timer.unref();
  const close = worker.close.bind(worker);
  worker.close = async (force?: boolean) => {
    closing = true;
    clearInterval(timer);
    return close(force);
  };
  return worker;
}
