import type { Job } from 'bullmq';
import type { CampaignRecord } from '../shared/campaign-store.js';
import type { CampaignResource } from '../shared/cxone/wire.js';
import { ACTIVATE_JOB, activateJobSchema } from '../shared/jobs.js';
import { isRunning } from '../shared/lifecycle/state-machine.js';
import { watchLeftRunning, type LeftRunningWatch } from '../shared/started-outside.js';
import { failedForStallLimit } from './job-errors.js';
import { type Deps, describe, finalReason } from './launch-deps.js';
import { startWatching } from './launch-activate-now.js';
import { noteActivation, noteActivationFailed, recordActivationFailed } from './launch-activation-notes.js';

/**
 * A delayed activation that failed for good with its campaign running, and an activation BullMQ gave
 * up on for its stall limit.
 */

/**
 * What a delayed activation found on CXone, or made of it: the campaign running, and whether it takes
 * it over.
 */
export interface FoundRunning {
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
export async function failRunning(
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
  await recordActivationFailed(ctx, current.id, failure, {
    cxoneVersion: current.version,
    auditExtra: watch.watched ? {} : { watchError: watch.error },
  });
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
export async function runningAfterUnanswered(
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
  if (!failedForStallLimit(job, err)) return false;
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
  // The last run, which stalled, may have announced its own final failure and died before noting it
  // on the launch: recorded and announced once, by the same key.
  await recordActivationFailed(ctx, campaignId, failure);
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
