import { DelayedError, UnrecoverableError, Worker, type Job, type WorkerOptions } from 'bullmq';
import type { CampaignConfig } from '../shared/campaign-config.js';
import {
  configFromResource,
  createCampaignStore,
  type CampaignRecord,
  type CampaignStore,
} from '../shared/campaign-store.js';
import { importIfChangedOutside, queueHistoryImport } from '../shared/audit/history-sync.js';
import { noteCleanupFoundMissing } from '../shared/campaign-missing.js';
import { scheduleWindowEnforcement } from '../shared/compliance/enforcement.js';
import { checkOutsideChange } from '../shared/compliance/outside-change.js';
import { recordDeploymentOverrides } from '../shared/compliance/overrides.js';
import { StartWindowPassedError, startWindowCheck } from '../shared/compliance/start-at-send.js';
import { statsScopeCheck } from '../shared/compliance/scope-at-send.js';
import type { AppContext } from '../shared/context.js';
import { createKeyStillRemembered, launchIdempotencyKey } from '../shared/cxone/idempotency.js';
import { mayHaveBeenApplied } from '../shared/cxone/outcome-unknown.js';
import { toCreateCampaignRequest } from '../shared/cxone/to-wire.js';
import type { CampaignResource, CampaignStatus, UpdateCampaignRequest } from '../shared/cxone/wire.js';
import { CxoneConflictError, CxoneNotFoundError, isCxoneError } from '../shared/errors.js';
import {
  ACTIVATE_JOB,
  activateJobId,
  activateJobSchema,
  launchJobSchema,
  type ActivateJob,
  type LaunchJob,
} from '../shared/jobs.js';
import { QUEUES } from '../shared/keys.js';
import {
  campaignGoneReason,
  createLaunchStore,
  JOB_FAILURE_RECORDER,
  LAUNCH_FAILED_REASON,
  launchAuditId,
  startedOutsideOrchestrator,
  startedOutsideReason,
  type LaunchStore,
} from '../shared/launch-store.js';
import { enqueueCommand, getCommand } from '../shared/lifecycle/enqueue.js';
import { canTransition, isFinal, isRunning } from '../shared/lifecycle/state-machine.js';
import { launchOutcomes } from '../shared/metrics.js';
import { recordSafeStart, safeStartPacingRecord } from '../shared/pacing/safe-start.js';
import { ownSafeStartInPlace, startingCallRate, type SafeStart } from '../shared/pacing/start.js';
import { ensurePolling } from '../shared/polling/schedulers.js';
import { classifyError } from '../shared/retry/classify.js';
import type { AuditInput } from '../shared/audit/types.js';
import { auditOrLog, auditWithChange, publishOrLog } from '../shared/side-records.js';
import { recordStartedOutside, watchLeftRunning, type LeftRunningWatch } from '../shared/started-outside.js';
import { isLastAttempt, rethrowForBullmq } from './job-errors.js';
import { timedProcessor } from './job-timing.js';
import { nextActivationWakeMs, nextLaunchStep, planActivation, type ActivationPlan } from './launch-plan.js';
import {
  CampaignMissingAtStartError,
  createScheduledCheckInterval,
  noteFoundAtLook,
  noteMissingAtLook,
} from './scheduled-check.js';
import { trackHandlerWork } from './handler-work.js';
import { redelayAfterRun } from '../shared/redelay-job.js';
import { currentAttempt, JOB_BACKOFF, workerOptions } from './worker-options.js';

/** The fleet's identity in audit records and CXone history. */
const ACTOR = 'worker:launch';

/**
 * An activation job due later than this is added concurrently with the campaign record's sync: no
 * worker can pick it up before the sync's two round trips have landed.
 */
const CONCURRENT_ACTIVATION_MIN_DELAY_MS = 5_000;

/** How often a held activation (settings that break a compliance rule) looks again. */
const NONCOMPLIANT_RECHECK_MS = 5 * 60_000;

/** Version conflicts on one transition are re-read and retried this many times before giving up. */
const TRANSITION_ATTEMPTS = 3;

export type LaunchJobResult =
  | { outcome: 'skipped'; reason: string }
  | { outcome: 'succeeded'; campaignId: string; campaignStatus: CampaignStatus; activateAt?: string };

interface Deps {
  ctx: AppContext;
  launches: LaunchStore;
  campaigns: CampaignStore;
  /** The worker's lock duration, for extending the lock when checking it is still held. */
  lockMs: number;
  /** How often a scheduled campaign is looked at before its start (scheduled-check.ts). */
  scheduledCheckInterval?: () => Promise<number>;
}

const checkIntervalOf = (deps: Deps): Promise<number> =>
  (deps.scheduledCheckInterval ?? createScheduledCheckInterval(deps.ctx))();

/**
 * Moves a campaign to `target` with If-Match on a fresh version. A 409 means somebody changed the
 * campaign between our read and our write: re-read and decide again (the target may already be
 * reached, or no longer reachable). `known` is what the caller just read (or the create response),
 * saving one GET. `alsoSet` adds other fields to the same versioned write, decided on the version
 * the write is based on (so a retry after a 409 decides again on the fresh read); it runs only when
 * the status actually changes. Throws UnrecoverableError when the campaign's state forbids the
 * transition.
 */
async function transition(
  ctx: AppContext,
  campaignId: string,
  target: CampaignStatus,
  opts: {
    attempt: number;
    known?: Pick<CampaignResource, 'status' | 'version'>;
    alsoSet?: (current: CampaignResource) => Omit<UpdateCampaignRequest, 'status'>;
    /** Called with the extra fields of the write that went through. */
    onWritten?: (extra: Omit<UpdateCampaignRequest, 'status'>) => void;
    /** Runs when the write's permit is granted, just before it is sent; a throw keeps it unsent. */
    beforeSend?: () => void;
    /**
     * Awaited with the extra fields once they are decided, before the write asks for its permit (again
     * after a 409); a throw keeps it unsent. Where a run saves what its write carries, for a later run
     * that finds the write in place with its answer lost.
     */
    beforeWrite?: (extra: Omit<UpdateCampaignRequest, 'status'>, version: number) => Promise<void>;
    /**
     * Statuses that end the transition without a write when a fresh read finds them (the campaign
     * changed in CXone since): that resource is returned instead of the error, for the caller to act on.
     */
    settleOn?: (status: CampaignStatus) => boolean;
  },
): Promise<CampaignResource> {
  const read = () =>
    ctx.cxone.getCampaign(campaignId, { priority: 'control', campaignId, attempt: opts.attempt });
  let current: Pick<CampaignResource, 'status' | 'version'> = opts.known ?? (await read());
  let fresh = opts.known === undefined;
  for (let i = 1; ; i++) {
    if (current.status === target) {
      if (fresh) return current as CampaignResource;
      current = await read();
      fresh = true;
      continue;
    }
    if (opts.settleOn?.(current.status)) {
      if (fresh) return current as CampaignResource;
      current = await read();
      fresh = true;
      continue;
    }
    if (!canTransition(current.status, target)) {
      throw new UnrecoverableError(
        `campaign ${campaignId} is ${current.status} on CXone and cannot become ${target}`,
      );
    }
    // The extra fields are decided on the whole resource; a create response carries only its status.
    if (opts.alsoSet && !isFullResource(current)) {
      current = await read();
      fresh = true;
      continue;
    }
    const extra = opts.alsoSet && isFullResource(current) ? opts.alsoSet(current) : {};
    await opts.beforeWrite?.(extra, current.version);
    try {
      const written = await ctx.cxone.updateCampaign(
        campaignId,
        current.version,
        { ...extra, status: target },
        { priority: 'control', campaignId, attempt: opts.attempt, beforeSend: opts.beforeSend },
      );
      opts.onWritten?.(extra);
      return written;
    } catch (err) {
      if (!(err instanceof CxoneConflictError) || i >= TRANSITION_ATTEMPTS) throw err;
      ctx.logger.info(
        { campaignId, target, version: current.version },
        'version conflict; re-reading the campaign',
      );
      current = await read();
      fresh = true;
    }
  }
}

const isFullResource = (value: Pick<CampaignResource, 'status' | 'version'>): value is CampaignResource =>
  'dialerSettings' in value;

/** Whether BullMQ will give up on the job after this failure (so the launch must be recorded as failed). */
export function isFinalFailure(err: unknown, job: Pick<Job, 'attemptsMade' | 'opts'>): boolean {
  return isLastAttempt(classifyError(err, { attempt: job.attemptsMade + 1, backoff: JOB_BACKOFF }), job);
}

function describe(err: unknown): string {
  const decision = classifyError(err, { attempt: 1, backoff: JOB_BACKOFF });
  if (decision.kind === 'permanent') return decision.message;
  return err instanceof Error ? err.message : String(err);
}

/**
 * Why a launch failed for good. A failure that was worth retrying says that the retries ran out, so
 * "CXone answered 503" does not read as the first and only try, and what to do about it.
 */
function finalReason(
  err: unknown,
  attempt: number,
  remedy = 'once CXone answers again, submit the launch again',
): string {
  const decision = classifyError(err, { attempt: 1, backoff: JOB_BACKOFF });
  if (decision.kind === 'permanent') return decision.message;
  const message = err instanceof Error ? err.message : String(err);
  const tries = attempt === 1 ? '1 attempt' : `${attempt} attempts`;
  // Only CXone's failures are CXone's to fix; anything else (Redis, a bug) is for the logs.
  const advice = isCxoneError(err) ? remedy : 'see the worker logs for this error';
  return `${message} (gave up after ${tries}; ${advice})`;
}

/**
 * After a campaign went active: start watching it (stats polling, calling-window enforcement).
 * `stored` is the config and status just written to the campaign record, when this run wrote it:
 * enforcement plans from them instead of reading the record back.
 */
async function startWatching(
  ctx: AppContext,
  campaignId: string,
  config: CampaignConfig,
  stored: { config: CampaignConfig; status: CampaignStatus } | undefined,
): Promise<void> {
  await ensurePolling(ctx, campaignId, config.pacing?.pollIntervalMs);
  await scheduleWindowEnforcement(ctx, campaignId, stored);
}

/**
 * Activates a scheduled campaign now (an active or paused one is left as it is) and starts watching
 * it. Idempotent: a redelivered job goes through it again safely. `before` is the resource the caller
 * has just read or written; it is not read again, because the activation is an If-Match write on its
 * version: a change made since turns into a 409, and `transition` re-reads and decides again.
 * Throws StartWindowPassedError, nothing sent, when the activating write's permit comes at a moment
 * `input.config` no longer allows a start (start-at-send.ts): the caller schedules the next open; and
 * StatsScopeMissingError, nothing sent, while the token lacks the statistics scope (scope-at-send.ts).
 */
