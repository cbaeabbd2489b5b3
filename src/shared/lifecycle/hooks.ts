import { complianceRefusal } from '../compliance/command-guard.js';
import {
  cancelWindowEnforcement,
  REASON_WINDOW,
  releaseWindowPause,
  windowPauseFoundInPlace,
  windowResumeWithdrawn,
} from '../compliance/enforcement.js';
import { noteBlindPauseLifted, noteBlindPauseOvertaken, REASON_BLIND } from '../compliance/blind-actions.js';
import { recordGuardPauseLifted } from '../compliance/guard-actions.js';
import { recordComplianceAction } from '../compliance/record.js';
import { getWindowState } from '../compliance/state-store.js';
import { replanWindowEnforcement } from '../compliance/replan.js';
import { CampaignStore } from '../campaign-store.js';
import type { AppContext } from '../context.js';
import type { CampaignResource, CampaignStatus } from '../cxone/wire.js';
import {
  createLaunchStore,
  LAUNCH_FAILED_REASON,
  startedOutsideOrchestrator,
  startedOutsideReason,
} from '../launch-store.js';
import { activateJobId } from '../jobs.js';
import { recordCarriedSafeStart } from '../pacing/apply.js';
import { carriedSafeStart } from '../pacing/resume.js';
import { ensurePolling, stopPolling } from '../polling/schedulers.js';
import { auditOrLog } from '../side-records.js';
import { watchLeftRunning, type LeftRunningWatch } from '../started-outside.js';
import type { LifecycleHooks } from './executor.js';
import { isFinal } from './state-machine.js';
import { planActivation } from '../../workers/launch-plan.js';
import { importIfChangedOutside, queueHistoryImport } from '../audit/history-sync.js';
import { announceOutsideChange } from '../polling/outside-announce.js';
import { outsidePart } from './own-write.js';

/**
 * The lifecycle's effects on other areas, wired to their real implementations:
 * - a failed launch's cleanup stop of a campaign started outside the orchestrator since it was queued
 *   is withdrawn, as the cleanup itself would have left it, and the campaign watched (withdrawnOnRead);
 * - a final status (completed, cancelled) stops statistics polling and calling-window enforcement,
 *   and drops a pending delayed activation; the cleanup stop of a failed launch, written or finding
 *   the campaign already ended, is noted on the launch;
 * - a resume (→ active) makes sure the campaign is polled again;
 * - a pause that is not the calling window's (applied, or found in place) is the requester's: the
 *   window drops its claim and never resumes it (enforcement.ts, releaseWindowPause), and a window
 *   resume queued before it is withdrawn when it comes to run (windowResumeWithdrawn);
 * - a pause or resume by someone else's command ends the abandonment guard's blind pause's claim
 *   (blind-actions.ts): it is not lifted when the statistics come back;
 * - every other status or settings change re-plans window enforcement, which reads the new config;
 *   a pending window re-check (the 30 s verify after the window's own pause) is kept, not replaced
 *   by the next open (replan.ts).
 */
