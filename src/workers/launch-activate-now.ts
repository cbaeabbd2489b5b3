import type { CampaignConfig } from '../shared/campaign-config.js';
import { configFromResource, type StartedOutsideMark } from '../shared/campaign-store.js';
import { queueHistoryImport } from '../shared/audit/history-sync.js';
import { scheduleWindowEnforcement } from '../shared/compliance/enforcement.js';
import { startWindowCheck } from '../shared/compliance/start-at-send.js';
import { statsScopeCheck } from '../shared/compliance/scope-at-send.js';
import type { AppContext } from '../shared/context.js';
import { mayHaveBeenApplied } from '../shared/cxone/outcome-unknown.js';
import type { CampaignResource, CampaignStatus } from '../shared/cxone/wire.js';
import { isRunning } from '../shared/lifecycle/state-machine.js';
import { recordSafeStart, safeStartPacingRecord } from '../shared/pacing/safe-start.js';
import { ownSafeStartInPlace, startingCallRate, type SafeStart } from '../shared/pacing/start.js';
import { ensurePolling } from '../shared/polling/schedulers.js';
import { auditOrLog } from '../shared/side-records.js';
import { recordStartedOutside } from '../shared/started-outside.js';
import { ACTOR, type Deps, describe } from './launch-deps.js';
import { transition } from './launch-transition.js';
import {
  markTakenOver,
  safeStartRunning,
  takeoverMark,
  type TakeoverSafeStart,
  writeTakeoverMark,
} from './launch-takeover.js';

/**
 * The activating write of a launch's campaign, now or at its delayed start: the safe start riding on
 * it, the record's sync and the watch that follow, and the note of a write taken back when not applied.
 */

/**
 * After a campaign went active: start watching it (stats polling, calling-window enforcement).
 * `stored` is the config and status just written to the campaign record, when this run wrote it:
 * enforcement plans from them instead of reading the record back.
 */
export async function startWatching(
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
export async function activateNow(
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
     * launch's own activation whose answer was lost, and its safe start is recorded now. With
     * `takeover`: the rate an earlier run's takeover found it dialing at, its safe start likewise —
     * for a mark of an earlier release only; a takeover's mark names its own (StartedOutsideMark).
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
  /**
   * The takeover's mark as this run last wrote it (an operator's activation that beat this run's own
   * write, or a takeover's step since), for the record's sync to keep.
   */
  let startedOutside: StartedOutsideMark | undefined;
  /** Rewrites the takeover's mark (`base`: the one on the record) at each step of its safe start. */
  const remark =
    (base: StartedOutsideMark) =>
    async (current: CampaignResource, step: TakeoverSafeStart): Promise<void> => {
      const mark = takeoverMark(base, current, step);
      await writeTakeoverMark(deps, current, input.launchId, mark);
      startedOutside = mark;
    };
  if (input.takeover && before.status === 'active') {
    // Marked before this run was called: by its own takeover (markTakenOver, the launch's sync), or by
    // an earlier run's that died before recording the safe start, carried on now.
    const mark = (await campaigns.get(input.campaignId))?.startedOutside;
    const found = { status: before.status, config: configFromResource(before, input.config) };
    let inPlace: SafeStart | null = null;
    if (mark?.safeStart === undefined) {
      // Marked by an earlier release (`plannedFrom`, the rate it was taken over at): its safe-start
      // write may have been applied with its answer lost, and at exactly that start it is recorded.
      // From the launch's rate when a read's refresh since put CXone's start in the record.
      inPlace =
        input.plannedFrom === undefined
          ? null
          : (ownSafeStartInPlace(input.plannedFrom, found, { dialing: true }) ??
            ownSafeStartInPlace(input.config.dialerStrategy.callRate, found, { dialing: true }));
    } else if (
      mark.safeStart === 'pending' &&
      mark.takenOverFrom &&
      before.version > mark.takenOverFrom.version
    ) {
      // Its write, planned from the rate the mark names on the version it names, may have been applied
      // with its answer lost: CXone at exactly that start, since that version, is that write, recorded
      // as that run would have (a write now would find no rate to lower, the start unrecorded). What
      // the record says meanwhile (a GET's refresh shows the start) does not enter into it, nor does a
      // 409's `refused` mark, whose write was never applied: the operator's change at that figure is theirs.
      inPlace = ownSafeStartInPlace(mark.takenOverFrom.callRate, found, { dialing: true });
    }
    if (inPlace) {
      resource = before;
      applied = inPlace;
    } else if (mark?.safeStart === 'left') {
      // Settled: left as the operator set it, pacing takes it from its first poll.
      resource = before;
    } else {
      ({ resource, safeStart: applied } = await safeStartRunning(ctx, {
        ...input,
        ...(mark
          ? {
              mark: remark(mark),
              ...(mark.safeStart === 'pending' ? { markedOn: mark.takenOverFrom?.version } : {}),
            }
          : {}),
      }));
    }
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
        // scope (StatsScopeMissingError): the guard could not measure the campaign; a launch fails as
        // one CXone refuses does, a scheduled start holds until the scope is back (launch-activation.ts).
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
      await recordStartedOutside(ctx, resource, {
        launchId: input.launchId,
        from: 'scheduled',
        reason: "activated outside the orchestrator while its launch's own activation was on its way",
      });
      await queueHistoryImport(ctx, input.campaignId, resource.version);
      // Marked before the safe-start write (markTakenOver): its answer lost and this worker dead
      // before the sync, the next run finds the takeover unfinished and records the start in place.
      const mark = await markTakenOver(deps, resource, input.launchId);
      startedOutside = mark;
      if (resource.status === 'active') {
        ({ resource, safeStart: applied } = await safeStartRunning(ctx, {
          ...input,
          before: resource,
          mark: remark(mark),
          markedOn: resource.version,
        }));
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
  // a no-op, and a run that died before writing the record gets it written now. A takeover says so:
  // the launch is fulfilled, but the start was not the orchestrator's (the state_changed before it
  // says who, from where) — also one an earlier run of it marked on the record before it died: this
  // run finds the campaign running, marked, and is not told it is a takeover.
  const marked = (stored ?? (await campaigns.get(input.campaignId)))?.startedOutside !== undefined;
  const takenOver = input.takeover === true || startedOutside !== undefined || marked;
  await auditOrLog(ctx, {
    campaignId: input.campaignId,
    action: 'campaign_launched',
    actor: ACTOR,
    cxoneVersion: resource.version,
    details: {
      launchId: input.launchId,
      requestedBy: input.actor,
      status: resource.status,
      ...(takenOver ? { startedOutside: true } : {}),
    },
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