async function activateNow(
  deps: Deps,
  input: {
    campaignId: string;
    launchId: string;
    config: CampaignConfig;
    attempt: number;
    actor: string;
    before: CampaignResource;
    /** Found dialing before its start, activated in CXone: the safe start is applied to it now. */
    takeover?: boolean;
    /**
     * A later run that found the campaign active with no safe start recorded: the callRate the launch
     * planned its start from (unrecordedStartFrom). The campaign active at exactly that start is the
     * launch's own activation whose answer was lost, and its safe start is recorded now.
     */
    plannedFrom?: number;
    /**
     * Saves the callRate the activating write plans its safe start from, before the write is sent: a
     * later run that finds the campaign active, the write's answer lost, recognises its start by it
     * (`plannedFrom`) even when a refresh from CXone has put the start rate in the record meanwhile.
     */
    saveStartFrom?: (requestedCallRate: number) => Promise<void>;
    /**
     * Told as soon as its activating write went through (or a 409's re-read found the campaign
     * active): from then on the campaign dials, whatever the rest of this run comes to. `takeover`:
     * an operator activated it while this write was on its way, and it is taken over as started outside.
     */
    onActive?: (resource: CampaignResource, takeover: boolean) => void;
    /** Told when its activating write failed with its answer lost: CXone may have applied it. */
    onUnanswered?: () => void;
  },
): Promise<CampaignResource> {
  const { ctx, campaigns } = deps;
  const { before } = input;
  // The safe start rides on the activation itself (one If-Match write), so the campaign never dials
  // at the requested rate before pacing has seen a single statistic. Decided on what CXone holds at
  // the write's version: an operator's change since the schedule is the request to start from.
  let planned: SafeStart | null = null;
  let applied: SafeStart | null = null;
  let resource: CampaignResource;
  /** Set when an operator's activation beat this run's own write (a 409): the takeover's mark. */
  let startedOutside: CampaignRecord['startedOutside'];
  if (input.takeover && before.status === 'active') {
    ({ resource, safeStart: applied } = await safeStartRunning(ctx, input));
  } else if (isRunning(before.status) && input.plannedFrom !== undefined) {
    // An earlier run's activation applied, its answer lost (a 502/504 after CXone committed it, a
    // timeout) or its worker killed before recording it: found at the start that run carried, it is
    // recorded as that run would have (the anchor, the pacing_decision once by its dedupe key).
    resource = before;
    applied = ownSafeStartInPlace(input.plannedFrom, {
      status: before.status,
      config: configFromResource(before, input.config),
    });
  } else if (isRunning(before.status)) {
    resource = before;
  } else {
    const checkStartWindow = startWindowCheck(input.config, ctx.clock, input.campaignId);
    const checkStatsScope = statsScopeCheck(ctx.cxone, input.campaignId);
    let ours = false;
    /** Whether this try's write left for CXone (its permit granted, its window still open). */
    let sent = false;
    /** The version the last try's write named (If-Match). */
    let sentOn: number | undefined;
    try {
      resource = await transition(ctx, input.campaignId, 'active', {
        attempt: input.attempt,
        known: before,
        alsoSet: (current) => {
          planned = startingCallRate(configFromResource(current, input.config));
          return planned ? { dialerSettings: { callRate: planned.callRate } } : {};
        },
        onWritten: (extra) => {
          ours = true;
          applied = extra.dialerSettings ? planned : null;
        },
        beforeWrite: async (extra, version) => {
          sent = false;
          sentOn = version;
          // Noted before it can be sent: a running campaign whose record lacks it was started by
          // someone else, and a failed launch's cleanup leaves it running (startedOutsideOrchestrator).
          await campaigns.patch(input.campaignId, {
            activationSent: version,
          });
          const start = extra.dialerSettings ? (planned as SafeStart | null) : null;
          if (start) await input.saveStartFrom?.(start.requestedCallRate);
        },
        // Decided when this job read the clock, sent when the fleet's budget allows: the window may
        // have closed meanwhile. Then nothing is sent (StartWindowPassedError) and the caller
        // schedules the start for the next open. Nor is it sent while the token lacks the statistics
        // scope (StatsScopeMissingError, permanent): the guard could not measure the campaign, and the
        // launch fails as one CXone refuses does.
        beforeSend: () => {
          // Run again for the same write after CXone refused its token (401, not applied): only a
          // send that passes its checks this time counts.
          sent = false;
          checkStartWindow();
          checkStatsScope();
          sent = true;
        },
      });
    } catch (err) {
      // Not applied — never sent (its window passed while it waited for its permit, no token or permit
      // in time, Redis failing) or refused by CXone (a 4xx: a 429, a 409 on every try): an operator's
      // activation before the next run or start must not pass for ours. Kept when it may have been.
      if (!sent || !mayHaveBeenApplied(err)) await takeBackActivationNote(deps, input.campaignId, err);
      else input.onUnanswered?.();
      throw err;
    }
    // CXone refused our write (409) and the re-read found the campaign active. At exactly the safe start
    // this run's write carried (deterministic from the launch's rate and CXone's settings), one version
    // past the one it named, it is the same write sent by another run of this launch (one that lost
    // the job to this run, or took it over): the launch's own activation, whose note stands — taken
    // back, a failure of the launch would leave its campaign running as if an operator had started it.
    // Further on, more than one write came in between: an operator who lowered the rate (the safe
    // start is the contract's lowest, 0.1) and then activated it — not ours. An operator's single
    // save of both on that version still reads as ours (docs/api.md).
    const sameStart = planned as SafeStart | null;
    const another =
      !ours && sameStart && sentOn !== undefined && resource.version === sentOn + 1
        ? ownSafeStartInPlace(sameStart.requestedCallRate, {
            status: resource.status,
            config: configFromResource(resource, input.config),
          })
        : null;
    if (another) applied = another;
    const outside = !ours && !another;
    input.onActive?.(resource, outside);
    if (outside) {
      // Anything else: someone else activated it while ours was on its way (an operator in the console
      // as the start came). Not ours, so a failure of this launch leaves it running, watched, instead
      // of cancelling it; and it dials at the operator's rate with no statistic seen, so it is taken
      // over as one found activated before its start is: the trail and an event say who did not start
      // it, it is brought down to the safe start and marked started outside.
      ctx.logger.warn(
        { campaignId: input.campaignId, version: resource.version },
        "campaign activated in CXone while the orchestrator's own activation was on its way; taking it over",
      );
      await campaigns.clear(input.campaignId, ['activationSent']);
      startedOutside = { at: new Date(ctx.clock.now()).toISOString(), from: 'scheduled' };
      await recordStartedOutside(ctx, resource, {
        launchId: input.launchId,
        from: 'scheduled',
        reason: "activated outside the orchestrator while its launch's own activation was on its way",
      });
      await queueHistoryImport(ctx, input.campaignId, resource.version);
      if (resource.status === 'active') {
        ({ resource, safeStart: applied } = await safeStartRunning(ctx, { ...input, before: resource }));
      }
    }
  }
  const safeStart = applied as SafeStart | null;
  // CXone wins: the record's config is rebuilt from the resource, so it shows the start rate; its
  // orchestrator-only parts from the record as stored now, not as this job read it (a PATCH of pacing
  // may have landed meanwhile).
  const synced = await campaigns.syncFromCxone(resource, {
    launchId: input.launchId,
    ...(safeStart
      ? { pacing: safeStartPacingRecord(safeStart, new Date(ctx.clock.now()).toISOString()) }
      : {}),
    ...(startedOutside ? { startedOutside } : {}),
  });
  // The record holds a newer version (a read since): the mark is written alone.
  if (!synced && startedOutside) await campaigns.patch(input.campaignId, { startedOutside });
  // Watched with the config as stored now (a PATCH of the poll interval or the recipient states may
  // have landed while this job worked): enforcement plans from it when the sync was written, and
  // reads the record itself when it held a newer version.
  const stored = synced ? await campaigns.get(input.campaignId) : null;
  await startWatching(
    ctx,
    input.campaignId,
    stored?.config ?? input.config,
    stored ? { config: stored.config, status: stored.status } : undefined,
  );
  // Also when an earlier, interrupted run already activated it: the dedupe key turns a repeat into
  // a no-op, and a run that died before writing the record gets it written now.
  await auditOrLog(ctx, {
    campaignId: input.campaignId,
    action: 'campaign_launched',
    actor: ACTOR,
    cxoneVersion: resource.version,
    details: { launchId: input.launchId, requestedBy: input.actor, status: resource.status },
    dedupeKey: `campaign_launched:${input.campaignId}`,
  });
  if (safeStart) {
    // By the run whose write carried it, or by a later run that found that write in place unrecorded
    // (plannedFrom); a crash after the record's sync and before this leaves it out (the campaign's
    // CXone history still shows the callRate change with the activation).
    ctx.logger.info(
      {
        campaignId: input.campaignId,
        requestedCallRate: safeStart.requestedCallRate,
        callRate: safeStart.callRate,
        answerRate: safeStart.answerRate,
      },
      'activated at the safe start rate',
    );
    await recordSafeStart(ctx, {
      campaignId: input.campaignId,
      start: safeStart,
      cxoneVersion: resource.version,
      actor: ACTOR,
      launchId: input.launchId,
    });
  }
  return resource;
}

/**
 * Takes back the note of an activating write that was not applied (activateNow), so a running campaign
 * found later reads as someone else's start. A note this cannot take back (Redis failing: often why the
 * write was never sent) is logged, and the write's own error is what the run fails with.
 */
async function takeBackActivationNote(deps: Deps, campaignId: string, cause: unknown): Promise<void> {
  try {
    await deps.campaigns.clear(campaignId, ['activationSent']);
  } catch (err) {
    deps.ctx.logger.warn(
      { campaignId, err: (err as Error).message, cause: describe(cause) },
      "could not take back the note of an activating write that was not applied: an activation of the campaign in CXone before the next run would read as the orchestrator's own",
    );
  }
}

/**
 * For a later run that finds the campaign active: the callRate its launch planned the safe start
 * from, when the campaign record, as the earlier runs left it, holds no pacing yet — so no safe start
 * was recorded (the activation's sync writes it) and no poll has run. Undefined otherwise: recorded
 * (again) it would reset a controller that already paces the campaign. `requestedCallRate` is the
 * rate the activation's start was planned from: the launch's config, or for a delayed activation the
 * rate its activating run saved in the job before sending the write (`startPlannedFrom`; the record's
 * would not do: a GET's refresh from CXone since shows CXone's start there). Pure.
 */
function unrecordedStartFrom(
  record: Pick<CampaignRecord, 'pacing'> | null,
  requestedCallRate: number | undefined,
): number | undefined {
  return record !== null && record.pacing == null ? requestedCallRate : undefined;
}

/**
 * The safe start for a campaign someone else activated: already dialing at its requested rate, with
 * no statistic seen yet, it would otherwise run at that rate until pacing's first decisions (or the
 * abandonment guard's pause) catch up. One If-Match write of the callRate on the version just read;
 * a change made since (409) wins, and pacing takes the campaign from its first poll.
 */
async function safeStartRunning(
  ctx: AppContext,
  input: { campaignId: string; config: CampaignConfig; attempt: number; before: CampaignResource },
): Promise<{ resource: CampaignResource; safeStart: SafeStart | null }> {
  const { before } = input;
  // Already dialing at its request: lines from it may still ring at pacing's first polls.
  const safeStart = startingCallRate(configFromResource(before, input.config), { dialing: true });
  if (!safeStart) return { resource: before, safeStart: null };
  try {
    const resource = await ctx.cxone.updateCampaign(
      input.campaignId,
      before.version,
      { dialerSettings: { callRate: safeStart.callRate } },
      { priority: 'control', campaignId: input.campaignId, attempt: input.attempt },
    );
    return { resource, safeStart };
  } catch (err) {
    if (!(err instanceof CxoneConflictError)) throw err;
    ctx.logger.info(
      { campaignId: input.campaignId, version: before.version },
      'campaign changed in CXone while taking it over; pacing takes it from its first poll',
    );
    return { resource: before, safeStart: null };
  }
}

/**
 * Cancels what a failed launch left on CXone, so no half-launched campaign is left dialing or waiting.
 * When CXone refuses even that (it is down: often why the launch failed), the cancel is handed to the
 * adjust queue as a `stop` command, which retries it with backoff until CXone answers; its id goes on
 * the launch record so an operator can follow it. That stop keeps this cleanup's rule when it runs
 * (lifecycle/hooks.ts withdrawnOnRead): a campaign started outside the orchestrator is left running.
 */