export function createLifecycleHooks(ctx: AppContext): LifecycleHooks {
  return {
    complianceRefusal: (input) => complianceRefusal({ ...input, policy: ctx.config }),
    onCampaignRead: (record, version) => importIfChangedOutside(ctx, record, version),
    async onOutsideSeen(campaignId, seen, own) {
      // Compared with the record as it is now, as the poll does: a sync since (an undo's) is newer.
      const store = new CampaignStore(ctx);
      const known = (await store.get(campaignId))?.cxone;
      if (known && seen.version > known.version) {
        await announceOutsideChange(ctx, campaignId, known, outsidePart(known, seen, own));
        // Then synced to what was told, as the poll does: left behind it, a later read (this command's
        // retry after its write landed with the answer lost, a poll) found the same change newer than
        // the record again and told it a second time, under the later version's name. Only onto a
        // known record: a retention trim since is not undone by a command's read.
        await store.syncFromCxone(seen, {}, { onlyIfKnown: true });
        await queueHistoryImport(ctx, campaignId, seen.version);
      }
    },
    async onStatusChanged(campaignId, from, to, by) {
      if (isFinal(to)) {
        await Promise.all([
          stopPolling(ctx, campaignId),
          // A stop of a dialing campaign, written by this command: when it stopped the dialing, which a
          // window pause still on its way was due to stop by the close (enforcement.ts, stopAgainstDue).
          cancelWindowEnforcement(
            ctx,
            campaignId,
            from === 'active' && by?.statusAt !== undefined ? { ...by, statusAt: by.statusAt } : undefined,
          ),
          // A scheduled campaign stopped before its start: its activation would find it final and do
          // nothing, but Bull Board would show it pending until then. (One running right now stays.)
          ctx.queues.launch.remove(activateJobId(campaignId)).catch(() => 0),
          // With its activation gone, nothing else would tell the launch it never started.
          ...(from === 'scheduled' ? [noteStoppedBeforeStart(ctx, campaignId, to, by?.version)] : []),
          // The stop a failed launch queued went through: the launch stops reading "not cancelled".
          ...(by?.reason === LAUNCH_FAILED_REASON ? [noteCleanedUp(ctx, campaignId, to, by.version)] : []),
        ]);
        return;
      }
      if (to === 'active') await ensurePolling(ctx, campaignId);
      if (to === 'active' && from === 'paused' && by) {
        // Compliance's own resumes lift only their own pauses (the window's, the blind pause's): one of a
        // campaign the guard paused found it dialing when they paused it, so someone had lifted the
        // guard's pause before — in CXone's console, which the poll after this resume records.
        if (by.reason !== REASON_WINDOW && by.reason !== REASON_BLIND) {
          await recordGuardPauseLifted(ctx, campaignId, by);
        }
        await noteBlindPauseLifted(ctx, campaignId, by);
        await noteBlindPauseOvertaken(ctx, campaignId, by);
      }
      await replanWindowEnforcement(ctx, campaignId);
    },
    async onStatusFoundInPlace(campaignId, status, by) {
      // The stop a failed launch queued found its campaign already ended (someone stopped it first):
      // its purpose is met all the same, and the launch must stop reading "a stop pending".
      if (isFinal(status) && by.reason === LAUNCH_FAILED_REASON) {
        await noteCleanedUp(ctx, campaignId, status, by.version);
      }
      // The window's pause finding the campaign paused: someone else's pause, never the window's to lift.
      if (status === 'paused') await windowPauseFoundInPlace(ctx, campaignId, by);
    },
    async withdrawnOnRead(command, current, record) {
      // Queued when CXone refused the cleanup's own cancel, it may run long after: by then an operator
      // may have started the draft in the console. The cleanup's rule holds for it too; an operator's
      // own stop is theirs and runs whatever the campaign's state.
      if (command.reason !== LAUNCH_FAILED_REASON || command.action !== 'stop') return null;
      if (!startedOutsideOrchestrator(current.status, record)) return null;
      // Left running, and watched as the cleanup's own cancel leaves one (started-outside.ts).
      const launchId = await createLaunchStore(ctx).launchOfCampaign(command.campaignId);
      const watch = await watchLeftRunning(ctx, {
        ...(launchId ? { launchId } : {}),
        current,
        record,
        why: `started outside the orchestrator; the stop ${command.commandId} its failed launch queued was withdrawn`,
      });
      const reason = startedOutsideReason(current.id, current.status, command.commandId, watch);
      await noteLeftRunning(ctx, command, current, reason, { launchId, recorded: record !== null, watch });
      return reason;
    },
    windowClosingAt: async (campaignId) => (await getWindowState(ctx, campaignId)).closingAt,
    withdrawn: (command) => windowResumeWithdrawn(ctx, command),
    async onPauseTaken(campaignId, by) {
      await releaseWindowPause(ctx, campaignId, by);
      await noteBlindPauseOvertaken(ctx, campaignId, by);
    },
    async onSettingsChanged(campaignId, fields) {
      const windowFields = ['allowedCallTimes', 'complianceTimeZone', 'recipientStates', 'blackoutDates'];
      if (fields.some((f) => windowFields.includes(f))) {
        await replanWindowEnforcement(ctx, campaignId);
        await noteActivationReplanned(ctx, campaignId);
      }
    },
    carriedSafeStart,
    async onSafeStartCarried(campaignId, carried, by) {
      await recordCarriedSafeStart(ctx, {
        campaignId,
        config: carried.config,
        reason: carried.reason,
        commandId: by.commandId,
        commandReason: by.reason,
        cxoneVersion: by.version,
      });
    },
    async onPollIntervalChanged(campaignId, intervalMs) {
      await ensurePolling(ctx, campaignId, intervalMs);
    },
    async onComplianceRefused(campaignId, refusal) {
      await recordComplianceAction(ctx, {
        campaignId,
        kind: 'refused_resume',
        details: { reason: refusal.reason, requestedBy: refusal.actor, commandId: refusal.commandId },
        cxoneVersion: refusal.version,
        actor: refusal.actor,
      });
    },
  };
}

