import { ABANDONMENT_CAP, type CampaignConfig, type RegulatoryRegime } from '../campaign-config.js';
import { createCampaignStore } from '../campaign-store.js';
import type { AppContext } from '../context.js';
import type { CampaignStats } from '../cxone/wire.js';
import { efficiencyScore, type EfficiencyMetrics } from '../efficiency.js';
import { isFinished } from '../lifecycle/commands.js';
import { campaignLockKey } from '../lifecycle/lock.js';
import { enqueueCommand, getCommand } from '../lifecycle/enqueue.js';
import { MIN_CALL_RATE } from '../pacing/dial-ratio.js';
import {
  describePeriod,
  endMeasurement,
  evaluateAbandonmentGuard,
  guardPauseKey,
  guardPauseLift,
  MEASUREMENT,
  type GuardDecision,
  type GuardInput,
  type GuardState,
  type PeriodSummary,
} from './guard.js';
import { COMPLIANCE_ACTOR, OUTSIDE, recordComplianceAction, RESUMED_OUTSIDE } from './record.js';
import {
  getGuardLiftRecorded,
  getGuardState,
  readGuardState,
  replaceGuardState,
  setGuardLiftRecorded,
  setGuardState,
} from './state-store.js';

export const REASON_GUARD = 'abandonment-guard';

const figuresOf = (d: GuardDecision) => ({
  rate: d.figures.rate,
  answeredCalls: d.figures.answeredCalls,
  abandonedCalls: d.figures.abandonedCalls,
  totalCalls: d.figures.totalCalls,
  target: d.figures.target,
  cap: d.figures.cap,
  regime: d.regime,
  period: {
    index: d.period.index,
    label: d.period.label,
    start: new Date(d.period.startMs).toISOString(),
    end: new Date(d.period.endMs).toISOString(),
  },
});

/**
 * The abandonment guard with its I/O, for the poll worker to call after each statistics poll and
 * BEFORE pacing: loads the guard state, evaluates (guard.ts), stores the new state, and when the
 * decision changed audits it with the figures; a 'pause' is enqueued through the lifecycle (reason
 * 'abandonment-guard'). The caller applies `decision.throttle` to pacing (never dial above
 * `maxCallRate`) whenever it is not null.
 */
export async function applyAbandonmentGuard(
  ctx: AppContext,
  input: {
    campaignId: string;
    config: CampaignConfig;
    stats: Pick<CampaignStats, 'totalCalls' | 'answeredCalls' | 'abandonedCalls' | 'complianceViolations'> &
      Partial<Pick<CampaignStats, 'version'>>;
    options?: GuardInput['options'];
    /** The efficiency of the statistics just polled, for the audit records (the seed's metrics). */
    metrics?: EfficiencyMetrics | null;
  },
): Promise<GuardDecision> {
  const { campaignId } = input;
  for (let attempt = 1; ; attempt++) {
    const read = await readGuardState(ctx, campaignId);
    const decided = await decideAndAct(ctx, input, read);
    if (decided !== STATE_CHANGED) return decided;
    // The state changed between this poll's read and its write: decide again on the new one.
    if (attempt >= 3)
      throw new Error(`the guard state of campaign ${campaignId} kept changing while deciding`);
  }
}

const STATE_CHANGED = Symbol('guard state changed');

