import type { CampaignConfig } from '../shared/campaign-config.js';
import { noteCleanupFoundMissing } from '../shared/campaign-missing.js';
import type { AppContext } from '../shared/context.js';
import { createKeyStillRemembered, launchIdempotencyKey } from '../shared/cxone/idempotency.js';
import { toCreateCampaignRequest } from '../shared/cxone/to-wire.js';
import type { CampaignResource, CampaignStatus } from '../shared/cxone/wire.js';
import { CxoneNotFoundError } from '../shared/errors.js';
import { activateJobId, type LaunchJob } from '../shared/jobs.js';
import {
  campaignGoneReason,
  LAUNCH_FAILED_REASON,
  startedOutsideOrchestrator,
  startedOutsideReason,
} from '../shared/launch-store.js';
import { enqueueCommand, getCommand } from '../shared/lifecycle/enqueue.js';
import { isFinal, isRunning } from '../shared/lifecycle/state-machine.js';
import type { AuditInput } from '../shared/audit/types.js';
import { auditOrLog, auditWithChange } from '../shared/side-records.js';
import { watchLeftRunning, type LeftRunningWatch } from '../shared/started-outside.js';
import { ACTOR, type LaunchJobResult, type Deps } from './launch-deps.js';
import { transition } from './launch-transition.js';

/**
 * What a failed launch leaves on CXone, cleaned up: its campaign cancelled (or a stop queued, or left
 * running when an operator started it), a campaign a late run created abandoned, and a create whose
 * answer was lost asked for again.
 */

/**
 * Cancels what a failed launch left on CXone, so no half-launched campaign is left dialing or waiting.
 * When CXone refuses even that (it is down: often why the launch failed), the cancel is handed to the
 * adjust queue as a `stop` command, which retries it with backoff until CXone answers; its id goes on
 * the launch record so an operator can follow it. That stop keeps this cleanup's rule when it runs
 * (lifecycle/hooks.ts withdrawnOnRead): a campaign started outside the orchestrator is left running.
 */
export async function cancelPartialCampaign(
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
export function leftRunningDetails(left: {
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
export function campaignCreatedRecord(
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

export function auditCreated(
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
export async function finishedMeanwhile(
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
export async function abandonLateCampaign(
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
export async function noteStopIfDone(
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
 * launch's `cleanupError` says instead — and so, without sending anything, for a create sent with no
 * key (CXONE_CREATE_IDEMPOTENCY=none), which cannot be asked for again.
 */
export async function findUnansweredCreate(
  deps: Deps,
  data: LaunchJob,
  attempt: number,
): Promise<string | undefined> {
  const { ctx, launches } = deps;
  // Sent without a key (CXONE_CREATE_IDEMPOTENCY=none, launch-create.ts): asked again, it would make
  // another campaign and never find this one. Without the mark, no create of this launch may have been
  // carried out: nothing to find.
  const keyless = ctx.config.cxone.createIdempotency === 'none';
  let sentAt: string | undefined;
  try {
    sentAt = (await launches.get(data.launchId))?.createSentAt;
  } catch (err) {
    // Unread (Redis failing): the failure is still recorded. Without a key, as if a create had left.
    ctx.logger.warn(
      { launchId: data.launchId, err: (err as Error).message },
      "could not read whether the failed launch's create left without a key",
    );
    if (keyless) sentAt = 'an unknown time';
  }
  if (sentAt !== undefined || keyless) {
    if (sentAt === undefined) return undefined;
    ctx.logger.error(
      { launchId: data.launchId, createSentAt: sentAt },
      'a failed launch sent a create without an Idempotency-Key and recorded no answer: check CXone by hand',
    );
    return (
      `CXone may have created the campaign: a create sent at ${sentAt} without an Idempotency-Key ` +
      `(CXONE_CREATE_IDEMPOTENCY=none) recorded no answer, and sending it again would make another ` +
      `campaign; check CXone by hand for a campaign named ${JSON.stringify(data.config.name)} created ` +
      'since then, and cancel it if there is one'
    );
  }
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
