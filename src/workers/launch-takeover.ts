import type { CampaignConfig } from '../shared/campaign-config.js';
import {
  configFromResource,
  UnknownCampaignError,
  type StartedOutsideMark,
} from '../shared/campaign-store.js';
import { queueHistoryImport } from '../shared/audit/history-sync.js';
import type { AppContext } from '../shared/context.js';
import type { CampaignResource, CampaignStatus } from '../shared/cxone/wire.js';
import { CxoneConflictError } from '../shared/errors.js';
import { activateJobId, type LaunchJob } from '../shared/jobs.js';
import { startingCallRate, type SafeStart } from '../shared/pacing/start.js';
import { recordStartedOutside } from '../shared/started-outside.js';
import { planActivation } from './launch-plan.js';
import type { Deps } from './launch-deps.js';

/**
 * The takeover of a launch's campaign started outside the orchestrator (an operator's activation in
 * CXone's console): recorded as started outside, and brought down to the safe start when it dials.
 */

/** How many versions the takeover's safe start is decided on before a change each time wins. */
export const TAKEOVER_SAFE_START_ATTEMPTS = 3;

/**
 * The safe start for a campaign someone else activated: already dialing at its requested rate, with
 * no statistic seen yet, it would otherwise run at that rate until pacing's first decisions (or the
 * abandonment guard's pause) catch up. One If-Match write of the callRate on the version just read.
 *
 * A 409 says the operator changed the campaign since that read: nothing was applied, and the safe
 * start is decided again on the version CXone holds now — never written blindly over it, never given
 * up on either (given up, a campaign an operator raised to 0.9 in the meantime dialed at 0.9 with no
 * statistic seen). The safe start only ever lowers the rate, so the rule is: a campaign no longer
 * active (paused, ended), or whose newer rate is already at or below the safe start (or whose newer
 * settings take callRate out of pacing's hands: another strategy, a progressive dialer), is left as
 * the operator set it and nothing is claimed as the orchestrator's; otherwise the safe start is
 * written on the new version, anchored on the rate it was dialing at there, and recorded. After
 * TAKEOVER_SAFE_START_ATTEMPTS versions changing under it, the last one read is left to pacing's
 * first poll. The resource returned is the one CXone holds as far as this run knows (the write's
 * answer, or the last read), for the record's sync.
 */
export async function safeStartRunning(
  ctx: AppContext,
  input: {
    campaignId: string;
    config: CampaignConfig;
    attempt: number;
    before: CampaignResource;
    /**
     * Rewrites the record's takeover mark (StartedOutsideMark.safeStart) at each step, so a later run
     * before pacing's first poll knows which write may be in flight: `pending` on a version before its
     * write is sent there, `refused` on a 409, `left` when the rate is left as the operator set it.
     */
    mark?: (resource: CampaignResource, safeStart: TakeoverSafeStart) => Promise<void>;
    /** The version the record's mark already names `pending` (this run's, or the run it carries on). */
    markedOn?: number;
  },
): Promise<{ resource: CampaignResource; safeStart: SafeStart | null }> {
  let current = input.before;
  const leave = async () => {
    await input.mark?.(current, 'left');
    return { resource: current, safeStart: null };
  };
  for (let tries = 1; ; tries++) {
    if (current.status !== 'active') return leave();
    // Already dialing at its request: lines from it may still ring at pacing's first polls.
    const safeStart = startingCallRate(configFromResource(current, input.config), { dialing: true });
    if (!safeStart) return leave();
    // Marked before it is sent: its answer lost, the next run finds CXone at this start on a later
    // version and records it; never for an operator's change the mark does not name.
    if (current.version !== input.markedOn) await input.mark?.(current, 'pending');
    try {
      const resource = await ctx.cxone.updateCampaign(
        input.campaignId,
        current.version,
        { dialerSettings: { callRate: safeStart.callRate } },
        { priority: 'control', campaignId: input.campaignId, attempt: input.attempt },
      );
      return { resource, safeStart };
    } catch (err) {
      if (!(err instanceof CxoneConflictError)) throw err;
      if (tries >= TAKEOVER_SAFE_START_ATTEMPTS) {
        ctx.logger.warn(
          { campaignId: input.campaignId, version: current.version, tries },
          'campaign kept changing in CXone while taking it over; pacing takes it from its first poll',
        );
        return leave();
      }
      // Nothing of it applied: a run that dies before the re-read's decision must not take the
      // operator's change (0.1, say) for this write applied with its answer lost.
      await input.mark?.(current, 'refused');
      ctx.logger.info(
        { campaignId: input.campaignId, version: current.version },
        'campaign changed in CXone while taking it over; deciding its safe start again on the version it holds now',
      );
      current = await ctx.cxone.getCampaign(input.campaignId, {
        priority: 'control',
        campaignId: input.campaignId,
        attempt: input.attempt,
      });
    }
  }
}