async function decideAndAct(
  ctx: AppContext,
  input: Parameters<typeof applyAbandonmentGuard>[1],
  read: { state: GuardState | undefined; raw: string | null },
): Promise<GuardDecision | typeof STATE_CHANGED> {
  const { campaignId } = input;
  const { state, failedPauseId } = await withPauseOutcome(ctx, read.state, input.stats.version);
  const decision = evaluateAbandonmentGuard({
    config: input.config,
    state,
    stats: input.stats,
    nowMs: ctx.clock.now(),
    ...(input.options ? { options: input.options } : {}),
  });
  // The campaign ended (a poll in flight when it was stopped): its last period is closed and
  // recorded; nothing is measured, recorded or paused after it.
  if (read.state?.endedAtMs !== undefined) return decision;
  // Polled dialing while its pause is still on its way (queued behind the fleet's budget, the poll
  // came first), or on statistics read before it landed (withPauseOutcome): the guard's pause stands, nobody lifted it. Taken for a lift — the period's pause
  // spent, so a throttle — the trail would record a throttle the guard never decided, and the
  // operator's resume once the pause lands would not read as lifting the guard's pause (nor would
  // the window withhold its resume for it).
  const samePeriodHold =
    state?.pausedInPeriod === state?.periodIndex &&
    decision.period.index === state?.periodIndex &&
    decision.action !== 'pause';
  const pausePending = state?.pauseCommandId !== undefined && samePeriodHold;
  // Dialing after its pause went through: someone lifted it. An operator's resume through the API is
  // recorded by the lifecycle; one made in CXone's console (or by another tool) reaches the
  // orchestrator only as this poll's figures, and is recorded here (noteLiftSeen).
  const lift = pausePending ? 'none' : await noteLiftSeen(ctx, input, read.state, state);
  if (pausePending || (lift === 'deferred' && samePeriodHold)) {
    decision.nextState.lastAction = 'pause';
    decision.changed = false;
  }
  // What every record of this poll's decision carries: the statistics it was decided on.
  const seen = { campaignId, cxoneVersion: input.stats.version, metrics: input.metrics ?? null };

  // Recorded before the state that closes the period is kept: should the record fail, the retried
  // poll closes the period again and records it (its dedupe key keeps the trail to one record). Kept
  // first, the period would be closed in the state and never in the trail.
  if (decision.closedPeriod) {
    const switchedFrom = decision.closedRegime;
    await recordPeriodClosed(
      ctx,
      seen,
      switchedFrom ?? decision.regime,
      decision.closedPeriod,
      switchedFrom
        ? {
            regimeChangedTo: decision.regime,
            note: `the regime changed from ${switchedFrom} to ${decision.regime}: the period closes at the change`,
          }
        : {},
    );
  }
  // A pause is kept as spent only once its command is queued (below): kept so before, a worker that
  // died (or lost Redis) in between left the period's one pause spent with none issued, and every
  // later poll only throttled a campaign dialing on over the cap. Until then the state reads as a
  // throttle whose pause is still to come, so a poll after such a death decides the pause again.
  const pauseToCome =
    decision.action === 'pause' ? withoutSpentPause(decision.nextState, state?.pausedInPeriod) : null;
  if (!(await replaceGuardState(ctx, campaignId, read.raw, pauseToCome ?? decision.nextState))) {
    return STATE_CHANGED;
  }
  // 'pause' is only ever returned for a new pause (once per period, or one issued again after its
  // command failed); throttle and release are recorded when they change — a throttle also when it
  // moves between the target and the cap, or carries into a new period — not on every poll.
  if (decision.action !== 'pause' && !decision.changed) return decision;

  const details = {
    rule: 'abandonment-guard',
    source: decision.source,
    reason: decision.reason,
    ...figuresOf(decision),
  };
  if (pauseToCome) {
    // Should queueing fail, the state kept above lets pacing keep its throttle this poll and the next
    // poll try the pause again.
    const { commandId } = await enqueueCommand(ctx, {
      campaignId,
      actor: COMPLIANCE_ACTOR,
      reason: REASON_GUARD,
      action: 'pause',
    });
    // Remembered so that the next poll finding the campaign still dialing can tell a pause that
    // failed for good (issued again) from one that went through and was lifted (throttled). Over the
    // state kept above only: a campaign that ended meanwhile keeps its end.
    decision.nextState.pauseCommandId = commandId;
    await replaceGuardState(ctx, campaignId, JSON.stringify(pauseToCome), decision.nextState);
    await dropToMinimumRate(ctx, campaignId, input.config, input.stats.version);
    await recordComplianceAction(ctx, {
      ...seen,
      kind: 'guard_pause',
      details: {
        ...details,
        commandId,
        ...(failedPauseId ? { reissued: true, failedCommandId: failedPauseId } : {}),
      },
      ...(failedPauseId ? {} : { event: 'campaign.compliance.paused' as const }),
    });
  } else if (decision.action === 'throttle') {
    await recordComplianceAction(ctx, {
      ...seen,
      kind: 'guard_throttle',
      details: { ...details, throttle: decision.throttle },
    });
  } else if (state?.lastAction && state.lastAction !== 'none') {
    await recordComplianceAction(ctx, {
      ...seen,
      kind: 'guard_release',
      details,
    });
  }
  return decision;
}

