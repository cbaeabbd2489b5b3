import { UnrecoverableError, Worker, type Job, type WorkerOptions } from 'bullmq';
import { createCampaignStore } from '../shared/campaign-store.js';
import { recordDeploymentOverrides } from '../shared/compliance/overrides.js';
import { StartWindowPassedError } from '../shared/compliance/start-at-send.js';
import type { AppContext } from '../shared/context.js';
import type { CampaignResource, CampaignStatus } from '../shared/cxone/wire.js';
import { ACTIVATE_JOB, activateJobId, launchJobSchema, type ActivateJob } from '../shared/jobs.js';
import { QUEUES } from '../shared/keys.js';
import { createLaunchStore, JOB_FAILURE_RECORDER } from '../shared/launch-store.js';
import { isFinal, isRunning } from '../shared/lifecycle/state-machine.js';
import { launchOutcomes } from '../shared/metrics.js';
import { classifyError } from '../shared/retry/classify.js';
import { auditOrLog, auditWithChange } from '../shared/side-records.js';
import { rethrowForBullmq } from './job-errors.js';
import { timedProcessor } from './job-timing.js';
import { nextActivationWakeMs, nextLaunchStep, planActivation, runningFoundOnRead } from './launch-plan.js';
import { createScheduledCheckInterval } from './scheduled-check.js';
import { trackHandlerWork } from './handler-work.js';
import { currentAttempt, JOB_BACKOFF, workerOptions } from './worker-options.js';
import {
  ACTOR,
  type LaunchJobResult,
  type Deps,
  checkIntervalOf,
  isFinalFailure,
  describe,
} from './launch-deps.js';
import { transition } from './launch-transition.js';
import { createLaunchCampaign } from './launch-create.js';
import { activateNow } from './launch-activate-now.js';
import { takeoverMark, takeOverStartedDraft } from './launch-takeover.js';
import {
  campaignCreatedRecord,
  auditCreated,
  finishedMeanwhile,
  abandonLateCampaign,
  findUnansweredCreate,
} from './launch-cleanup.js';
import { failLaunch, finishGivenUpLaunch } from './launch-failure.js';
import { processActivate } from './launch-activation.js';
import { finishGivenUpActivation } from './launch-activation-failure.js';

// Where the tests have always imported them from.
export {
  type FailureRecording,
  finishGivenUpLaunch,
  settleGivenUpLaunch,
  settleJoblessRunningLaunch,
  settleLostLaunch,
} from './launch-failure.js';
export { finishGivenUpActivation } from './launch-activation-failure.js';
export { processActivate } from './launch-activation.js';
export { isFinalFailure, type LaunchJobResult } from './launch-deps.js';

/**
 * An activation job due later than this is added concurrently with the campaign record's sync: no
 * worker can pick it up before the sync's two round trips have landed.
 */
const CONCURRENT_ACTIVATION_MIN_DELAY_MS = 5_000;

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
    /**
     * An earlier run took it over and died before its safe start was recorded: carried on (3b), from
     * the rate it was taken over at (its safe start may be in place, its write's answer lost).
     */
    let takeoverUnfinished: { plannedFrom: number } | undefined;
    /**
     * A read found the campaign running: the record tells whether an operator started it in CXone
     * (taken over, 3b) or an earlier run of this launch activated it (its unrecorded safe start).
     */
    const noteRunningFound = async (id: string, status: CampaignStatus): Promise<void> => {
      const record = await campaigns.get(id);
      const found = runningFoundOnRead(status, record, data.config.dialerStrategy.callRate);
      if (found.kind === 'startedOutside') startedOutsideFrom = found.from;
      else if (found.kind === 'takeoverUnfinished') takeoverUnfinished = { plannedFrom: found.plannedFrom };
      else if (found.kind === 'active') plannedFrom = found.plannedFrom;
    };
    if (!campaignId) {
      const created = await createLaunchCampaign(deps, data, attempt, launch);
      campaignId = created.id;
      createdVersion = created.version;
      // Recorded before anything else can fail: a retry then reads this campaign instead of creating.
      // Its campaign_created record is written by the same script, so the campaign is never known to
      // the launch without it.
      const recorded = await launches
        .recordCreated(
          data.launchId,
          campaignId,
          created.version,
          auditWithChange(ctx, campaignCreatedRecord(data, campaignId, created.version)),
        )
        .catch((err: unknown) => {
          // The only place the campaign's id is known if the launch cannot record it (Redis failing).
          log.error(
            { campaignId: created.id, version: created.version, err: describe(err) },
            ctx.config.cxone.createIdempotency === 'key'
              ? 'CXone created the campaign and the launch could not record it; its retry asks CXone for it again by its Idempotency-Key'
              : 'CXone created the campaign and the launch could not record it; without an Idempotency-Key it cannot be asked for again and the launch will fail: cancel this campaign in CXone',
          );
          throw err;
        });
      if (!recorded) return await abandonLateCampaign(deps, data, created, attempt);
      named = true;
      createdHere = true;
      log.info({ campaignId, version: created.version }, 'campaign created on CXone');
      current = created;
    } else {
      full = await ctx.cxone.getCampaign(campaignId, { priority: 'control', campaignId, attempt });
      current = full;
      if (isRunning(full.status)) {
        // Running, and no activating write of ours noted (every one is, before it is sent): an
        // operator started it in CXone — the draft an earlier run created, or the campaign it
        // scheduled, before its start — taken over (3b), as the activation's look would have. Active
        // with one noted: an earlier run's activation may have been applied with its answer lost; the
        // record as that run left it (read before this run's sync) tells whether its safe start was
        // recorded. Only on this path: a first run never reads it.
        await noteRunningFound(campaignId, full.status);
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
          await noteRunningFound(campaignId, scheduled.status);
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
        // Before its safe-start write, naming the rate and version that write is planned from
        // (launch-takeover.ts takeoverMark): a later run tells that write, its answer lost, by them.
        ...(startedOutsideFrom
          ? {
              startedOutside: takeoverMark(
                { at: takenOverAt, from: startedOutsideFrom },
                scheduled,
                scheduled.status === 'active' ? 'pending' : 'left',
              ),
            }
          : {}),
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
          ...(startedOutsideFrom
            ? { takeover: true }
            : takeoverUnfinished
              ? { takeover: true, plannedFrom: takeoverUnfinished.plannedFrom }
              : { plannedFrom }),
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

/** The worker for the `launch` queue: launch jobs and their delayed activations. */
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
