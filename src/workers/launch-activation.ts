import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { configFromResource, type CampaignRecord } from '../shared/campaign-store.js';
import { importIfChangedOutside } from '../shared/audit/history-sync.js';
import { checkOutsideChange } from '../shared/compliance/outside-change.js';
import { StartWindowPassedError } from '../shared/compliance/start-at-send.js';
import { StatsScopeMissingError, statsScopeGranted } from '../shared/compliance/scope-at-send.js';
import { STATS_SCOPE } from '../shared/cxone/scopes.js';
import { recordComplianceAction } from '../shared/compliance/record.js';
import { SCOPE_RECHECK_MS } from '../shared/cxone/token-provider.js';
import type { CampaignResource } from '../shared/cxone/wire.js';
import { CxoneNotFoundError } from '../shared/errors.js';
import { activateJobSchema, type ActivateJob } from '../shared/jobs.js';
import { rethrowForBullmq } from './job-errors.js';
import {
  nextActivationWakeMs,
  nextLaunchStep,
  planActivation,
  type ActivationPlan,
  runningFoundOnRead,
} from './launch-plan.js';
import { CampaignMissingAtStartError, noteFoundAtLook, noteMissingAtLook } from './scheduled-check.js';
import { redelayAfterRun } from '../shared/redelay-job.js';
import { currentAttempt } from './worker-options.js';
import {
  type LaunchJobResult,
  type Deps,
  checkIntervalOf,
  isFinalFailure,
  describe,
  finalReason,
} from './launch-deps.js';
import {
  announceScopeHoldLifted,
  announceScopeHoldPlaced,
  scopeHoldPlacedAt,
  type ScopeHoldEnd,
} from '../shared/compliance/scope-hold-events.js';
import { activateNow } from './launch-activate-now.js';
import { markTakenOver, takeOverEarlyActivation } from './launch-takeover.js';
import {
  noteActivation,
  noteActivated,
  noteScheduledStart,
  noteActivationFailed,
  recordActivationFailed,
} from './launch-activation-notes.js';
import { type FoundRunning, failRunning, runningAfterUnanswered } from './launch-activation-failure.js';

/**
 * The delayed activation (`activate` job): the looks at a scheduled campaign before its start, and its
 * activation at the start.
 */

/** How often a held activation (settings that break a compliance rule) looks again. */
const NONCOMPLIANT_RECHECK_MS = 5 * 60_000;

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
 * Announces the end of the job's current scope hold, under the hold's name: the launch and how many
 * holds the job ended before it, so a hold placed again after one lifted is announced as another.
 */