async function cancelPartialCampaign(
  deps: Deps,
  launchId: string,
  campaignId: string,
  attempt: number,
  /** A failure's recorder: whether it still holds the launch (failLaunch), asked before queuing a stop. */
  stillRecording?: () => Promise<boolean>,
  /** The launch's config, when known: the base of the record a campaign left running is watched by. */
  config?: CampaignConfig,
): Promise<{
  cancelled: boolean;
  version?: number;
  error?: string;
  cancelCommandId?: string;
  /** CXone answered 404 for the campaign: the launch's `cleanupError` (campaignGoneReason). */
  goneReason?: string;
  /**
   * Left running, not cancelled, because someone started it in CXone (its status then): the launch's
   * `cleanupError` (startedOutsideReason), and whether it is watched from now on (or why not).
   */
  leftRunning?: { status: CampaignStatus; reason: string; watch: LeftRunningWatch };
}> {
  const { ctx, campaigns } = deps;
  try {
    const current = await ctx.cxone.getCampaign(campaignId, { priority: 'control', campaignId, attempt });
    // Running with no record (every activation of ours syncs it first), one its launch took over, or
    // one no activating write of ours was sent for (a scheduled campaign activated in the console before
    // its start): an operator started it in CXone, and its calls are theirs — but it is watched, as
    // every campaign the orchestrator knows to be dialing. Only a running campaign costs the record's read.
    if (isRunning(current.status)) {
      const record = await campaigns.get(campaignId);
      if (startedOutsideOrchestrator(current.status, record)) {
        ctx.logger.warn(
          {
            launchId,
            campaignId,
            status: current.status,
            version: current.version,
            recorded: record !== null,
            activationSent: record?.activationSent !== undefined,
          },
          "the failed launch's campaign was started outside the orchestrator: left running, not cancelled",
        );
        const watch = await watchLeftRunning(ctx, {
          launchId,
          current,
          record,
          ...(config ? { config } : {}),
          why: 'started outside the orchestrator; its launch failed and left it running',
        });
        return {
          cancelled: false,
          version: current.version,
          leftRunning: {
            status: current.status,
            reason: startedOutsideReason(campaignId, current.status, undefined, watch),
            watch,
          },
        };
      }
    }
    // The record names its launch, as every launched campaign's does: the view says which launch made it.
    if (isFinal(current.status)) {
      await campaigns.syncFromCxone(current, { launchId });
      return { cancelled: current.status === 'cancelled', version: current.version };
    }
    const cancelled = await transition(ctx, campaignId, 'cancelled', { attempt, known: current });
    await campaigns.syncFromCxone(cancelled, { launchId });
    return { cancelled: true, version: cancelled.version };
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    // CXone does not know the campaign (deleted from under the launch, a CXone that lost its state — a
    // restarted sandbox keeps everything in memory —, or the fleet now talks to another tenant): the
    // orchestrator cannot reach it to cancel it, and a stop could only meet the same 404 and fail,
    // while the launch read "a stop pending" for it. Noted as every other 404 for a campaign is.
    if (err instanceof CxoneNotFoundError) {
      ctx.logger.warn(
        { err: error, campaignId },
        "the failed launch's campaign is not found on CXone: not cancelled, and no stop queued",
      );
      await noteCleanupMissing(ctx, campaignId, launchId);
      return { cancelled: false, error, goneReason: campaignGoneReason(campaignId) };
    }
    // A recorder that lost the launch while it waited on CXone (the sweep took over from a handler
    // slower than its lease; this run's job went to another worker) leaves the campaign to whoever holds
    // it now, which cancels it or queues a stop of its own: this one's stop would come after that
    // cancel and only find the campaign cancelled. Unanswered (Redis away), the stop is queued as before.
    if (stillRecording && !(await stillRecording().catch(() => true))) {
      ctx.logger.info(
        { err: error, campaignId },
        "could not cancel the failed launch's campaign, and another recorder holds the launch now: leaving the cancel to it",
      );
      return { cancelled: false, error };
    }
    try {
      const { commandId } = await enqueueCommand(ctx, {
        campaignId,
        actor: ACTOR,
        reason: LAUNCH_FAILED_REASON,
        action: 'stop',
      });
      ctx.logger.error(
        { err, campaignId, commandId },
        'could not cancel the campaign of a failed launch; a stop command will retry it',
      );
      return { cancelled: false, error, cancelCommandId: commandId };
    } catch (enqueueErr) {
      ctx.logger.error(
        { err, enqueueErr, campaignId },
        'could not cancel the campaign of a failed launch, nor queue its stop: stop it by hand',
      );
      return { cancelled: false, error };
    }
  }
}

/**
 * What a `launch_failed` record says of a campaign its cleanup left running: its status, why
 * (`cleanupError`), and whether it is watched from now on (`watched`; `watchError` when it could not be).
 */
function leftRunningDetails(left: {
  status: CampaignStatus;
  reason: string;
  watch: LeftRunningWatch;
}): Record<string, unknown> {
  return {
    leftRunning: left.status,
    cleanupError: left.reason,
    watched: left.watch.watched,
    ...(left.watch.watched ? {} : { watchError: left.watch.error }),
  };
}

/** The launch's campaign_created record; one per launch whichever run writes it (dedupe key). */
function campaignCreatedRecord(
  data: LaunchJob,
  campaignId: string,
  cxoneVersion: number | undefined,
): AuditInput {
  return {
    campaignId,
    action: 'campaign_created',
    actor: ACTOR,
    cxoneVersion,
    details: {
      launchId: data.launchId,
      requestedBy: data.actor,
      requestedAt: data.requestedAt,
      config: data.config,
    },
    dedupeKey: `campaign_created:${data.launchId}`,
  };
}

function auditCreated(
  ctx: AppContext,
  data: LaunchJob,
  campaignId: string,
  cxoneVersion: number | undefined,
): Promise<boolean> {
  return auditOrLog(ctx, campaignCreatedRecord(data, campaignId, cxoneVersion));
}

/**
 * This run's success could not be recorded: the launch finished meanwhile — recorded failed after
 * BullMQ gave the job up while this run hung past the stall limit (the failure then cleaned up the
 * campaign it knew of), or succeeded by another run. Its outcome stands; this run announces nothing.
 */
async function finishedMeanwhile(
  deps: Deps,
  launchId: string,
  campaignId: string,
  opts: { addedActivation?: boolean } = {},
): Promise<LaunchJobResult> {
  const launch = await deps.launches.get(launchId);
  const status = launch?.failing !== undefined ? 'failing' : (launch?.status ?? 'gone');
  if (opts.addedActivation && (status === 'failed' || status === 'failing')) {
    // The activation this run added would wait, delayed, for a campaign the failure ended. (Not for a
    // launch another run finished: that run's activation is this same job.)
    await deps.ctx.queues.launch.remove(activateJobId(campaignId)).catch(() => 0);
  }
  deps.ctx.logger.warn(
    { launchId, campaignId, status },
    'the launch was finished by someone else while this run worked on it; leaving that outcome',
  );
  return { outcome: 'skipped', reason: `launch already ${status}` };
}

/**
 * The launch finished, or a failure claimed it, while this run was creating its campaign, so the
 * campaign is on no launch record: this run hung past BullMQ's stall limit and the job was given up
 * and failed with no campaign to clean up. Unless the launch already names this very campaign
 * (another run, whose create CXone answered with the same campaign for the same idempotency key; the
 * failure that claimed it cleans it up), nobody else knows of it: cancelled here as a failed launch's
 * campaign is, audited, and named on the failed launch.
 */
async function abandonLateCampaign(
  deps: Deps,
  data: LaunchJob,
  created: Pick<CampaignResource, 'id' | 'version'>,
  attempt: number,
): Promise<LaunchJobResult> {
  const { ctx, launches } = deps;
  const launch = await launches.get(data.launchId);
  const failed = launch?.status === 'failed' || launch?.failing !== undefined;
  const status = failed ? 'failed' : (launch?.status ?? 'gone');
  if (launch?.campaignId === created.id) return finishedMeanwhile(deps, data.launchId, created.id);
  // Created before it is cancelled, in the campaign's chain as in every launch's.
  await auditCreated(ctx, data, created.id, created.version);
  const cleanup = await cancelPartialCampaign(
    deps,
    data.launchId,
    created.id,
    attempt,
    undefined,
    data.config,
  );
  if (cleanup.cancelled) {
    await auditOrLog(ctx, {
      campaignId: created.id,
      action: 'state_changed',
      actor: ACTOR,
      cxoneVersion: cleanup.version,
      details: {
        launchId: data.launchId,
        to: 'cancelled',
        reason: `the launch was already ${status} when CXone created this campaign`,
      },
      dedupeKey: `late_campaign_cancelled:${data.launchId}`,
    });
  }
  // Named on the failed launch, unless that names another campaign (CXone forgot the idempotency key).
  if (failed && !launch?.campaignId) {
    await launches.recordLateCampaign(data.launchId, created.id, {
      cancelled: cleanup.cancelled,
      ...(cleanup.cancelled ? { campaignStatus: 'cancelled' as const } : {}),
      ...(cleanup.version !== undefined ? { cxoneVersion: cleanup.version } : {}),
      ...(cleanup.cancelCommandId ? { cancelCommandId: cleanup.cancelCommandId } : {}),
      ...(cleanup.goneReason ? { cleanupError: cleanup.goneReason } : {}),
      ...(cleanup.leftRunning
        ? { campaignStatus: cleanup.leftRunning.status, cleanupError: cleanup.leftRunning.reason }
        : {}),
    });
    if (cleanup.cancelCommandId)
      await noteStopIfDone(deps, data.launchId, created.id, cleanup.cancelCommandId);
  }
  ctx.logger.error(
    { launchId: data.launchId, campaignId: created.id, status, cleanup },
    cleanup.leftRunning
      ? 'a late run created a campaign for a launch already finished; started outside the orchestrator, it was left running'
      : 'a late run created a campaign for a launch already finished; cancelled it',
  );
  return { outcome: 'skipped', reason: `launch already ${status}` };
}

/**
 * A stop queued to cancel a failed launch's campaign may have gone through before the launch named
 * it, when its success found no marker and could not say so on the launch (hooks.ts noteCleanedUp).
 */
async function noteStopIfDone(
  deps: Deps,
  launchId: string,
  campaignId: string,
  commandId: string,
): Promise<void> {
  const stop = await getCommand(deps.ctx, commandId);
  if (stop?.status === 'succeeded' && stop.result && isFinal(stop.result.status)) {
    await deps.launches.recordCleanedUp(launchId, campaignId, {
      campaignStatus: stop.result.status,
      cxoneVersion: stop.result.version,
    });
  } else if (stop?.status === 'failed' && stop.error?.kind === 'withdrawn') {
    // It found the campaign started outside the orchestrator (lifecycle/hooks.ts withdrawnOnRead) and
    // said so on the launch before this outcome named it pending: its campaignStatus stands, the rest
    // is said again.
    await deps.launches.recordLeftRunning(launchId, campaignId, { cleanupError: stop.error.message });
  } else if (stop?.status === 'failed' && stop.error?.kind === 'not_found') {
    // It found CXone no longer knows the campaign (adjust-worker.ts): no stop is pending any more.
    await deps.launches.recordCampaignGone(launchId, campaignId, commandId);
    await noteCleanupMissing(deps.ctx, campaignId, launchId);
  }
}

/**
 * The failed launch's cleanup met CXone's 404 for its campaign: in the trail (campaign_missing) as
 * every other 404 for a campaign is. Best effort: the launch's outcome does not wait on it.
 */
async function noteCleanupMissing(ctx: AppContext, campaignId: string, launchId: string): Promise<void> {
  try {
    await noteCleanupFoundMissing(ctx, campaignId, launchId);
  } catch (err) {
    ctx.logger.warn(
      { campaignId, launchId, err: (err as Error).message },
      "could not record that CXone no longer knows the failed launch's campaign",
    );
  }
}