/** A state deciding a pause, as it reads until that pause is queued: a throttle, the period's pause not spent. */
function withoutSpentPause(next: GuardState, pausedBefore: number | undefined): GuardState {
  const { pausedInPeriod: _spent, ...rest } = next;
  return {
    ...rest,
    lastAction: 'throttle',
    ...(pausedBefore !== undefined ? { pausedInPeriod: pausedBefore } : {}),
  };
}

/** The trail's snapshot of a closed measurement period (once per period: its dedupe key). */
async function recordPeriodClosed(
  ctx: AppContext,
  seen: { campaignId: string; cxoneVersion: number | undefined; metrics: EfficiencyMetrics | null },
  regime: RegulatoryRegime,
  period: PeriodSummary,
  extra: Record<string, unknown> = {},
): Promise<void> {
  const { index, start, end, ...figures } = describePeriod(period, ABANDONMENT_CAP);
  await recordComplianceAction(ctx, {
    ...seen,
    kind: 'period_closed',
    details: {
      rule: 'abandonment-period',
      source: MEASUREMENT[regime].source,
      regime,
      period: { index, start, end },
      ...figures,
      ...extra,
    },
    dedupeKey: `compliance:period:${seen.campaignId}:${regime}:${index}`,
  });
}

/**
 * The campaign ended (completed or cancelled): its current measurement period is closed and recorded
 * like a rollover's (`period_closed`, with `final: true`), with its final statistics when they are
 * stored. Without it a campaign's last period — the only one, for a campaign shorter than 30 days —
 * never reached the trail nor the report's closed periods. Idempotent: the state remembers the end,
 * and the record has the period's dedupe key.
 */
export async function endAbandonmentMeasurement(ctx: AppContext, campaignId: string): Promise<void> {
  const state = await getGuardState(ctx, campaignId);
  if (!state || state.endedAtMs !== undefined) return;
  const record = await createCampaignStore(ctx).get(campaignId);
  const stats = record?.lastStats;
  const ended = endMeasurement(state, stats, ctx.clock.now());
  if (!ended) return;
  // Recorded before the end is kept, as at a rollover: a state that remembers the end makes a retry
  // return at once, so a record that failed after it would never be made.
  await recordPeriodClosed(
    ctx,
    { campaignId, cxoneVersion: stats?.version, metrics: stats ? efficiencyScore(stats) : null },
    state.regime,
    ended.closedPeriod,
    { final: true, note: 'the campaign ended: its last period closes at its end' },
  );
  await setGuardState(ctx, campaignId, ended.nextState);
}

/**
 * Whether this poll, finding the campaign dialing, sees the guard's pause lifted — and if nobody
 * recorded that lift, records it as made outside the orchestrator. The lifecycle records an operator's
 * resume (recordGuardPauseLifted) from inside the command, under the campaign's lock: while a command
 * holds it, the resume this poll sees may be that command's, its record still to come, so the poll
 * waits (`deferred`: the guard's pause stands for one more poll, as while its pause is on its way).
 * A lift is recorded once per pause (guardPauseKey), whichever side comes first.
 */