/** The failed launch whose stop of this campaign just went through (launch-store.ts recordCleanedUp). */
async function noteCleanedUp(
  ctx: AppContext,
  campaignId: string,
  status: CampaignStatus,
  version: number,
): Promise<void> {
  const launches = createLaunchStore(ctx);
  const launchId = await launches.launchOfCampaign(campaignId);
  if (launchId)
    await launches.recordCleanedUp(launchId, campaignId, { campaignStatus: status, cxoneVersion: version });
}

/**
 * The stop a failed launch queued found its campaign started outside the orchestrator: the launch it
 * cleans up for says so (launch-store.ts recordLeftRunning) and the trail gets it as the cleanup's
 * own cancel would have recorded it (`launch_failed`, stage `cleanup`, `leftRunning`), once per stop.
 */
async function noteLeftRunning(
  ctx: AppContext,
  command: { campaignId: string; commandId: string; actor: string },
  current: CampaignResource,
  cleanupError: string,
  found: { launchId: string | null; recorded: boolean; watch: LeftRunningWatch },
): Promise<void> {
  const launches = createLaunchStore(ctx);
  const { launchId, watch } = found;
  ctx.logger.warn(
    {
      launchId,
      campaignId: command.campaignId,
      commandId: command.commandId,
      status: current.status,
      version: current.version,
      recorded: found.recorded,
      watched: watch.watched,
    },
    "the failed launch's stop found its campaign started outside the orchestrator: withdrawn, left running",
  );
  if (launchId) {
    await launches.recordLeftRunning(launchId, command.campaignId, {
      campaignStatus: current.status,
      cxoneVersion: current.version,
      cleanupError,
    });
  }
  await auditOrLog(ctx, {
    campaignId: command.campaignId,
    action: 'launch_failed',
    actor: command.actor,
    cxoneVersion: current.version,
    details: {
      ...(launchId ? { launchId } : {}),
      stage: 'cleanup',
      commandId: command.commandId,
      cancelledOnCxone: false,
      leftRunning: current.status,
      cleanupError,
      watched: watch.watched,
      ...(watch.watched ? {} : { watchError: watch.error }),
    },
    dedupeKey: `cleanup_left_running:${command.commandId}`,
  });
}

/**
 * Calling windows changed on a scheduled campaign: its activation now plans another moment, which the
 * campaign's view shows at once (it plans from the record on every read). The launch record's
 * `activateAt` follows here; its activation job, on its next look, finds the new moment itself but
 * notes it only when a start that was due has moved, so without this `GET /v1/launches/{id}` went on
 * naming the old moment. A start already due is left to the activation job, which acts on it.
 */
async function noteActivationReplanned(ctx: AppContext, campaignId: string): Promise<void> {
  const record = await new CampaignStore(ctx).get(campaignId);
  if (!record?.launchId || record.status !== 'scheduled') return;
  if (record.missingOnCxone || record.activationFailed) return;
  const plan = planActivation(record.config, ctx.clock.now());
  if (plan.delayMs <= 0) return;
  await createLaunchStore(ctx).recordActivation(record.launchId, {
    activateAt: new Date(plan.activateAtMs).toISOString(),
  });
}

/**
 * A scheduled campaign stopped before its start: the launch record, which reads "scheduled, activates
 * at …", says what became of it instead (launch-store.ts recordActivation).
 */
async function noteStoppedBeforeStart(
  ctx: AppContext,
  campaignId: string,
  status: CampaignStatus,
  version: number | undefined,
): Promise<void> {
  const launchId = (await new CampaignStore(ctx).get(campaignId))?.launchId;
  if (!launchId) return;
  await createLaunchStore(ctx).recordActivation(launchId, {
    campaignStatus: status,
    ...(version !== undefined ? { cxoneVersion: version } : {}),
  });
}