/**
 * A launch given up while creating its campaign, with the create unanswered (a 5xx, a timeout): CXone
 * may have carried it out (a gateway's 502/504 after the write), and that campaign would be left in
 * CXone with no launch naming it. The create is sent once more with the same Idempotency-Key, which
 * gets back the campaign CXone made for it (or makes it now): recorded on the launch as any created
 * campaign is, so the failure cancels it. Returns, when CXone does not answer this either, what the
 * launch's `cleanupError` says instead.
 */
async function findUnansweredCreate(
  deps: Deps,
  data: LaunchJob,
  attempt: number,
): Promise<string | undefined> {
  const { ctx, launches } = deps;
  const idempotencyKey = launchIdempotencyKey(data.launchId);
  if (!createKeyStillRemembered(data.requestedAt, ctx.clock.now())) {
    // CXone may have forgotten the key: the re-send would make a second campaign (cancelled at once)
    // and never find the one the unanswered create made. Nothing is sent; a person looks in CXone.
    ctx.logger.error(
      { launchId: data.launchId, idempotencyKey, requestedAt: data.requestedAt },
      'a failed launch may have left a campaign in CXone, too long ago to ask for it again by its Idempotency-Key: check CXone by hand',
    );
    return (
      `CXone may have created the campaign: a create went unanswered, and launch ${data.launchId} ` +
      `(requested ${data.requestedAt}) is older than CXone keeps its Idempotency-Key ` +
      `${idempotencyKey}, so the create was not sent again (it would make another campaign); check ` +
      `CXone by hand for a campaign named ${JSON.stringify(data.config.name)} created since then with ` +
      `that key, and cancel it if there is one`
    );
  }
  try {
    const created = await ctx.cxone.createCampaign(toCreateCampaignRequest(data.config), {
      priority: 'control',
      attempt,
      idempotencyKey,
    });
    const recorded = await launches.recordCreated(
      data.launchId,
      created.id,
      created.version,
      auditWithChange(ctx, campaignCreatedRecord(data, created.id, created.version)),
    );
    if (!recorded) await abandonLateCampaign(deps, data, created, attempt);
    return undefined;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    ctx.logger.error(
      { launchId: data.launchId, idempotencyKey, err: message },
      'a failed launch sent a create CXone did not answer, and could not ask again: CXone may hold its campaign',
    );
    return (
      `CXone may have created the campaign: a create went unanswered, and sending it again ` +
      `(Idempotency-Key ${idempotencyKey}) failed too (${message}); cancel a draft campaign named ` +
      `${JSON.stringify(data.config.name)} in CXone if there is one`
    );
  }
}

/**
 * What came of recording a failure: `recorded` (this recorder announced it), `finished` (it already
 * was), or `held` (another recorder holds it and announces it; this one said nothing).
 */
export type FailureRecording = 'recorded' | 'finished' | 'held';

/**
 * Records a launch as failed for good. The failure first claims the launch (launch-store.ts
 * claimFailure), which names the campaign to clean up and stops any other run — one that hung past
 * the stall limit and woke — from recording a campaign or a success meanwhile; then the campaign is
 * cancelled, the failure audited and the outcome written. Stopped before the end (a crash), the claim
 * stays and whoever finds it (the job's redelivery, the given-up handler, or the launch sweep once the
 * claim's lease has lapsed) finishes the failure. Two recorders at once (a `failed` handler slower than
 * the sweep's grace, and the sweep) are told apart by the claim: only the one holding it announces.
 */
async function failLaunch(
  deps: Deps,
  /**
   * All a failure needs of the job (a launch whose job is gone has only its record to give, without
   * the config a campaign left running is then watched by: CXone's settings are).
   */
  data: Pick<LaunchJob, 'launchId' | 'actor'> & { config?: CampaignConfig },
  err: unknown,
  attempt: number,
  recorder: string = JOB_FAILURE_RECORDER,
  /**
   * The processor's runs: whether this run still holds its job's lock. Every path of the job records
   * as `job`, so the claim alone cannot tell a run that lost its lock mid-failure (its worker stalled)
   * from the redelivery or `failed` handler that took the job over: the lock can.
   */
  ownsRun?: () => Promise<boolean>,
  /** The launch's `cleanupError` when it names no campaign: a create CXone may have carried out. */
  unknownCreate?: string,
): Promise<FailureRecording> {
  const { ctx, launches } = deps;
  const claim = await launches.claimFailure(data.launchId, finalReason(err, attempt), recorder);
  if (claim.kind === 'finished') {
    // Another run of this job finished it (this one lost its lock while Redis stalled, or hung past
    // the stall limit): its outcome and its campaign stand; this run's failure is that it came back late.
    ctx.logger.warn(
      { launchId: data.launchId, status: claim.status, err: describe(err) },
      `launch already ${claim.status} in another run; not failing it or cancelling its campaign`,
    );
    return 'finished';
  }
  if (claim.kind === 'held') {
    ctx.logger.info(
      { launchId: data.launchId, recorder: claim.recorder },
      'launch failure being recorded by another; leaving its announcement to it',
    );
    return 'held';
  }
  const campaignId = claim.kind === 'claimed' ? claim.campaignId : undefined;
  const reason = claim.kind === 'claimed' ? claim.reason : finalReason(err, attempt);
  // The cleanup can wait on CXone for longer than the claim's lease: whoever took the launch over
  // meanwhile cleans up and announces too, so this recorder queues a stop and announces only while it
  // still holds the launch (the re-claim renews its lease). Once lost, it stays lost: a launch taken
  // back after the cleanup handed its stop over would be announced without one.
  let lost: FailureRecording | undefined;
  const stillRecording = async (): Promise<boolean> => {
    if (lost) return false;
    if (ownsRun && !(await ownsRun())) {
      lost = 'held';
      return false;
    }
    const still = await launches.claimFailure(data.launchId, reason, recorder);
    if (still.kind === 'held' || still.kind === 'finished') lost = still.kind;
    return lost === undefined;
  };
  const cleanup = campaignId
    ? await cancelPartialCampaign(deps, data.launchId, campaignId, attempt, stillRecording, data.config)
    : undefined;
  if (claim.kind === 'claimed' && !(await stillRecording())) {
    ctx.logger.info(
      { launchId: data.launchId, now: lost, cleanup },
      'launch failure taken over by another recorder while cleaning up; leaving its announcement to it',
    );
    return lost ?? 'held';
  }
  // Audited before the launch is recorded as failed, so a launch shown failed has its record; a
  // redelivery in between writes it again only once (dedupe key).
  await auditOrLog(ctx, {
    campaignId: campaignId ?? launchAuditId(data.launchId),
    action: 'launch_failed',
    actor: ACTOR,
    details: {
      launchId: data.launchId,
      requestedBy: data.actor,
      reason,
      attempt,
      ...(isCxoneError(err) ? { status: err.status, endpoint: err.endpoint } : {}),
      ...(cleanup
        ? {
            cancelledOnCxone: cleanup.cancelled,
            cancelError: cleanup.error,
            cancelCommandId: cleanup.cancelCommandId,
            ...(cleanup.leftRunning ? leftRunningDetails(cleanup.leftRunning) : {}),
          }
        : {}),
    },
    dedupeKey: `launch_failed:${data.launchId}`,
  });
  // The event says what this failure knows now (its reason, whether its cleanup cancelled the
  // campaign), so it is written by the outcome's own script: a crash after the outcome cannot lose it.
  const failedData = {
    launchId: data.launchId,
    reason,
    ...(cleanup ? { cancelled: cleanup.cancelled } : {}),
    // Left running (an operator started it): in which status, and whether the orchestrator watches it.
    ...(cleanup?.leftRunning
      ? { leftRunning: cleanup.leftRunning.status, watched: cleanup.leftRunning.watch.watched }
      : {}),
  };
  const written = await launches.finish(
    data.launchId,
    {
      status: 'failed',
      error: reason,
      // Named again so the campaign's "still being launched" marker goes with the outcome — unless a
      // stop is still retrying: the marker then leads its success back to this launch (hooks.ts).
      ...(campaignId && !cleanup?.cancelCommandId ? { campaignId } : {}),
      ...(cleanup?.cancelled ? { cancelled: true, campaignStatus: 'cancelled' } : {}),
      // The version the cancel left, not the one the create did.
      ...(cleanup?.version !== undefined ? { cxoneVersion: cleanup.version } : {}),
      ...(cleanup && !cleanup.cancelled
        ? {
            cancelled: false,
            ...(cleanup.cancelCommandId ? { cancelCommandId: cleanup.cancelCommandId } : {}),
            // Why nothing was cancelled, and no stop is pending: CXone answered 404 for the campaign,
            // or an operator started it in CXone and it was left running.
            ...(cleanup.goneReason ? { cleanupError: cleanup.goneReason } : {}),
            ...(cleanup.leftRunning
              ? { campaignStatus: cleanup.leftRunning.status, cleanupError: cleanup.leftRunning.reason }
              : {}),
          }
        : {}),
      ...(!campaignId && unknownCreate ? { cleanupError: unknownCreate } : {}),
    },
    ctx.events.prepare('campaign.launch.failed', campaignId ?? '', failedData),
  );
  // A failure's outcome is refused only when there is no launch record (expired, or deleted by
  // hand): nothing to write it to, but the failure is still announced, as it always was.
  if (!written) await publishOrLog(ctx, 'campaign.launch.failed', campaignId ?? '', failedData);
  // The stop may have gone through before this outcome was written over what its success noted.
  if (campaignId && cleanup?.cancelCommandId) {
    await noteStopIfDone(deps, data.launchId, campaignId, cleanup.cancelCommandId);
  }
  launchOutcomes.inc({ outcome: 'failed' });
  ctx.logger.warn({ launchId: data.launchId, campaignId, reason, cleanup }, 'launch failed');
  return 'recorded';
}

/**
 * Whether this run still holds the job's lock (extending it if so). A run that lost it, to a Redis
 * stall longer than the lock, has been replaced by another worker's: it must not record an outcome or
 * undo anything on CXone, which that run now owns. Without a token (tests calling the processor
 * directly) there is no lock to check.
 */
async function ownsJob(job: Job, token: string | undefined, lockMs: number): Promise<boolean> {
  if (token === undefined) return true;
  try {
    return (await job.extendLock(token, lockMs)) === 1;
  } catch {
    return false;
  }
}

/**
 * The `launch` job: create on CXone (idempotently), schedule, then activate now or leave a delayed
 * activation job. Every step first looks at where an earlier, interrupted run of the same job got to,
 * so a redelivery after a crash continues instead of repeating.
 */