async function noteLiftSeen(
  ctx: AppContext,
  input: Parameters<typeof applyAbandonmentGuard>[1],
  before: GuardState | undefined,
  state: GuardState | undefined,
): Promise<'none' | 'recorded' | 'deferred'> {
  // Seen through (withPauseOutcome dropped its command) and not ended: the pause went through.
  if (!before || !state || state.pauseCommandId !== undefined) return 'none';
  if (!guardPauseLift(state, ctx.clock.now())) return 'none';
  // The lock read first, then the note: the resume this poll saw was written before its statistics
  // were read, so a command that wrote it and is gone by now noted its lift before letting the lock
  // go. Read the other way round, a command finishing between the two reads left no note at the
  // first and no lock at the second, and its lift was recorded twice (the operator's, and as outside).
  const locked = (await ctx.redis.exists(campaignLockKey(ctx.keys, input.campaignId))) === 1;
  if ((await getGuardLiftRecorded(ctx, input.campaignId)) === guardPauseKey(state)) return 'recorded';
  if (locked) return 'deferred';
  // The state as read (its pause's command still in it), for the record to name the pause.
  await recordLift(ctx, input.campaignId, before, {
    actor: COMPLIANCE_ACTOR,
    requestedBy: OUTSIDE,
    reason: OUTSIDE,
    ...(input.stats.version !== undefined ? { version: input.stats.version } : {}),
  });
  return 'recorded';
}

/**
 * A resume of a campaign the abandonment guard paused is the requester's decision: in the period of
 * the pause, to dial on over the cap (the guard pauses once per period and only throttles after it);
 * recorded as `guard_pause_lifted`, naming who and the period's figures, so the report and the trail
 * show it as a compliance decision and not as an ordinary resume. A resume after that period ended
 * while the campaign stood paused lifts a pause the law no longer measures against: it is recorded
 * against the period holding at the resume, which starts afresh, and says so — named after the
 * paused period, with its figures and "throttled for the rest of the period", it would claim a
 * decision over a cap that no longer applies, and a throttle the guard will not keep.
 */
export async function recordGuardPauseLifted(
  ctx: AppContext,
  campaignId: string,
  by: { actor: string; reason: string; commandId: string; version: number },
): Promise<void> {
  const guard = await getGuardState(ctx, campaignId);
  if (!guard) return;
  await recordLift(ctx, campaignId, guard, {
    actor: by.actor,
    requestedBy: by.actor,
    reason: by.reason,
    commandId: by.commandId,
    version: by.version,
  });
}

/**
 * Records the lift of the guard's pause `guard` holds, if it holds one: an operator's resume
 * (`commandId`), or one made outside the orchestrator, seen by a poll (`requestedBy` `outside`, at the
 * CXone version it saw). Then notes the pause's lift as recorded, so the other side does not record
 * it again (the audit record's dedupe key covers a retry of the same side).
 */
async function recordLift(
  ctx: AppContext,
  campaignId: string,
  guard: GuardState,
  by: { actor: string; requestedBy: string; reason: string; commandId?: string; version?: number },
): Promise<void> {
  const lift = guardPauseLift(guard, ctx.clock.now());
  if (!lift) return;
  const rolledOver = lift.period.index !== lift.pausedInPeriod;
  const outside = by.commandId === undefined;
  const key = guardPauseKey(guard);
  const how = outside ? RESUMED_OUTSIDE : 'resumed';
  await recordComplianceAction(ctx, {
    campaignId,
    kind: 'guard_pause_lifted',
    actor: by.actor,
    cxoneVersion: by.version,
    details: {
      requestedBy: by.requestedBy,
      reason: by.reason,
      ...(outside ? {} : { commandId: by.commandId }),
      ...(guard.pauseCommandId !== undefined ? { pauseCommandId: guard.pauseCommandId } : {}),
      period: lift.period.index,
      periodStart: new Date(lift.period.startMs).toISOString(),
      periodEnd: new Date(lift.period.endMs).toISOString(),
      ...(rolledOver ? { pausedInPeriod: lift.pausedInPeriod } : {}),
      ...lift.figures,
      note: rolledOver
        ? `${how} after the ${lift.period.label} in which the abandonment guard paused it ended; the new period is measured afresh`
        : `${how} after the abandonment guard paused it in this period; the guard throttles it for the rest of the period`,
    },
    dedupeKey: outside
      ? `guard-pause-lifted:${campaignId}:outside:${key}`
      : `guard-pause-lifted:${campaignId}:${by.commandId}`,
    event: 'campaign.compliance.resumed',
  });
  await setGuardLiftRecorded(ctx, campaignId, key);
}