async function liftActivationHold(
  ctx: Deps['ctx'],
  data: Pick<ActivateJob, 'campaignId' | 'launchId' | 'scopeHoldsEnded'>,
  heldSince: string,
  why: ScopeHoldEnd,
): Promise<void> {
  await announceScopeHoldLifted(
    ctx,
    data.campaignId,
    {
      kind: 'activation_withheld',
      heldSince,
      name: `activation:${data.launchId}:${data.scopeHoldsEnded ?? 0}`,
    },
    why,
  );
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
        if (missingSince === undefined) throw err;
        // The activation gives up for good: a hold for the statistics scope ends with it, told so that
        // a receiver pairing hold.placed with its lift is not left with one open for ever.
        if (data.scopeHeldSince !== undefined) {
          await liftActivationHold(ctx, data, data.scopeHeldSince, 'campaign_missing');
        }
        throw new CampaignMissingAtStartError(data.campaignId, missingSince);
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
    // A hold for the statistics scope ends when a look's token has the scope again, whatever comes of
    // the start (moved to the next open, its write deferred): should the scope go missing again, that
    // is a new hold, recorded and warned of as the first was. Only a held job pays the write.
    if (data.scopeHeldSince !== undefined && statsScopeGranted(ctx.cxone) === true) {
      log.info(
        { heldSince: data.scopeHeldSince },
        'statistics scope granted again; activation no longer held',
      );
      // Announced before the job notes it: a run that died in between announces it again, by one id.
      await liftActivationHold(ctx, data, data.scopeHeldSince, 'scope_granted');
      delete data.scopeHeldSince;
      data.scopeHoldsEnded = (data.scopeHoldsEnded ?? 0) + 1;
      await job.updateData(data);
    }
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
      // Running at or after its start, or before it: whose start it was is decided by the rule the
      // launch's own runs use (launch-plan.ts runningFoundOnRead), never by the record's status, which a
      // GET or a command may have refreshed meanwhile. Before its start, or with no activating write of
      // ours noted on the record (every one is, before it is sent), it is an operator's activation in
      // CXone's console — since the last look, or while the job waited for a worker — taken over now;
      // marked taken over with its safe start unrecorded, an earlier run's takeover died before
      // recording it, and it is carried on as its mark says (pending: a start found in place on a later
      // version is ours, recorded; refused: decided again; left: the operator's, never written over or
      // recorded); else it is this launch's own start (a redelivery after the activation went
      // through), its safe start recorded when its answer was lost before the sync.
      // The rate the activating run saved it planned from, before it sent the write; the record's for
      // a job saved by an earlier release (a GET's refresh since shows CXone's start there instead).
      const requested = data.startPlannedFrom ?? record?.config.dialerStrategy.callRate;
      const found = runningFoundOnRead(current.status, record, requested, { beforeStart: early });
      const outside = found.kind === 'startedOutside';
      const carried = found.kind === 'takeoverUnfinished' ? found.plannedFrom : undefined;
      // Taken over, now or by an earlier run: announced as such, never as the scheduled start.
      const takenOver = outside || record?.startedOutside !== undefined;
      foundRunning = { current, record, takeover: takenOver };
      // Held for the scope and found running: an operator's start ended the hold (or our own, its
      // scope seen at the send, redelivered). The job ends here, and nothing else would announce it.
      if (data.scopeHeldSince !== undefined) {
        await liftActivationHold(ctx, data, data.scopeHeldSince, takenOver ? 'started' : 'scope_granted');
      }
      if (outside) {
        // It may be dialing unwatched: it is watched from now on (pacing, calling windows), and the
        // trail says who did not start it.
        await takeOverEarlyActivation(deps, current, expectedAt, data.launchId);
        // Marked before the safe-start write, as the launch's takeover is (its sync): a write CXone
        // applies whose answer is lost, and a worker that dies before the sync after it, leave the
        // record marked (safeStart pending, from the rate it read) with no pacing — the next run
        // carries the takeover on and records the safe start it finds in place. Unmarked, that run
        // took the campaign for a fresh takeover at the lowered rate, found nothing to lower, and the
        // safe start went unrecorded. After the announcement: a run that died between the two is
        // redelivered unmarked, and announces once.
        await markTakenOver(deps, current, data.launchId);
      }
      const resource = await activateNow(deps, {
        ...activation,
        ...(outside
          ? { takeover: true }
          : carried !== undefined
            ? { takeover: true, plannedFrom: carried }
            : { plannedFrom: found.kind === 'active' ? found.plannedFrom : undefined }),
      });
      if (takenOver) await noteActivated(deps, data.launchId, resource);
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
    /**
     * The token lacks the statistics scope (nothing sent): the start is held, not given up — the
     * campaign stays scheduled and the job looks again when the token provider next asks for a
     * token (SCOPE_RECHECK_MS), activating once the scope is back, within the calling window as
     * any start. Unbounded, as a start waiting for its window is: nothing dials meanwhile, the hold
     * is recorded and warned of once per hold, and an operator who will not grant the scope stops the
     * campaign; giving up instead made a momentary shortfall cost a stop and a resubmission.
     */
    const holdForStatsScope = async (err: StatsScopeMissingError): Promise<never> => {
      const recheckAt = ctx.clock.now() + SCOPE_RECHECK_MS;
      if (data.scopeHeldSince === undefined) {
        // Recorded before the job notes the hold: noted first, a record that failed (a Redis blip)
        // would be lost for good, the next run finding the hold noted. Keyed on the holds this job
        // has seen end, which only a look finding the scope back changes: a run retrying the same
        // hold (its record or its note failed) records it once, a later hold anew.
        const dedupeKey = `activation_withheld:${data.campaignId}:${data.launchId}:${data.scopeHoldsEnded ?? 0}`;
        // A retry of a hold recorded (and announced) by a run that died before its note keeps that
        // placement's time: the lift names it.
        const heldSince = new Date(
          await scopeHoldPlacedAt(ctx, data.campaignId, dedupeKey, ctx.clock.now()),
        ).toISOString();
        log.warn(
          { missingScopes: [STATS_SCOPE], recheckInMs: SCOPE_RECHECK_MS },
          `activation held: CXone did not grant this OAuth client ${STATS_SCOPE}, so the abandonment ` +
            `guard could not measure the campaign; it stays scheduled and is activated once the scope ` +
            `is granted (grant it to the client in CXone admin; checked every ${SCOPE_RECHECK_MS / 60_000} minutes), ` +
            'or stop it',
        );
        await recordComplianceAction(ctx, {
          campaignId: data.campaignId,
          kind: 'activation_withheld',
          cxoneVersion: current.version,
          details: {
            rule: 'statistics-scope',
            missingScopes: [STATS_SCOPE],
            reason: err.message,
            heldSince,
            recheckInMs: SCOPE_RECHECK_MS,
          },
          dedupeKey,
          event: 'campaign.compliance.hold.placed',
        });
        data.scopeHeldSince = heldSince;
        await job.updateData(data);
      } else {
        log.debug({ heldSince: data.scopeHeldSince }, 'activation still held for the statistics scope');
        // Told now if the placement's own publish failed (a no-op once it was stored).
        await announceScopeHoldPlaced(ctx, data.campaignId, 'activation_withheld', data.scopeHeldSince);
      }
      return await moveTo(recheckAt);
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
      if (err instanceof StatsScopeMissingError) return await holdForStatsScope(err);
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
      await recordActivationFailed(ctx, data.campaignId, failure);
      await noteActivation(deps, data.launchId, { activationError: failure.reason });
      await noteActivationFailed(deps, data.campaignId, failure.reason);
    }
    return rethrowForBullmq(err, job, ctx.queues.launch, ctx, token);
  }
}
