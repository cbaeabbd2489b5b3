import { queueHistoryImport } from '../audit/history-sync.js';
import { clearMissingOnCxone, noteMissingOnCxone } from '../campaign-missing.js';
import { CampaignStore, type CampaignRecord } from '../campaign-store.js';
import {
  lastCommandIsBlindPause,
  noteBlindPauseLiftedOutside,
  noteFailedStatsPoll,
  noteLateStatsPoll,
  settleBlindPause,
} from '../compliance/blind-actions.js';
import { applyAbandonmentGuard } from '../compliance/guard-actions.js';
import { checkOutsideChange } from '../compliance/outside-change.js';
import { cancelWindowEnforcement } from '../compliance/enforcement.js';
import { replanWindowEnforcement } from '../compliance/replan.js';
import { isWithinWindow } from '../compliance/windows.js';
import type { AppContext } from '../context.js';
import { efficiencyScore } from '../efficiency.js';
import type { CampaignStats } from '../cxone/wire.js';
import { CxoneNotFoundError } from '../errors.js';
import { ifCampaignUnlocked, lockOwner, type CampaignLockOptions } from '../lifecycle/lock.js';
import { isFinal } from '../lifecycle/state-machine.js';
import { applyPacing, applyPausedPacing, type ApplyPacingResult } from '../pacing/apply.js';
import { closeDeferralEpisode } from '../pacing/deferrals.js';
import { tryLease, type Lease } from './lease.js';
import { announceOutsideChange, announceOutsideStatus } from './outside-announce.js';
import { stopPolling } from './schedulers.js';

export type PollOutcome =
  | { kind: 'busy' }
  | { kind: 'unknown' }
  | { kind: 'final'; status: string }
  | {
      kind: 'polled';
      status: string;
      guard: 'none' | 'throttle' | 'pause' | 'skipped';
      pacing: ApplyPacingResult | null;
      /** Set when CXone reported the campaign active outside its calling window: a pause is due. */
      outsideWindow?: true;
    };

/** Lease on a campaign's poll, so two workers never run one campaign's controller at once. */
const POLL_LEASE_MS = 60_000;

/**
 * One statistics poll of one campaign, as the poll worker runs it for each scheduler tick:
 *  1. read the stats (priority 'poll': control-plane calls go first in the fleet limiter);
 *  2. store them with the efficiency score (null while no call was made);
 *  3. a final status stops polling;
 *  4. an active campaign outside its calling window (resumed in CXone's console after the close,
 *     or its window edited there) gets window enforcement at once, and the cycle ends: the window
 *     job would otherwise next look at it at the next open;
 *  5. for an active campaign, the abandonment guard (compliance) first — a pause ends the cycle —
 *     then pacing, capped by the guard's throttle.
 * Overlapping ticks for one campaign (a slow poll, a second worker) are skipped, not queued.
 */
export async function runPollCycle(
  ctx: AppContext,
  campaignId: string,
  /** `tick`: the poll job's id, the same on its re-runs (blind pause counting, compliance/blind.ts). */
  opts: { attempt?: number; tick?: string } = {},
): Promise<PollOutcome> {
  const lease = await tryLease(ctx.redis, ctx.keys.lock(`poll:${campaignId}`), POLL_LEASE_MS);
  if (lease === null) {
    ctx.logger.debug({ campaignId }, 'poll skipped: another poll of this campaign is running');
    return { kind: 'busy' };
  }
  try {
    return await pollOnce(ctx, campaignId, opts.attempt ?? 1, lease, opts.tick);
  } finally {
    await lease.release();
  }
}

/**
 * A campaign found final (ended in CXone's console, say): nothing more to poll, and its calling-window
 * job would otherwise wait in Redis until its next transition — days away for a weekly window — as a
 * stop through the orchestrator would not leave it.
 */
async function stopFollowing(ctx: AppContext, campaignId: string): Promise<void> {
  await Promise.all([stopPolling(ctx, campaignId), cancelWindowEnforcement(ctx, campaignId)]);
}