/** Where a takeover's safe start stands, as its mark on the record says (StartedOutsideMark). */
export type TakeoverSafeStart = NonNullable<StartedOutsideMark['safeStart']>;

/**
 * The takeover's mark for `safeStart` decided on `current`: `pending` names the rate and version the
 * write is planned from and sent on (takenOverFrom); the others need neither. Pure.
 */
export function takeoverMark(
  base: Pick<StartedOutsideMark, 'at' | 'from'>,
  current: Pick<CampaignResource, 'version' | 'dialerSettings'>,
  safeStart: TakeoverSafeStart,
): StartedOutsideMark {
  return safeStart === 'pending'
    ? {
        at: base.at,
        from: base.from,
        takenOverFrom: { callRate: current.dialerSettings.callRate, version: current.version },
        safeStart,
      }
    : { at: base.at, from: base.from, safeStart };
}

/**
 * Writes a takeover's mark on the record, synced from `current` (CXone wins); a record holding a newer
 * version gets the mark alone; no record, nothing to mark.
 */
export async function writeTakeoverMark(
  deps: Pick<Deps, 'campaigns'>,
  current: CampaignResource,
  launchId: string,
  mark: StartedOutsideMark,
): Promise<void> {
  const synced = await deps.campaigns.syncFromCxone(
    current,
    { launchId, startedOutside: mark },
    { onlyIfKnown: true },
  );
  if (!synced) {
    try {
      await deps.campaigns.patch(current.id, { startedOutside: mark });
    } catch (err) {
      if (!(err instanceof UnknownCampaignError)) throw err;
    }
  }
}

/**
 * Marks the record of a campaign just taken over `startedOutside`, synced from what CXone holds — the
 * rate it was found dialing at, which its safe start is planned from — before the safe-start write, as
 * the launch's takeover marks it (its sync): a write CXone applies whose answer is lost, followed by a
 * worker that dies before the sync after it, leaves the record marked with no pacing, and the next run
 * carries the takeover on (launch-plan.ts runningFoundOnRead) and records the safe start it finds in
 * place, planned from the rate the mark names (`pending`, takenOverFrom: a GET's refresh of the record
 * since shows CXone's start instead). Unmarked, the next run took it for a fresh takeover at the
 * lowered rate: nothing to lower, nothing recorded. Written after the takeover's announcement (a run
 * that died between the two is redelivered unmarked, and announces once). Returns the mark, for the
 * run's own steps (safeStartRunning's `mark`) to rewrite.
 */
export async function markTakenOver(
  deps: Pick<Deps, 'ctx' | 'campaigns'>,
  current: CampaignResource,
  launchId: string,
  from: CampaignStatus = 'scheduled',
): Promise<StartedOutsideMark> {
  // Not active (paused in the console), it gets no safe-start write: left to the operator from the start.
  const mark = takeoverMark(
    { at: new Date(deps.ctx.clock.now()).toISOString(), from },
    current,
    current.status === 'active' ? 'pending' : 'left',
  );
  await writeTakeoverMark(deps, current, launchId, mark);
  return mark;
}

/**
 * Records that a scheduled campaign was found active (or paused) before its start without the
 * orchestrator: a state change made in CXone, audited once and announced.
 */
export async function takeOverEarlyActivation(
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
export async function takeOverStartedDraft(
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