/**
 * The guard pauses once per period, and a campaign polled active after that pause is throttled, not
 * paused again: someone resumed it, their decision. That holds only if the pause went through. One
 * whose command failed for good (CXone refused it to the end, a conflict) left the campaign dialing
 * over the cap with no one having decided so: the state is returned without the period's pause, so
 * the guard pauses again, and the failed command is named for the record. The command is read only
 * while a pause of the current period is not yet seen through, and forgotten once it is (or once
 * its outcome expired, a week on: too late to tell, and long after any failure would have shown).
 * Statistics of a CXone version older than the one the pause left (read before it landed: the stats
 * call waits behind commands) saw the campaign before the pause, not dialing after it: the pause stands
 * as while on its way, and is not taken for lifted.
 */
async function withPauseOutcome(
  ctx: AppContext,
  state: GuardState | undefined,
  statsVersion: number | undefined,
): Promise<{ state: GuardState | undefined; failedPauseId?: string }> {
  if (!state?.pauseCommandId || state.pausedInPeriod !== state.periodIndex) return { state };
  const command = await getCommand(ctx, state.pauseCommandId);
  if (command && !isFinished(command.status)) return { state };
  const leftAt = command?.status === 'succeeded' ? command.result?.version : undefined;
  if (leftAt !== undefined && statsVersion !== undefined && statsVersion < leftAt) return { state };
  const { pauseCommandId, ...rest } = state;
  if (command && (command.status === 'failed' || command.status === 'conflict')) {
    const { pausedInPeriod: _failed, ...unpaused } = rest;
    return { state: unpaused, failedPauseId: pauseCommandId };
  }
  return { state: rest };
}

/**
 * Left at the rate that broke the cap, a campaign the guard paused would dial at it again the moment
 * it is resumed (an operator's decision, or CXone's console) until the next poll's throttle. So the
 * paused campaign is brought to the minimum call rate, where the guard keeps it for the rest of the
 * period; queued behind the pause, which must never wait for it. Pacing raises it again from there
 * once the guard lets it; a campaign without pacing keeps it until someone sets another rate (the
 * trail's settings_changed says who lowered it and why). Against the rate the guard saw: a rate
 * changed meanwhile by someone else is theirs (a conflict, nothing written). Should the drop fail,
 * the pause still stands and the next poll after a resume throttles.
 */
async function dropToMinimumRate(
  ctx: AppContext,
  campaignId: string,
  config: CampaignConfig,
  seenAtVersion: number | undefined,
): Promise<void> {
  const callRate = config.dialerStrategy.callRate;
  if (callRate <= MIN_CALL_RATE) return;
  try {
    await enqueueCommand(ctx, {
      campaignId,
      actor: COMPLIANCE_ACTOR,
      reason: REASON_GUARD,
      patch: { dialerStrategy: { callRate: MIN_CALL_RATE } },
      base: { 'dialerStrategy.callRate': callRate },
      ...(seenAtVersion !== undefined ? { baseVersion: seenAtVersion } : {}),
    });
  } catch (err) {
    ctx.logger.error(
      { err, campaignId },
      'could not queue the drop to the minimum call rate after the guard pause; the next poll throttles',
    );
  }
}