export async function processLaunch(deps: Deps, job: Job, token?: string): Promise<LaunchJobResult> {
  const { ctx, launches, campaigns } = deps;
  const parsed = launchJobSchema.safeParse(job.data);
  if (!parsed.success) {
    throw new UnrecoverableError(`launch job ${job.id} has an invalid payload: ${parsed.error.message}`);
  }
  const data = parsed.data;
  const attempt = currentAttempt(job);
  const log = ctx.logger.child({ launchId: data.launchId, jobId: job.id, attempt });

  // Read and marked running in one script; a finished launch is left untouched.
  const launch = await launches.begin(data.launchId);
  if (launch && launches.isTerminal(launch)) {
    log.info({ status: launch.status }, 'launch already finished; nothing to do');
    return { outcome: 'skipped', reason: `launch already ${launch.status}` };
  }
  if (launch?.failing !== undefined) {
    // A failure claimed the launch and its worker stopped before recording it: finished here.
    log.warn({ reason: launch.failing }, 'finishing a failure whose worker stopped half-way');
    await failLaunch(deps, data, new Error(launch.failing), attempt, JOB_FAILURE_RECORDER, () =>
      ownsJob(job, token, deps.lockMs),
    );
    throw new UnrecoverableError(`launch ${data.launchId} failed: ${launch.failing}`);
  }

  let campaignId = launch?.campaignId;
  /** Whether the launch names the campaign: one CXone answered for may be unrecorded (a Redis blip). */
  let named = campaignId !== undefined;
  try {
    // 1. Create, or find what an interrupted earlier run created.
    let current: Pick<CampaignResource, 'status' | 'version'>;
    let full: CampaignResource | undefined;
    let createdVersion = launch?.cxoneVersion;
    let createdHere = false;
    let plannedFrom: number | undefined;
    let startedOutsideFrom: CampaignStatus | undefined;
    if (!campaignId) {
      const created = await ctx.cxone.createCampaign(toCreateCampaignRequest(data.config), {
        priority: 'control',
        attempt,
        idempotencyKey: launchIdempotencyKey(data.launchId),
      });
      campaignId = created.id;
      createdVersion = created.version;
      // Recorded before anything else can fail: a retry then reads this campaign instead of creating.
      // Its campaign_created record is written by the same script, so the campaign is never known to
      // the launch without it.
      const recorded = await launches.recordCreated(
        data.launchId,
        campaignId,
        created.version,
        auditWithChange(ctx, campaignCreatedRecord(data, campaignId, created.version)),
      );
      if (!recorded) return await abandonLateCampaign(deps, data, created, attempt);
      named = true;
      createdHere = true;
      log.info({ campaignId, version: created.version }, 'campaign created on CXone');
      current = created;
    } else {
      full = await ctx.cxone.getCampaign(campaignId, { priority: 'control', campaignId, attempt });
      current = full;
      if (isRunning(full.status)) {
        const record = await campaigns.get(campaignId);
        if (!record?.startedOutside && startedOutsideOrchestrator(full.status, record)) {
          // Running, and no activating write of ours noted (every one is, before it is sent): an
          // operator started it in CXone — the draft an earlier run created, or the campaign it
          // scheduled, before its start. Taken over (3b), as the activation's look would have.
          startedOutsideFrom =
            record === null ? 'draft' : isRunning(record.status) ? 'scheduled' : record.status;
        } else if (full.status === 'active') {
          // An earlier run's activation may have been applied with its answer lost. The record as that
          // run left it (read before this run's sync) tells whether its safe start was recorded. Only
          // on this path: a first run never reads it.
          plannedFrom = unrecordedStartFrom(record, data.config.dialerStrategy.callRate);
        }
      }
    }
    // The creating run wrote it with the campaign id. A later run writes it again, in case it is
    // missing (an earlier release wrote it after the id, and a run killed in between left it out; a
    // record the chain could not take with the id and whose own append then failed); the dedupe key
    // keeps it to one record. Written while the schedule call is in flight (never rejects: `auditOrLog`
    // logs its failures) and awaited before any later record of this campaign, so the chain's order
    // stays created → scheduled / failed.
    const createdAudit = createdHere ? undefined : auditCreated(ctx, data, campaignId, createdVersion);

    // 2. Schedule.
    let scheduled: CampaignResource;
    /**
     * The draft was started in CXone (its console) while this run's schedule write was on its way: a
     * 409, and the re-read found it running (active, or paused since); or a first read found it
     * started there (above). It may dial already: taken over (3b) as a campaign activated before its
     * start is (processActivate), never failed — a failure would cancel the operator's campaign. The
     * status the orchestrator last knew it in.
     */

    try {
      let step = nextLaunchStep(current.status);
      if (step === 'schedule') {
        scheduled = await transition(ctx, campaignId, 'scheduled', {
          attempt,
          known: current,
          settleOn: (status) => isRunning(status) || isFinal(status),
        });
        step = nextLaunchStep(scheduled.status);
        if (step === 'done') {
          // A run that no longer holds its job leaves the campaign to the run that does.
          if (!(await ownsJob(job, token, deps.lockMs))) {
            throw new UnrecoverableError(
              `campaign ${campaignId} is ${scheduled.status} on CXone and cannot become scheduled`,
            );
          }
          // Every activation of ours follows the campaign record's sync and notes its write there before
          // sending it: a record noting one means another run of this launch activated it (one that lost
          // the job to this run, and may not have finished). It is carried on as a first read finding it
          // active is: failed, this run would cancel it. No record, or one noting no activating write:
          // an operator started it in CXone (the draft, or the campaign the other run scheduled).
          const record = await campaigns.get(campaignId);
          if (!record?.startedOutside && startedOutsideOrchestrator(scheduled.status, record)) {
            startedOutsideFrom =
              record === null ? 'draft' : isRunning(record.status) ? 'scheduled' : record.status;
          } else if (scheduled.status === 'active') {
            plannedFrom = unrecordedStartFrom(record, data.config.dialerStrategy.callRate);
          }
        }
      } else {
        scheduled =
          full ?? (await ctx.cxone.getCampaign(campaignId, { priority: 'control', campaignId, attempt }));
      }
      if (step === 'gone') {
        throw new UnrecoverableError(
          `campaign ${campaignId} was ${scheduled.status} on CXone before its launch finished; submit a new launch`,
        );
      }
    } finally {
      await createdAudit;
    }
    if (startedOutsideFrom) {
      await takeOverStartedDraft(deps, scheduled, data, startedOutsideFrom);
    }

    // 3a. A future start: a delayed activation job, never a sleeping worker.
    // The launch's config is the base the record keeps the orchestrator-only fields from (pacing,
    // description, the recipient states).
    // The declared states are also kept apart (declaredStates, which only grows): a sync writes the
    // whole config from the copy it read, and one that read before a state was added would drop it.
    const declared = data.config.recipientStates;
    const id = campaignId;
    // A rule this deployment lets the campaign relax (the do-not-call check off, ALLOW_DNC_DISABLED)
    // is audited at its launch, once its record exists: window enforcement's backstop records it only
    // at the activation, hours or days later for a campaign scheduled to its next open, and never for
    // one cancelled before it. Once per campaign (a mark, and the record's dedupe key).
    const takenOverAt = new Date(ctx.clock.now()).toISOString();
    const sync = async () => {
      await campaigns.syncFromCxone(scheduled, {
        launchId: data.launchId,
        config: data.config,
        ...(declared?.length ? { declaredStates: declared } : {}),
        // Marked so this launch's failure, now or on a later run, leaves the operator's campaign running.
        ...(startedOutsideFrom ? { startedOutside: { at: takenOverAt, from: startedOutsideFrom } } : {}),
      });
      await recordDeploymentOverrides(ctx, { campaignId: id, config: data.config, actor: data.actor });
    };
    // Once, unless the activation's permit comes too late for its window (3b): then again, to schedule.
    for (;;) {
      let plan: ReturnType<typeof planActivation> | null;
      try {
        plan = scheduled.status === 'scheduled' ? planActivation(data.config, ctx.clock.now()) : null;
      } catch (err) {
        // No calling window ahead: the launch fails with the campaign record synced, as it always was.
        await sync();
        throw err;
      }
      if (plan && plan.delayMs > 0) {
        const activateAt = new Date(plan.activateAtMs).toISOString();
        const activation: ActivateJob = { launchId: data.launchId, campaignId, actor: data.actor };
        // The job first wakes at the start or, when that is further off, for a look at the campaign.
        const now = ctx.clock.now();
        const wakeInMs = nextActivationWakeMs(plan.activateAtMs, now, await checkIntervalOf(deps)) - now;
        const addActivation = () =>
          ctx.queues.launch.add(ACTIVATE_JOB, activation, {
            jobId: activateJobId(activation.campaignId),
            delay: wakeInMs,
          });
        // All three are idempotent (the audit record by its dedupe key) and precede `finish`: a
        // redelivery before it repeats them, and a launch shown finished has its audit record. The
        // activation job reads the campaign record and audits after this record, so it is added
        // alongside them only when it cannot run before they have landed.
        const scheduledAudit = auditOrLog(ctx, {
          campaignId,
          action: 'state_changed',
          actor: ACTOR,
          cxoneVersion: scheduled.version,
          details: {
            launchId: data.launchId,
            to: 'scheduled',
            activateAt,
            movedToCallingWindow: plan.movedToWindow,
          },
          dedupeKey: `campaign_scheduled:${data.launchId}`,
        });
        if (wakeInMs >= CONCURRENT_ACTIVATION_MIN_DELAY_MS) {
          await Promise.all([sync(), addActivation(), scheduledAudit]);
        } else {
          await Promise.all([sync(), scheduledAudit]);
          await addActivation();
        }
        // Its event is not part of the audit chain: written by the outcome's own script, so only a
        // launch recorded as finished announces itself, and a crash right after cannot lose it.
        const recorded = await launches.finish(
          data.launchId,
          {
            status: 'succeeded',
            campaignId,
            campaignStatus: 'scheduled',
            cxoneVersion: scheduled.version,
            activateAt,
          },
          ctx.events.prepare('campaign.launch.succeeded', campaignId, {
            launchId: data.launchId,
            status: 'scheduled',
            activateAt,
            version: scheduled.version,
          }),
        );
        if (!recorded)
          return await finishedMeanwhile(deps, data.launchId, campaignId, { addedActivation: true });
        launchOutcomes.inc({ outcome: 'scheduled' });
        log.info({ campaignId, activateAt, movedToWindow: plan.movedToWindow }, 'campaign scheduled');
        return { outcome: 'succeeded', campaignId, campaignStatus: 'scheduled', activateAt };
      }
      await sync();

      // 3b. Start now (or, on a redelivery, make sure the already-active campaign is watched).
      let resource: CampaignResource;
      try {
        resource = await activateNow(deps, {
          campaignId,
          launchId: data.launchId,
          config: data.config,
          attempt,
          actor: data.actor,
          before: scheduled,
          ...(startedOutsideFrom ? { takeover: true } : { plannedFrom }),
        });
      } catch (err) {
        if (!(err instanceof StartWindowPassedError)) throw err;
        // Its permit came after the window closed (or too near the close): nothing was sent. Planned
        // again on the clock as it reads now, the launch ends as one outside its window does (3a).
        log.warn(
          { campaignId, reason: err.message },
          'activation not sent: its calling window passed while it waited',
        );
        continue;
      }
      const recorded = await launches.finish(
        data.launchId,
        {
          status: 'succeeded',
          campaignId,
          campaignStatus: resource.status,
          cxoneVersion: resource.version,
        },
        ctx.events.prepare('campaign.launch.succeeded', campaignId, {
          launchId: data.launchId,
          status: resource.status,
          version: resource.version,
        }),
      );
      if (!recorded) return await finishedMeanwhile(deps, data.launchId, campaignId);
      launchOutcomes.inc({ outcome: 'activated' });
      log.info({ campaignId, status: resource.status, version: resource.version }, 'campaign launched');
      return { outcome: 'succeeded', campaignId, campaignStatus: resource.status };
    }
  } catch (err) {
    try {
      if (!(await ownsJob(job, token, deps.lockMs))) {
        log.warn(
          { err: describe(err), campaignId },
          'lost the launch job to another worker (its lock expired); leaving the outcome to that run',
        );
      } else if (isFinalFailure(err, job)) {
        // Given up while creating: a create that went unanswered (a 5xx, a timeout) may have been
        // carried out, and one CXone answered may have failed to be recorded on the launch (Redis),
        // leaving a campaign on CXone that no record names. Asked for once more: the key gets it back.
        const unknownCreate =
          !named && classifyError(err, { attempt: 1, backoff: JOB_BACKOFF }).kind === 'transient'
            ? await findUnansweredCreate(deps, data, attempt)
            : undefined;
        await failLaunch(
          deps,
          data,
          err,
          attempt,
          JOB_FAILURE_RECORDER,
          () => ownsJob(job, token, deps.lockMs),
          unknownCreate,
        );
      } else await launches.update(data.launchId, { lastError: `attempt ${attempt}: ${describe(err)}` });
    } catch (recordErr) {
      log.error({ err: recordErr }, 'could not record the launch failure');
    }
    return rethrowForBullmq(err, job, ctx.queues.launch, ctx, token);
  }
}