/** Who a poll's look at a newer version names when it takes the campaign's lock (lifecycle/lock.ts). */
const LOOK_OWNER = lockOwner('poll-look');

function lockOptions(ctx: AppContext): CampaignLockOptions {
  return { redis: ctx.redis, keys: ctx.keys, logger: ctx.logger, owner: LOOK_OWNER };
}

function commandAtWork(ctx: AppContext, campaignId: string, version: number): void {
  ctx.logger.info(
    { campaignId, version },
    'CXone has a newer version while a command is at work on the campaign: left to the command to record, and to the next poll',
  );
}

/**
 * Ended in CXone's console (ours would have synced the version): CXone's account of it goes into the
 * trail, and a status change is told, as any outside change is.
 */
async function tellEndedOutside(
  ctx: AppContext,
  campaignId: string,
  known: CampaignRecord['cxone'],
  stats: CampaignStats,
): Promise<void> {
  await queueHistoryImport(ctx, campaignId, stats.version);
  if (known.status !== stats.status) {
    await announceOutsideStatus(ctx, campaignId, known.status, stats.status, stats.version);
  }
}

/**
 * The campaign was stopped while this poll waited for its statistics (read before the stop landed):
 * pacing's turn found it ended (or its record gone) and decided nothing, so no change is queued,
 * audited or published after the end; the poll's outcome says it ended. The stop's own hook has
 * stopped polling. (The guard keeps its own account of the end: compliance/guard-actions.ts.)
 */
function endedMeanwhile(pacing: ApplyPacingResult | null): PollOutcome | null {
  if (pacing?.kind !== 'deferred' || pacing.ended === undefined) return null;
  return pacing.ended === null ? { kind: 'unknown' } : { kind: 'final', status: pacing.ended };
}

