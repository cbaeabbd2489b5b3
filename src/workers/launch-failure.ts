import { UnrecoverableError, type Job } from 'bullmq';
import type { CampaignConfig } from '../shared/campaign-config.js';
import { isCxoneError } from '../shared/errors.js';
import { ACTIVATE_JOB, launchJobSchema, type LaunchJob } from '../shared/jobs.js';
import { JOB_FAILURE_RECORDER, launchAuditId } from '../shared/launch-store.js';
import { launchOutcomes } from '../shared/metrics.js';
import { auditOrLog, publishOrLog } from '../shared/side-records.js';
import { ACTOR, type Deps, describe, finalReason } from './launch-deps.js';
import {
  cancelPartialCampaign,
  leftRunningDetails,
  noteStopIfDone,
  findUnansweredCreate,
} from './launch-cleanup.js';

/**
 * Recording a launch as failed for good, by its own run or by whoever finds it given up or lost (the
 * worker's `failed` handler, the launch sweep).
 */

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
export async function failLaunch(
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