/**
 * Puts what the delayed activation came to on the launch record. Best effort: the campaign record,
 * audit trail and events already say it, and failing the job for this would repeat a takeover's event.
 */
async function noteActivation(
  deps: Pick<Deps, 'ctx' | 'launches'>,
  launchId: string,
  fields: Parameters<LaunchStore['recordActivation']>[1],
): Promise<void> {
  try {
    await deps.launches.recordActivation(launchId, fields);
  } catch (err) {
    deps.ctx.logger.warn(
      { launchId, err: err instanceof Error ? err.message : String(err) },
      'could not note the activation on the launch record',
    );
  }
}

const noteActivated = (deps: Deps, launchId: string, resource: CampaignResource) =>
  noteActivation(deps, launchId, {
    campaignStatus: resource.status,
    cxoneVersion: resource.version,
    activatedAt: new Date(deps.ctx.clock.now()).toISOString(),
  });

/**
 * Notes the scheduled start's activation on the launch and announces it (`campaign.state.changed`,
 * `scheduled-start`) in the same script, so the note stands for the announcement. A redelivery that
 * finds the campaign already active — the activating write went through but its answer was lost (a
 * 5xx after CXone applied it, a timeout) or the worker died before noting it — announces it when the
 * launch does not show it noted yet: otherwise nothing would ever say the campaign began dialing.
 */
async function noteScheduledStart(
  deps: Deps,
  input: { launchId: string; campaignId: string; resource: CampaignResource; onlyIfUnnoted: boolean },
): Promise<void> {
  const { ctx, launches } = deps;
  const { resource } = input;
  if (input.onlyIfUnnoted) {
    const launch = await launches.get(input.launchId).catch(() => null);
    // Noted by the run that activated it (with its event), or no launch to tell (best effort, as the note).
    if (!launch || launch.activatedAt !== undefined) return noteActivated(deps, input.launchId, resource);
  }
  const data = {
    from: 'scheduled',
    to: resource.status,
    version: resource.version,
    reason: 'scheduled-start',
  };
  let written = false;
  try {
    written = await launches.recordActivation(
      input.launchId,
      {
        campaignStatus: resource.status,
        cxoneVersion: resource.version,
        activatedAt: new Date(ctx.clock.now()).toISOString(),
      },
      ctx.events.prepare('campaign.state.changed', input.campaignId, data),
    );
  } catch (err) {
    ctx.logger.warn(
      { launchId: input.launchId, err: err instanceof Error ? err.message : String(err) },
      'could not note the activation on the launch record',
    );
  }
  // No launch record to carry it (or Redis refused the note): still announced, as it always was.
  if (!written) await publishOrLog(ctx, 'campaign.state.changed', input.campaignId, data);
}

/** How long a look at a scheduled campaign before its start waits for CXone's budget before giving up. */
const EARLY_CHECK_MAX_WAIT_MS = 5_000;

/**
 * The activation the campaign record's config expects now: null when it is due (or cannot be
 * planned from the record, which then leaves the decision to the config CXone holds).
 */
function expectedActivationAt(record: CampaignRecord | null, nowMs: number): number | null {
  if (!record) return null;
  try {
    const plan = planActivation(record.config, nowMs);
    return plan.delayMs > 0 ? plan.activateAtMs : null;
  } catch {
    return null;
  }
}

/**
 * The delayed `activate` job. Before the campaign's start it is a look at the campaign (a scheduled
 * campaign activated in CXone behind our back is taken over at once; see launch-plan.ts); at the start
 * it activates. If the calling windows changed since the campaign was scheduled and the moment is now
 * outside them, the job moves itself to the next open.
 */
export async function processActivate(deps: Deps, job: Job, token?: string): Promise<LaunchJobResult> {
  const { ctx, campaigns } = deps;
  const parsed = activateJobSchema.safeParse(job.data);
  if (!parsed.success) {
    throw new UnrecoverableError(`activate job ${job.id} has an invalid payload: ${parsed.error.message}`);
  }
  const data = parsed.data;
  const attempt = currentAttempt(job);
  const log = ctx.logger.child({ campaignId: data.campaignId, launchId: data.launchId, jobId: job.id });
  const moveTo = async (atMs: number): Promise<never> => {
    if (!token) throw new Error('activate job ran without a lock token; cannot move it');
    // This look ended: the stalls of earlier looks no longer count towards failing the job.
    await redelayAfterRun(job, ctx.redis, atMs, token);
    throw new DelayedError();
  };
  /**
   * Found running on CXone (`takeover`: activated there before its start, and being taken over), or
   * activated by this run: it runs whatever this job comes to, and a final failure must not say it
   * stays scheduled (failRunning).
   */
  let foundRunning: FoundRunning | undefined;
  /** This run's activating write failed with its answer lost: the campaign may be active. */
  let unanswered = false;
  try {
    const record = await campaigns.get(data.campaignId);
    const expectedAt = expectedActivationAt(record, ctx.clock.now());
    const early = expectedAt !== null;
    let current: CampaignResource;
    try {
      // A look before the start reads at poll priority and gives up on a busy budget: the start's own
      // run is what must not fail.
      current = await ctx.cxone.getCampaign(
        data.campaignId,
        early
          ? { priority: 'poll', campaignId: data.campaignId, attempt, maxWaitMs: EARLY_CHECK_MAX_WAIT_MS }
          : { priority: 'control', campaignId: data.campaignId, attempt },
      );
    } catch (err) {
      // Deleted in CXone, or a tenant misconfigured for a while: noted missing once, looked at again
      // quietly until the start, when a campaign CXone still does not know fails the activation.
      const missingSince =
        err instanceof CxoneNotFoundError ? await noteMissingAtLook(ctx, data.campaignId) : undefined;
      if (!early) {
        throw missingSince === undefined
          ? err
          : new CampaignMissingAtStartError(data.campaignId, missingSince);
      }
      const checkIntervalMs = await checkIntervalOf(deps);
      if (missingSince === undefined) {
        log.warn(
          { err: describe(err), nextLookInMs: checkIntervalMs },
          'could not look at the scheduled campaign before its start; looking again later',
        );
      } else {
        log.debug(
          { missingSince, nextLookInMs: checkIntervalMs },
          'scheduled campaign still unknown to CXone',
        );
      }
      return await moveTo(nextActivationWakeMs(expectedAt, ctx.clock.now(), checkIntervalMs));
    }
    await noteFoundAtLook(ctx, record);
    // CXone's settings, completed with the record's orchestrator-only fields: the recipient states the
    // campaign was launched for bind the activation, whatever a console edit did to the zone or windows.
    const config = configFromResource(current, record?.config);
    const activation = {
      campaignId: data.campaignId,
      launchId: data.launchId,
      config,
      attempt,
      actor: data.actor,
      before: current,
    };
    const step = nextLaunchStep(current.status);
    // Changed since the record was synced (stopped in CXone's console, say): the trail gets CXone's
    // account of who did it.
    await importIfChangedOutside(ctx, record, current.version);
    const changedInCxone = record !== null && current.version > record.cxone.version;
    if (step === 'gone') {
      await campaigns.syncFromCxone(current, { launchId: data.launchId });
      await noteActivation(deps, data.launchId, {
        campaignStatus: current.status,
        cxoneVersion: current.version,
      });
      log.info({ status: current.status }, 'campaign ended before its start; nothing to activate');
      return { outcome: 'skipped', reason: `campaign is ${current.status}` };
    }
    if (step === 'done') {
      // Running at or after its start with no activating write of ours noted on the record (every one
      // is, before it is sent): not this job's own write with its answer lost, but an operator's
      // activation in CXone's console since the last look — in the minutes before the start, or while
      // the job waited for a worker.
      const outside =
        early || (record !== null && !record.startedOutside && record.activationSent === undefined);
      foundRunning = { current, record, takeover: outside };
      if (outside) {
        // Activated in CXone before its start — the orchestrator activates only when the start is
        // due, and its API cannot resume a scheduled campaign — so it may be dialing unwatched: it is
        // watched from now on (pacing, calling windows), and the trail says who did not do it. Not
        // decided on the record's status, which a GET or a command may have refreshed meanwhile.
        await takeOverEarlyActivation(deps, current, expectedAt, data.launchId);
      }
      // Also a redelivery after the activation went through: finish what that run may not have (its
      // safe start too, when its answer was lost before the record's sync).
      // The rate the activating run saved it planned from, before it sent the write; the record's for
      // a job saved by an earlier release (a GET's refresh since shows CXone's start there instead).
      const requested = data.startPlannedFrom ?? record?.config.dialerStrategy.callRate;
      const resource = await activateNow(deps, {
        ...activation,
        takeover: outside,
        ...(outside ? {} : { plannedFrom: unrecordedStartFrom(record, requested) }),
      });
      if (outside) await noteActivated(deps, data.launchId, resource);
      else {
        await noteScheduledStart(deps, {
          launchId: data.launchId,
          campaignId: data.campaignId,
          resource,
          onlyIfUnnoted: true,
        });
      }
      return { outcome: 'succeeded', campaignId: data.campaignId, campaignStatus: resource.status };
    }
    if (step === 'schedule') {
      throw new UnrecoverableError(
        `campaign ${data.campaignId} is still draft on CXone; it was never scheduled`,
      );
    }
    // Without the record, CXone's copy is all there is: it has no recipient states, so the state
    // rules the campaign was launched under (Florida's 20:00, say) would silently not bind. Only the
    // audit trim deletes a record, and only a final campaign's, so this is lost data; nothing dials
    // until a person has looked.
    if (record === null) {
      throw new UnrecoverableError(
        `campaign ${data.campaignId} has no campaign record, so the recipient states and settings it was ` +
          'launched with are unknown; not activated (it stays scheduled on CXone: stop it and submit the launch again)',
      );
    }
    // Changed in CXone since: the record follows (CXone wins), so that the next look plans from the
    // windows and start CXone holds, and the API shows them.
    if (changedInCxone) await campaigns.syncFromCxone(current, { launchId: data.launchId });
    // Settings changed in CXone since the launch may break a compliance rule (a zone that no longer
    // keeps the recipients' clock): noted once, and the activation waits until they are fixed.
    if (
      await checkOutsideChange(ctx, {
        campaignId: data.campaignId,
        config,
        status: current.status,
        version: current.version,
      })
    ) {
      log.warn(
        { recheckInMs: NONCOMPLIANT_RECHECK_MS },
        "not activated: the campaign's settings in CXone break compliance rules; fix them with PATCH",
      );
      return await moveTo(ctx.clock.now() + NONCOMPLIANT_RECHECK_MS);
    }
    /** The start is not due (any more): the job moves to its next wake, the launch names the start. */
    const moveToStart = async (plan: ActivationPlan, now: number): Promise<never> => {
      const activateAt = new Date(plan.activateAtMs).toISOString();
      // Only a start that was due and no longer is has moved; a look before the start moves nothing.
      if (early) log.debug({ activateAt }, 'scheduled campaign looked at; not yet due');
      else log.info({ activateAt }, 'outside the calling window; activation moved');
      // A start moved, or settings changed in CXone that may move it: the launch says the new time.
      if (!early || changedInCxone) {
        await noteActivation(deps, data.launchId, { activateAt });
      }
      return await moveTo(nextActivationWakeMs(plan.activateAtMs, now, await checkIntervalOf(deps)));
    };
    const now = ctx.clock.now();
    const plan = planActivation(config, now);
    if (plan.delayMs > 0) return await moveToStart(plan, now);
    let resource: CampaignResource;
    try {
      resource = await activateNow(deps, {
        ...activation,
        // Active from here: a failure after it must not say the campaign stays scheduled (failRunning).
        onActive: (active, takeover) => {
          foundRunning = { current: active, record, takeover };
        },
        onUnanswered: () => {
          unanswered = true;
        },
        saveStartFrom: async (requestedCallRate) => {
          if (data.startPlannedFrom === requestedCallRate) return;
          data.startPlannedFrom = requestedCallRate;
          await job.updateData(data);
        },
      });
    } catch (err) {
      if (!(err instanceof StartWindowPassedError)) throw err;
      // Its permit came after the window closed (or too near the close): nothing was sent, and the
      // start moves to the next open, decided on the clock as it reads now.
      log.warn({ reason: err.message }, 'activation not sent: its calling window passed while it waited');
      const later = ctx.clock.now();
      return await moveToStart(planActivation(config, later), later);
    }
    // An operator's activation that beat this run's write was announced by its takeover, not as the
    // scheduled start (the type narrows to `undefined` here, but onActive set it during activateNow).
    const tookOver = (foundRunning as FoundRunning | undefined)?.takeover === true;
    if (tookOver) await noteActivated(deps, data.launchId, resource);
    else {
      await noteScheduledStart(deps, {
        launchId: data.launchId,
        campaignId: data.campaignId,
        resource,
        onlyIfUnnoted: false,
      });
    }
    log.info(
      { status: resource.status, version: resource.version, takeover: tookOver },
      tookOver
        ? 'scheduled campaign activated in CXone as its start came; taken over'
        : 'scheduled campaign activated',
    );
    return { outcome: 'succeeded', campaignId: data.campaignId, campaignStatus: resource.status };
  } catch (err) {
    if (err instanceof DelayedError) throw err;
    // The last activating write's answer lost (a gateway's 504 after CXone applied it, a timeout):
    // nothing tries again, so one look says whether it dials.
    let unsure = false;
    if (!foundRunning && unanswered && isFinalFailure(err, job)) {
      const looked = await runningAfterUnanswered(deps, data.campaignId, attempt);
      if (looked === 'unknown') unsure = true;
      else if (looked !== 'not running') foundRunning = looked;
    }
    // Not "stays scheduled": it dials, and is watched (failRunning).
    if (foundRunning && isFinalFailure(err, job)) {
      await failRunning(deps, data.launchId, foundRunning, err, attempt);
      return rethrowForBullmq(err, job, ctx.queues.launch, ctx, token);
    }

    if (isFinalFailure(err, job)) {
      if (err instanceof CampaignMissingAtStartError) {
        // Told at warn when first noted missing; this is only where its activation ended.
        log.info(
          { missingSince: err.missingSince },
          'activation given up at its start: CXone no longer knows the campaign',
        );
      } else log.error({ err }, 'activation failed for good; the campaign stays scheduled on CXone');
      const failure = {
        launchId: data.launchId,
        stage: 'activation',
        reason: finalReason(
          err,
          attempt,
          unsure
            ? "its last activating write's answer was lost, so the campaign may be active on CXone, dialing unwatched, or still scheduled: once CXone answers again, look at it there and stop it, then submit the launch again"
            : 'the campaign stays scheduled on CXone: once CXone answers again, stop it and submit the launch again',
        ),
      };
      await auditOrLog(ctx, {
        campaignId: data.campaignId,
        action: 'launch_failed',
        actor: ACTOR,
        details: failure,
        dedupeKey: `activation_failed:${data.campaignId}`,
      });
      await publishOrLog(ctx, 'campaign.launch.failed', data.campaignId, failure);
      await noteActivation(deps, data.launchId, { activationError: failure.reason });
      await noteActivationFailed(deps, data.campaignId, failure.reason);
    }
    return rethrowForBullmq(err, job, ctx.queues.launch, ctx, token);
  }
}