async function pollOnce(
  ctx: AppContext,
  campaignId: string,
  attempt: number,
  lease: Lease,
  tick: string | undefined,
): Promise<PollOutcome> {
  const store = new CampaignStore(ctx);
  let record = await store.get(campaignId);
  if (record === null) {
    ctx.logger.warn({ campaignId }, 'polled campaign is unknown to the orchestrator; stopping its polling');
    await stopPolling(ctx, campaignId);
    return { kind: 'unknown' };
  }
  if (isFinal(record.status)) {
    await stopFollowing(ctx, campaignId);
    return { kind: 'final', status: record.status };
  }

  // What the guard saw when this poll began, and when: an answer that comes too late to be used
  // counts towards the blind pause only if nobody read the statistics since (noteLateStatsPoll).
  const startedOkAt = record.lastStats?.at ?? null;
  const startedMs = ctx.clock.now();
  let stats;
  try {
    stats = await ctx.cxone.getStats(campaignId, { priority: 'poll', campaignId, attempt });
  } catch (err) {
    if (err instanceof CxoneNotFoundError) {
      await noteMissingOnCxone(ctx, campaignId, 'poll');
      await stopPolling(ctx, campaignId);
      return { kind: 'unknown' };
    }
    // The guard measures nothing while the statistics fail: counted, and a campaign left unmeasured
    // too long is paused (compliance/blind-actions.ts). The poll's failure goes on to BullMQ as it was.
    // A stats call that outlasted the lease (a 429 penalty, a backlog in the fleet limiter) counts all
    // the same, whoever holds the campaign now: under a long enough wait every call outlasts it, and
    // counting none of them left the campaign dialing unmeasured for the whole outage. It counts once,
    // as its tick, in the streak of the record as read again under the watch's lock (a tick that ran
    // meanwhile may have read the statistics); the lock, not the lease, keeps two counts apart.
    const held = await lease.renewOrRetake().catch(() => 'lost' as const);
    await noteFailedStatsPoll(ctx, record, err, attempt, tick, { reread: held !== 'renewed' });
    throw err;
  }
  // A look met a 404 and never noted it (it died before its note): CXone answers now, so its claim
  // goes, or the next real disappearance would be told under the old time, i.e. not at all. Only the
  // record read above says so: no Redis read is added to a poll.
  if (record.missingClaimAt !== undefined && record.missingOnCxone === undefined) {
    await clearMissingOnCxone(ctx, record);
  }
  // The stats call has no bound on its wait in the fleet limiter (a backlog, a 429 penalty of up to
  // minutes), so it can outlast the lease. The wait comes before the call, so the answer is CXone's
  // of this moment whatever it cost; whether it may be used depends on who held the campaign since:
  //  - nobody (the lease only lapsed, taken again): used, on the record read again, unless a tick
  //    read the statistics meanwhile — it acted on them (guard, pacing), and a second run on figures
  //    a moment apart would act twice; nothing is counted then, the guard saw that read;
  //  - another tick, holding it now: it runs the controller, not this one, so the answer is unused,
  //    and counts as a failed poll (the guard saw nothing by it) unless the statistics were read since
  //    this poll began. Dropped uncounted, a fleet whose every stats call waited past the lease (starved
  //    of CXone budget: each answer found the next tick in its place) never counted a poll, and the
  //    blind pause never came while its campaigns dialed on unmeasured.
  // Renewed, the lease also covers the rest of the cycle in full.
  const held = await lease.renewOrRetake();
  if (held === 'lost') {
    ctx.logger.info(
      { campaignId },
      'poll superseded: another tick took the campaign while it waited for the statistics',
    );
    await noteLateStatsPoll(ctx, campaignId, startedOkAt, ctx.clock.now() - startedMs, attempt, tick);
    return { kind: 'busy' };
  }
  if (held === 'retaken') {
    const current = await store.get(campaignId);
    if (current === null) return { kind: 'unknown' };
    if ((current.lastStats?.at ?? null) !== startedOkAt) {
      ctx.logger.info(
        { campaignId },
        'poll superseded: another tick read the statistics while it waited for them',
      );
      return { kind: 'busy' };
    }
    record = current;
  }
  const efficiency = efficiencyScore(stats);
  const final = isFinal(stats.status);
  if (final) {
    // Ended in CXone's console (ours would have synced the version): CXone's account of it goes into
    // the trail, as any outside change does, though nothing polls the campaign any more. Told before
    // the record takes the final status: a poll that died in between left the next one to find the
    // record final and return above, the end never announced. Told again by that next poll, it is
    // one event: its id is derived from the campaign and the version that ended it (publish `once`).
    // A command at work on the campaign may have ended it (a stop, not yet synced): its own event tells
    // that. Left to the next poll, which finds the record synced, or the end made outside to tell.
    const told =
      stats.version > record.cxone.version
        ? await ifCampaignUnlocked(lockOptions(ctx), campaignId, async () => {
            const known = (await store.get(campaignId))?.cxone;
            if (known && stats.version > known.version) await tellEndedOutside(ctx, campaignId, known, stats);
          })
        : {};
    if (told === null) {
      commandAtWork(ctx, campaignId, stats.version);
      return { kind: 'busy' };
    }
  }
  await store.recordStats(campaignId, stats, efficiency);
  ctx.logger.debug(
    {
      campaignId,
      status: stats.status,
      totalCalls: stats.totalCalls,
      efficiency: efficiency?.efficiencyScore ?? null,
    },
    'campaign polled',
  );

  if (final) {
    await stopFollowing(ctx, campaignId);
    return { kind: 'final', status: stats.status };
  }
  let resynced = false;
  // Compared with the stored resource's version, not the record's: recordStats above already moved
  // `version`, and a re-read that failed last time (a 503) must be retried on this poll, not skipped.
  if (stats.version > record.cxone.version) {
    // Someone changed the campaign outside the orchestrator (CXone's console, another tool): CXone
    // wins, so re-read it before pacing decides from a stale callRate.
    const resource = await ctx.cxone.getCampaign(campaignId, { priority: 'poll', campaignId, attempt });
    // Compared with the record as it is now, under the campaign's lock: a command of ours may have
    // written and synced the newer version while this poll waited for its statistics (at poll
    // priority, behind commands), and its own event already told of it; one still at work holds the
    // lock, and the newer version may be its write, not yet synced: left to it (ifCampaignUnlocked).
    const read = record.cxone;
    const synced = await ifCampaignUnlocked(lockOptions(ctx), campaignId, async () => {
      const before = (await store.get(campaignId))?.cxone ?? read;
      if (resource.version > before.version) await announceOutsideChange(ctx, campaignId, before, resource);
      await store.syncFromCxone(resource);
    });
    if (synced === null) {
      commandAtWork(ctx, campaignId, resource.version);
    } else {
      // CXone's account of the change (who, what, when) goes into the trail.
      await queueHistoryImport(ctx, campaignId, resource.version);
      record = (await store.get(campaignId)) ?? record;
      resynced = true;
    }
  }
  // Dialing after the guard's blind pause, which no command of ours lifted: resumed in CXone's
  // console, recorded as such (blind-actions.ts). Looked for only on a poll that found a newer version
  // or whose record's last command is the blind pause, never on the steady poll of a dialing campaign.
  if (stats.status === 'active' && (resynced || lastCommandIsBlindPause(record))) {
    await noteBlindPauseLiftedOutside(ctx, { campaignId, version: stats.version });
  }
  // CXone wins, but not over the law: settings changed there that break a compliance rule are
  // recorded and pause the campaign (outside-change.ts).
  const breach = await checkOutsideChange(ctx, {
    campaignId,
    config: record.config,
    status: stats.status,
    version: record.cxone.version,
  });
  if (breach && stats.status === 'active') {
    if (resynced) await replanWindowEnforcement(ctx, campaignId);
    return { kind: 'polled', status: stats.status, guard: 'skipped', pacing: null };
  }
  if (stats.status === 'active' && !isWithinWindow(record.config, ctx.clock.now())) {
    ctx.logger.warn(
      { campaignId, version: stats.version, timeZone: record.config.complianceTimeZone },
      'campaign active outside its calling window; window enforcement acts now',
    );
    // An immediate close job (scheduleWindowEnforcement through the re-plan). Should the record
    // already hold a newer version — our own pause landed after this read — a pending re-check is
    // kept instead of being pushed to the next open.
    await replanWindowEnforcement(ctx, campaignId);
    return { kind: 'polled', status: stats.status, guard: 'skipped', pacing: null, outsideWindow: true };
  }
  // A change made in CXone may have been to the windows themselves: plan from the synced config.
  if (resynced) await replanWindowEnforcement(ctx, campaignId);
  if (stats.status === 'paused') {
    // Seen again after the guard paused it blind: resumed or left paused, and recorded.
    await settleBlindPause(ctx, {
      campaignId,
      config: record.config,
      stats,
      changedOutside: resynced,
    });
    // Paused campaigns are not paced, but the rate they will resume at is pacing's (apply.ts).
    const pacing = await applyPausedPacing(ctx, { record, stats, efficiency });
    // No turn taken: the campaign dials nothing, so a deferral episode ends here (deferrals.ts).
    if (pacing === null) await closeDeferralEpisode(ctx, campaignId, 'paused');
    return endedMeanwhile(pacing) ?? { kind: 'polled', status: stats.status, guard: 'skipped', pacing };
  }
  if (stats.status !== 'active') {
    return { kind: 'polled', status: stats.status, guard: 'skipped', pacing: null };
  }

  const guard = await applyAbandonmentGuard(ctx, {
    campaignId,
    config: record.config,
    stats,
    metrics: efficiency,
  });
  if (guard.action === 'pause') {
    return { kind: 'polled', status: stats.status, guard: 'pause', pacing: null };
  }
  const pacing = await applyPacing(ctx, {
    record,
    stats,
    efficiency,
    throttle: guard.throttle ? { maxCallRate: guard.throttle.maxCallRate, reason: guard.reason } : null,
    periodStartMs: guard.period.startMs,
  });
  return endedMeanwhile(pacing) ?? { kind: 'polled', status: stats.status, guard: guard.action, pacing };
}