/**
 * What a delayed activation found on CXone, or made of it: the campaign running, and whether it takes
 * it over.
 */
interface FoundRunning {
  current: CampaignResource;
  record: CampaignRecord | null;
  /** Activated in CXone before its start: taken over as started outside. */
  takeover: boolean;
}

/**
 * A delayed activation that found its campaign running, or activated it itself, failed for good after
 * (its takeover's safe-start write, its record's sync, its watch: a Redis refusing writes, say): the
 * campaign does not "stay scheduled" — it dials — so it is watched from now on, as started outside
 * when it was taken over (started-outside.ts), as its own activation otherwise; and the failure says
 * so: `launch_failed` (stage `activation`) with `leftRunning` and `watched` (`watchError`),
 * `campaign.launch.failed`, the launch's `activationError`.
 */
async function failRunning(
  deps: Pick<Deps, 'ctx' | 'launches' | 'campaigns'>,
  launchId: string,
  found: FoundRunning,
  err: unknown,
  attempt: number,
): Promise<void> {
  const { ctx } = deps;
  const { current } = found;
  const watch = found.takeover
    ? await watchLeftRunning(ctx, {
        launchId,
        current,
        record: found.record,
        why: 'activated outside the orchestrator before its start; its takeover failed',
        announced: true,
      })
    : await watchActivated(deps, launchId, current);
  const runs = found.takeover
    ? `the campaign runs on CXone (${current.status}), activated there before its start, without the safe start`
    : `the campaign runs on CXone (${current.status}), not scheduled`;
  // Said whatever the error was: finalReason keeps a remedy for CXone's own errors only.
  const reason =
    `${finalReason(err, attempt, 'the campaign no longer waits for its start')}: ` +
    (watch.watched
      ? `${runs}; it is watched as every campaign the orchestrator runs (statistics polls, the abandonment guard, its calling windows)`
      : `${runs}, and could NOT be watched (${watch.error}): stop it in CXone unless someone watches it`);
  ctx.logger.error(
    { campaignId: current.id, launchId, err, status: current.status, watched: watch.watched },
    'activation failed for good with its campaign running on CXone',
  );
  const failure = {
    launchId,
    stage: 'activation',
    reason,
    leftRunning: current.status,
    watched: watch.watched,
  };
  await auditOrLog(ctx, {
    campaignId: current.id,
    action: 'launch_failed',
    actor: ACTOR,
    cxoneVersion: current.version,
    details: { ...failure, ...(watch.watched ? {} : { watchError: watch.error }) },
    dedupeKey: `activation_failed:${current.id}`,
  });
  await publishOrLog(ctx, 'campaign.launch.failed', current.id, failure);
  await noteActivation(deps, launchId, {
    activationError: reason,
    campaignStatus: current.status,
    cxoneVersion: current.version,
  });
}

/**
 * After an activating write whose answer was lost on a delayed activation's last attempt: the campaign
 * as CXone holds it when it is running (the write applied), for the failure to watch it; `unknown`
 * when CXone does not answer this look either (the failure then says it may be dialing).
 */
async function runningAfterUnanswered(
  deps: Pick<Deps, 'ctx'>,
  campaignId: string,
  attempt: number,
): Promise<FoundRunning | 'not running' | 'unknown'> {
  try {
    const current = await deps.ctx.cxone.getCampaign(campaignId, {
      priority: 'control',
      campaignId,
      attempt,
    });
    return isRunning(current.status) ? { current, record: null, takeover: false } : 'not running';
  } catch (err) {
    deps.ctx.logger.warn(
      { campaignId, err: describe(err) },
      'could not look at the campaign after an activation that may have gone through; it may be active',
    );
    return 'unknown';
  }
}

/** Watches a campaign the orchestrator activated, as startWatching does after the record's sync; never throws. */
async function watchActivated(
  deps: Pick<Deps, 'ctx' | 'campaigns'>,
  launchId: string,
  current: CampaignResource,
): Promise<LeftRunningWatch> {
  const { ctx, campaigns } = deps;
  try {
    await campaigns.syncFromCxone(current, { launchId });
    const stored = await campaigns.get(current.id);
    if (!stored) throw new Error(`campaign ${current.id} has no campaign record to watch it by`);
    await startWatching(ctx, current.id, stored.config, { config: stored.config, status: stored.status });
    return { watched: true };
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    ctx.logger.error(
      { campaignId: current.id, launchId, status: current.status, err: error },
      'campaign running on CXone could NOT be watched: nothing keeps it to its calling windows or the abandonment cap',
    );
    return { watched: false, error };
  }
}

/**
 * Marks the campaign record too: its view would otherwise go on planning an activation nobody will
 * run ("activates at" the next window open). Best-effort, like the launch's note: the launch and the
 * audit trail already say it, and a campaign CXone no longer knows has no record to mark.
 */
async function noteActivationFailed(
  deps: Pick<Deps, 'ctx' | 'campaigns'>,
  campaignId: string,
  reason: string,
): Promise<void> {
  try {
    await deps.campaigns.patch(campaignId, {
      activationFailed: { reason, at: new Date(deps.ctx.clock.now()).toISOString() },
    });
  } catch (err) {
    deps.ctx.logger.warn(
      { campaignId, err: (err as Error).message },
      'could not mark the campaign record with its failed activation',
    );
  }
}

/**
 * Records that a scheduled campaign was found active (or paused) before its start without the
 * orchestrator: a state change made in CXone, audited once and announced.
 */
async function takeOverEarlyActivation(
  deps: Deps,
  current: CampaignResource,
  /** The start still ahead; null when it is due (the operator's activation came in the last minutes). */
  expectedAtMs: number | null,
  launchId: string,
): Promise<void> {
  const plannedStart = expectedAtMs === null ? undefined : new Date(expectedAtMs).toISOString();
  deps.ctx.logger.warn(
    { campaignId: current.id, status: current.status, version: current.version, plannedStart },
    'scheduled campaign was activated in CXone before its start; watching it from now on',
  );
  await recordStartedOutside(deps.ctx, current, {
    launchId,
    from: 'scheduled',
    reason: 'activated outside the orchestrator before its start',
    ...(plannedStart ? { plannedStart } : {}),
  });
}

/**
 * Records that a launch's campaign was found running that the orchestrator did not start: a draft
 * started in CXone (its console allows draft → active) between the create and the schedule write, or
 * — found by a later run of the launch — the campaign an earlier run scheduled, activated there before
 * its start (`from`). Audited once and announced as an early activation is, with the start the launch
 * would have planned; CXone's account of who started it is imported into the trail once the campaign
 * record exists.
 */
async function takeOverStartedDraft(
  deps: Deps,
  current: CampaignResource,
  data: LaunchJob,
  from: CampaignStatus,
): Promise<void> {
  const { ctx } = deps;
  let plannedStart: string | undefined;
  try {
    plannedStart = new Date(planActivation(data.config, ctx.clock.now()).activateAtMs).toISOString();
  } catch {
    // No calling window ahead: the launch could not have planned a start; the campaign runs all the same.
  }
  ctx.logger.warn(
    {
      campaignId: current.id,
      launchId: data.launchId,
      status: current.status,
      version: current.version,
      from,
    },
    from === 'draft'
      ? 'draft campaign was started in CXone before its launch scheduled it; taking it over'
      : 'scheduled campaign was activated in CXone before its start; its launch takes it over',
  );
  await recordStartedOutside(ctx, current, {
    launchId: data.launchId,
    from,
    reason:
      from === 'draft'
        ? 'started outside the orchestrator before its launch scheduled it'
        : 'activated outside the orchestrator before its start',
    ...(plannedStart ? { plannedStart } : {}),
  });
  await queueHistoryImport(ctx, current.id, current.version);
  // An activation an earlier run of the launch left waiting has nothing left to activate.
  if (from !== 'draft') await ctx.queues.launch.remove(activateJobId(current.id)).catch(() => 0);
}

/** The worker for the `launch` queue: launch jobs and their delayed activations. */
/**
 * A launch job BullMQ gave up on without its processor recording an outcome — failed for stalling
 * more often than `maxStalledCount` (its workers died or hung mid-run) — would read `running` for
 * the 30 days its record lives, and a campaign it had created would be left half-launched. Finished
 * here as any final failure is: the launch failed with the reason, its campaign cancelled, audited.
 * A job whose processor already recorded the outcome (every other final failure) is left alone.
 */
export async function finishGivenUpLaunch(
  deps: Pick<Deps, 'ctx' | 'launches' | 'campaigns'>,
  job: Pick<Job, 'id' | 'name' | 'data' | 'attemptsMade' | 'getState'>,
  err: Error,
): Promise<boolean> {
  return (await settleGivenUpLaunch(deps, job, err, JOB_FAILURE_RECORDER)) === 'recorded';
}

/** What a stall-limit failure of an activation is, in its reason. */
const stalledOutOf = (err: Error): string =>
  `${err.message}: the activation was given up after its runs stalled (their workers died or hung while running it)`;

/**
 * An `activate` job BullMQ gave up on without running it — its runs stalled more often than
 * maxStalledCount (a look, or the start's activation, that kept killing or hanging its workers).
 * processActivate records every other final failure of an activation; this one it never saw, so the
 * launch went on reading `succeeded`, `scheduled`, and the campaign waited in CXone for an activation
 * that would never come, with nothing in the trail, no event and no log line but the stalls'.
 * Recorded as the processor records a final failure (`launch_failed` with stage `activation`,
 * `campaign.launch.failed`, the launch's `activationError`, the record's `activationFailed`). The
 * last run that died may have had its activating write carried out, so CXone is looked at first, as
 * after a last write whose answer was lost: a campaign found running is watched and the failure says
 * so (failRunning) — left unwatched it dialed with no calling windows and no abandonment guard; one
 * CXone does not answer for is said to be maybe active. An activation a run recorded already
 * (activated, or failed) is left alone.
 */
export async function finishGivenUpActivation(
  deps: Pick<Deps, 'ctx' | 'launches' | 'campaigns'>,
  job: Pick<Job, 'id' | 'name' | 'data' | 'getState' | 'deferredFailure' | 'attemptsMade'>,
  err: Error,
): Promise<boolean> {
  if (job.name !== ACTIVATE_JOB) return false;
  // BullMQ's own failure of a job it did not run (its stall limit); any other came from a run, which
  // recorded it (or could not: Redis failing, and then this could not either).
  if (!job.deferredFailure || err.message !== job.deferredFailure) return false;
  const parsed = activateJobSchema.safeParse(job.data);
  if (!parsed.success) return false;
  if ((await job.getState()) !== 'failed') return false; // retried: its next run records the outcome
  const { ctx } = deps;
  const { launchId, campaignId } = parsed.data;
  const launch = await deps.launches.get(launchId);
  if (launch?.activatedAt !== undefined || launch?.activationError !== undefined) return false;
  const attempt = job.attemptsMade + 1;
  const looked = await runningAfterUnanswered(deps, campaignId, attempt);
  if (looked !== 'unknown' && looked !== 'not running') {
    await failRunning(deps, launchId, looked, new Error(stalledOutOf(err)), attempt);
    return true;
  }
  const stalledOut = stalledOutOf(err);
  const reason =
    looked === 'not running'
      ? `${stalledOut}; the campaign stays scheduled on CXone: stop it and submit the launch again`
      : `${stalledOut}; CXone did not answer a look at the campaign, which may still be scheduled, or active if the last run's ` +
        'activating write went through: look at it in CXone, and stop it and submit the launch again';
  ctx.logger.error(
    { campaignId, launchId, jobId: job.id, err: err.message },
    'activation given up by BullMQ after its runs stalled; recording it as failed',
  );
  const failure = { launchId, stage: 'activation', reason };
  await auditOrLog(ctx, {
    campaignId,
    action: 'launch_failed',
    actor: ACTOR,
    details: failure,
    dedupeKey: `activation_failed:${campaignId}`,
  });
  await publishOrLog(ctx, 'campaign.launch.failed', campaignId, failure);
  await deps.launches
    .recordActivation(launchId, { activationError: reason })
    .catch((noteErr: unknown) =>
      ctx.logger.warn(
        { launchId, err: (noteErr as Error).message },
        'could not note the activation on the launch record',
      ),
    );
  await noteActivationFailed(deps, campaignId, reason);
  return true;
}

/**
 * What finishGivenUpLaunch does, for a named recorder (the launch sweep), saying what came of it:
 * `held` when another recorder holds the failure (it announces it; the sweep comes back to it).
 */
export async function settleGivenUpLaunch(
  deps: Pick<Deps, 'ctx' | 'launches' | 'campaigns'>,
  job: Pick<Job, 'id' | 'name' | 'data' | 'attemptsMade' | 'getState'>,
  err: Error,
  recorder: string,
): Promise<FailureRecording | 'skipped'> {
  if (job.name === ACTIVATE_JOB) return 'skipped';
  const parsed = launchJobSchema.safeParse(job.data);
  if (!parsed.success) return 'skipped';
  if ((await job.getState()) !== 'failed') return 'skipped'; // retried: its next run records the outcome
  const launch = await deps.launches.get(parsed.data.launchId);
  if (!launch || deps.launches.isTerminal(launch)) return 'skipped';
  deps.ctx.logger.error(
    { launchId: parsed.data.launchId, jobId: job.id, err: err.message, recorder },
    'launch job given up by BullMQ without an outcome; recording it as failed',
  );
  const attempt = Math.max(1, job.attemptsMade);
  // Begun and naming no campaign: its last run may have died with its create in flight, which CXone
  // may have carried out. Asked for once more, as a run given up on an unanswered create does, so no
  // campaign is left in CXone that no launch names. A launch no worker began sent no create; one a
  // failure already claimed was asked for by the run that claimed it.
  const unknownCreate =
    launch.status === 'running' && launch.campaignId === undefined && launch.failing === undefined
      ? await findUnansweredCreate(deps as Deps, parsed.data, attempt)
      : undefined;
  return failLaunch(
    deps as Deps,
    parsed.data,
    new Error(`the launch job was given up: ${err.message}`),
    attempt,
    recorder,
    undefined,
    unknownCreate,
  );
}

/**
 * A launch whose job is gone before any worker began it — removed by hand (Bull Board, an obliterated
 * or cleaned queue), or never enqueued (the API's enqueue failed, or its deadline passed, and the
 * client never retried with its Idempotency-Key) — recorded failed for good, as any final failure is:
 * claimed under the recorder's lease while it still reads `queued` (`begun` otherwise: nothing done) (a late run that begins it meanwhile finds the claim and records
 * nothing of its own), audited `launch_failed`, announced `campaign.launch.failed`. The launch sweep
 * calls it (launch-sweep.ts sweepLostLaunches), having found no job; `reason` says what happened.
 */
export async function settleLostLaunch(
  deps: Pick<Deps, 'ctx' | 'launches' | 'campaigns'>,
  launch: Pick<LaunchJob, 'launchId' | 'actor'>,
  reason: string,
  recorder: string,
): Promise<FailureRecording | 'begun'> {
  // Claimed only while it still reads `queued`: its job may have been added since the sweep looked
  // (the API's enqueue landing late) and a worker begun it — that run owns it and goes on to CXone.
  // Claimed first, a worker that begins it finds the claim and stops before CXone.
  const claim = await deps.launches.claimUnbegunFailure(launch.launchId, reason, recorder);
  if (claim.kind === 'begun' || claim.kind === 'gone') {
    deps.ctx.logger.info(
      { launchId: launch.launchId, recorder, now: claim.kind },
      'launch begun by a worker (or gone) since the sweep found no job; leaving it',
    );
    return 'begun';
  }
  if (claim.kind === 'held') return 'held';
  if (claim.kind === 'finished') return 'finished';
  deps.ctx.logger.error(
    { launchId: launch.launchId, recorder, reason },
    'launch never begun and its job is gone; recording it as failed',
  );
  // Unrecoverable: the reason is recorded as it is, without "gave up after n attempts".
  return failLaunch(deps as Deps, launch, new UnrecoverableError(reason), 0, recorder);
}

/**
 * A launch a worker began whose job is gone — removed by hand after the launch began (a delayed job
 * waiting for its retry removed in Bull Board, the queue cleaned, or obliterated with `force`, which
 * removes active jobs and their locks too) — recorded failed for good as any final failure is: its
 * campaign (if it names one) cancelled or its stop queued, audited `launch_failed`, announced
 * `campaign.launch.failed`. The launch sweep calls it (launch-sweep.ts sweepRunningLaunches), having
 * found no job; `reason` says what happened.
 *
 * Claimed only while the launch still reads `running` and its job hash (`jobKey`) does not exist, in
 * one script (claimJoblessRunningFailure): a worker's outcome written just before wins (`finished`),
 * and a job added back by hand meanwhile keeps its run (`present`). A worker still running the removed
 * job (obliterated by force mid-run) finds the claim at its next write — `recordCreated` and `finish`
 * are refused to a claimed launch, and its failure paths stop at the lock it lost — so it records and
 * announces nothing, and a campaign it creates after the claim is cancelled by it (abandonLateCampaign).
 */
export async function settleJoblessRunningLaunch(
  deps: Pick<Deps, 'ctx' | 'launches' | 'campaigns'>,
  launch: Pick<LaunchJob, 'launchId' | 'actor'>,
  jobKey: string,
  reason: string,
  recorder: string,
): Promise<FailureRecording | 'present' | 'not-running'> {
  const claim = await deps.launches.claimJoblessRunningFailure(launch.launchId, jobKey, reason, recorder);
  if (claim.kind === 'present' || claim.kind === 'not-running' || claim.kind === 'gone') {
    deps.ctx.logger.info(
      { launchId: launch.launchId, recorder, now: claim.kind },
      'running launch has its job again, or no longer reads running, since the sweep found no job; leaving it',
    );
    return claim.kind === 'present' ? 'present' : 'not-running';
  }
  if (claim.kind === 'held') return 'held';
  if (claim.kind === 'finished') return 'finished';
  deps.ctx.logger.error(
    { launchId: launch.launchId, recorder, reason, campaignId: claim.campaignId },
    'launch begun by a worker and its job is gone; recording it as failed',
  );
  // Unrecoverable: the reason is recorded as it is, without "gave up after n attempts". Its attempt is
  // unknown (the job that counted them is gone): 0, as for a launch that never began.
  return failLaunch(deps as Deps, launch, new UnrecoverableError(reason), 0, recorder);
}

export function createLaunchWorker(ctx: AppContext, overrides: Partial<WorkerOptions> = {}): Worker {
  const options = workerOptions(ctx, QUEUES.launch, overrides);
  const deps: Deps = {
    ctx,
    launches: createLaunchStore(ctx),
    campaigns: createCampaignStore(ctx),
    lockMs: options.lockDuration ?? 30_000,
    scheduledCheckInterval: createScheduledCheckInterval(ctx),
  };
  const worker = new Worker(
    QUEUES.launch,
    // The run's outcome, as every queue labels it; what the launch came to is cxo_launches_total's.
    timedProcessor(QUEUES.launch, (job: Job, token?: string) =>
      job.name === ACTIVATE_JOB ? processActivate(deps, job, token) : processLaunch(deps, job, token),
    ),
    options,
  );
  // close() waits for it (handler-work.ts): a graceful shutdown records the outcome, not half of it.
  const handlerWork = trackHandlerWork(worker);
  worker.on('failed', (job, err) => {
    if (!job) return;
    const started = handlerWork.run(() =>
      (job.name === ACTIVATE_JOB
        ? finishGivenUpActivation(deps, job, err)
        : finishGivenUpLaunch(deps, job, err)
      ).catch((finishErr: unknown) =>
        ctx.logger.error(
          { jobId: job.id, err: (finishErr as Error).message },
          'could not record the outcome of a launch job BullMQ gave up on',
        ),
      ),
    );
    if (!started) {
      ctx.logger.error(
        { jobId: job.id, err: err.message },
        'launch job failed as the worker closed; if BullMQ gave up on it, its launch still reads running',
      );
    }
  });
  return worker;
}
