import {
  ABANDONMENT_CAP,
  type CampaignConfig,
  type RegulatoryRegime,
  regimeOf,
  targetAbandonmentOf,
} from '../campaign-config.js';
import type { CampaignStats } from '../cxone/wire.js';
import { legalAbandonmentRate } from '../efficiency.js';
import { MIN_CALL_RATE } from '../pacing/dial-ratio.js';

/**
 * The abandonment guard. Pure: given the campaign's config, the guard state from the previous
 * evaluation, the latest cumulative CXone statistics and the time, it decides whether pacing must be
 * throttled or the campaign paused, and returns the state to keep for next time.
 *
 * Law: abandoned calls ≤ 3% of calls answered by a live person, per campaign, measured over each
 * 30-day period (TCPA/TSR) or each 24 hours (UK Ofcom). Periods are counted from the campaign's
 * start; CXone's counters are cumulative, so the period's figures are the counters minus a snapshot
 * taken at the period's start (the last observation before the boundary — calls between that poll
 * and the boundary count against the new period, which errs towards enforcing).
 */
export type GuardAction = 'none' | 'throttle' | 'pause';
export type ThrottleLevel = 'target' | 'cap';

export interface Counters {
  totalCalls: number;
  answeredCalls: number;
  abandonedCalls: number;
  complianceViolations: number;
}

export interface PeriodSummary extends Counters {
  index: number;
  startMs: number;
  endMs: number;
  /** abandoned / answered; null with no live answer. */
  rate: number | null;
}

/** A closed period as the report and the audit trail show it: ISO bounds and whether it kept the cap. */
export function describePeriod(p: PeriodSummary, cap: number) {
  return {
    index: p.index,
    start: new Date(p.startMs).toISOString(),
    end: new Date(p.endMs).toISOString(),
    answeredCalls: p.answeredCalls,
    abandonedCalls: p.abandonedCalls,
    totalCalls: p.totalCalls,
    complianceViolations: p.complianceViolations,
    rate: p.rate,
    withinCap: p.rate === null || p.rate <= cap,
  };
}

export interface GuardState {
  version: 1;
  regime: RegulatoryRegime;
  /** Start of period 0 (epoch ms): the campaign's start, or its first observation if that came earlier. */
  anchorMs: number;
  periodIndex: number;
  /** Cumulative counters at the start of the current period. */
  baseline: Counters;
  lastSeen?: Counters & { atMs: number };
  throttled: boolean;
  /**
   * The call rate when the current throttle began: the cap scales it, not the rate the throttle itself
   * already cut, which would shrink again on every poll while the period's rate barely moves.
   */
  throttleFromRate?: number;
  /**
   * What the current throttle holds the campaign to: pacing scaled to the target, or the minimum rate
   * at the cap. A change of it is a decision of its own, recorded like the throttle's start.
   */
  throttleLevel?: ThrottleLevel;
  /** Period in which the guard last paused the campaign (it pauses at most once per period). */
  pausedInPeriod?: number;
  /**
   * The command of that pause until it is seen through (guard-actions.ts): a pause that failed for
   * good does not count as the period's one pause.
   */
  pauseCommandId?: string;
  lastAction: GuardAction;
  /**
   * When the campaign ended (epoch ms): its last period was closed then (endMeasurement), cut short,
   * and nothing is measured after it.
   */
  endedAtMs?: number;
  /** Closed periods, oldest first, the most recent MAX_PERIODS kept. */
  periods: PeriodSummary[];
  /**
   * Counters that went backwards, not yet taken for a reset (see evaluateAbandonmentGuard): since when,
   * the counters seen before the drop, and the latest lower read.
   */
  pendingReset?: { sinceMs: number; before: Counters; lower: Counters };
}

export const MEASUREMENT: Record<RegulatoryRegime, { periodMs: number; label: string; source: string }> = {
  TCPA: {
    periodMs: 30 * 86_400_000,
    label: '30-day period',
    source: 'FTC TSR 16 CFR 310.4(b)(4)(i); FCC 47 CFR 64.1200(a)(7)(i)',
  },
  OFCOM: {
    periodMs: 86_400_000,
    label: '24-hour period',
    source:
      'Ofcom statement of policy on the persistent misuse of an electronic communications network or service (2016)',
  },
};

export const GUARD_DEFAULTS = {
  /** Below this many live answers in the period the guard throttles instead of pausing (one early abandon is 100%). */
  minAnsweredForPause: 30,
  /** A throttle is lifted only once the rate falls below target × this, so it does not flap. */
  releaseRatio: 0.9,
  /** Closed periods kept in the state (a year of 30-day periods, two months of 24-hour ones). */
  maxPeriods: 60,
  /** How long counters must stay below those seen before they are taken for a reset. */
  resetConfirmMs: 60_000,
} as const;

export interface GuardInput {
  config: Pick<CampaignConfig, 'startDateTime' | 'dialerStrategy' | 'pacing' | 'compliance'>;
  /** What the previous evaluation returned as `nextState` (anything else, e.g. undefined, starts afresh). */
  state?: unknown;
  stats: Pick<CampaignStats, 'totalCalls' | 'answeredCalls' | 'abandonedCalls' | 'complianceViolations'>;
  nowMs: number;
  options?: Partial<Pick<typeof GUARD_DEFAULTS, 'minAnsweredForPause' | 'releaseRatio' | 'resetConfirmMs'>>;
}

export interface GuardFigures extends Counters {
  rate: number | null;
  target: number;
  cap: number;
}

export interface GuardDecision {
  action: GuardAction;
  /**
   * True when the decision is new — a pause, an action that differs from the previous evaluation, a
   * throttle moved between the target and the cap, or any decision in a period that just began: audit it.
   */
  changed: boolean;
  regime: RegulatoryRegime;
  period: { index: number; startMs: number; endMs: number; label: string };
  figures: GuardFigures;
  /**
   * What pacing must apply while `action` is throttle or pause: never dial above `maxCallRate`
   * (the minimum rate once the cap is reached); `strategy` is the recommended dialing mode.
   */
  throttle: { strategy: 'progressive'; maxCallRate: number; reason: string } | null;
  /** Human-readable why, with the figures and the source of law. */
  reason: string;
  source: string;
  /** Persist and pass back as `state` next time. */
  nextState: GuardState;
  /** The period that closed during this evaluation, if one did. */
  closedPeriod?: PeriodSummary;
  /** The regime `closedPeriod` was measured under, when it is not `regime`: the regime was switched. */
  closedRegime?: RegulatoryRegime;
}

const ZERO: Counters = { totalCalls: 0, answeredCalls: 0, abandonedCalls: 0, complianceViolations: 0 };

const pick = (c: Counters): Counters => ({
  totalCalls: c.totalCalls,
  answeredCalls: c.answeredCalls,
  abandonedCalls: c.abandonedCalls,
  complianceViolations: c.complianceViolations,
});

const minus = (a: Counters, b: Counters): Counters => ({
  totalCalls: a.totalCalls - b.totalCalls,
  answeredCalls: a.answeredCalls - b.answeredCalls,
  abandonedCalls: a.abandonedCalls - b.abandonedCalls,
  complianceViolations: a.complianceViolations - b.complianceViolations,
});

/** The calls a guard state's current period holds, given the campaign's cumulative counters. */
export function callsInPeriod(state: Pick<GuardState, 'baseline'>, counters: Counters): Counters {
  return minus(pick(counters), state.baseline);
}

const isCounters = (v: unknown): v is Counters =>
  typeof v === 'object' &&
  v !== null &&
  ['totalCalls', 'answeredCalls', 'abandonedCalls', 'complianceViolations'].every(
    (k) => typeof (v as Record<string, unknown>)[k] === 'number',
  );

export function isGuardState(v: unknown): v is GuardState {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Partial<GuardState>;
  return (
    s.version === 1 &&
    typeof s.anchorMs === 'number' &&
    typeof s.periodIndex === 'number' &&
    isCounters(s.baseline) &&
    Array.isArray(s.periods)
  );
}

const pct = (r: number) => `${(r * 100).toFixed(2)}%`;

function freshState(config: GuardInput['config'], regime: RegulatoryRegime, nowMs: number): GuardState {
  const start = Date.parse(config.startDateTime);
  // Dialing before its start (activated early in CXone's console) is measured from the first
  // observation: a period anchored at the future start would fold those calls into a longer first one.
  const anchorMs = Number.isFinite(start) ? Math.min(start, nowMs) : nowMs;
  return {
    version: 1,
    regime,
    anchorMs,
    // The period the first observation falls in: periods that ended before it (a start in the past)
    // were never measured, and are not closed as if their rate had been proved.
    periodIndex: Math.max(0, Math.floor((nowMs - anchorMs) / MEASUREMENT[regime].periodMs)),
    baseline: { ...ZERO },
    throttled: false,
    lastAction: 'none',
    periods: [],
  };
}

export function evaluateAbandonmentGuard(input: GuardInput): GuardDecision {
  const { config, nowMs } = input;
  const opts = { ...GUARD_DEFAULTS, ...input.options };
  const regime = regimeOf(config);
  const { periodMs, label, source } = MEASUREMENT[regime];
  const target = Math.min(targetAbandonmentOf(config), ABANDONMENT_CAP);
  const cap = ABANDONMENT_CAP;
  let counters = pick(input.stats);

  // A regime change (CXone's console can switch it) re-anchors the measurement: its periods are not
  // comparable with the old ones. The old regime's current period ends at the switch, closed and kept
  // with the others, so that it is recorded like any period; dropped, it never reached the trail.
  const prior = isGuardState(input.state) ? input.state : undefined;
  const switched =
    prior !== undefined && prior.regime !== regime && prior.endedAtMs === undefined
      ? endMeasurement(prior, undefined, nowMs)
      : null;
  // The new regime measures from the switch: CXone's counters run from the campaign's first call, and
  // from zero the old regime's calls would count again in the new regime's first period.
  const previous =
    prior?.regime === regime
      ? prior
      : {
          ...freshState(config, regime, nowMs),
          periods: switched?.nextState.periods ?? [],
          ...(switched ? { baseline: switched.nextState.baseline } : {}),
        };
  const state: GuardState = {
    ...previous,
    baseline: { ...previous.baseline },
    periods: [...previous.periods],
  };

  // CXone counters only grow; if they went backwards the campaign's counters were reset upstream, or
  // one answer came from an older snapshot (a cache, a replica). Taken for a reset at once, a stale
  // read would have the period's calls counted twice, and the rate of the doubled figures can read
  // under the cap when the period's own is over it. So a drop is held: the guard judges the counters
  // it saw before it until they are back (a stale read: nothing happened) or have stayed lower for
  // resetConfirmMs (a reset). Then the calls counted before the reset still count toward the period
  // the law measures: the baseline moves back by what was seen (below zero), so counters - baseline
  // is what the period had before the reset plus what was counted since.
  const seen = state.lastSeen ? pick(state.lastSeen) : state.baseline;
  const pending = state.pendingReset;
  if (pending && !below(counters, pending.before)) {
    delete state.pendingReset;
  } else if (pending && nowMs - pending.sinceMs >= opts.resetConfirmMs) {
    delete state.pendingReset;
    state.baseline = minus(state.baseline, pending.before);
    // What was last seen, in the new counters' terms: a period that ends with this observation closes
    // with the calls it held before the reset, and the next one starts from the new counters.
    state.lastSeen = { ...pending.lower, atMs: state.lastSeen?.atMs ?? nowMs };
  } else if (pending || below(counters, seen)) {
    state.pendingReset = {
      sinceMs: pending?.sinceMs ?? nowMs,
      before: pending?.before ?? seen,
      lower: counters,
    };
    counters = pending?.before ?? seen;
  }

  const index = Math.max(0, Math.floor((nowMs - state.anchorMs) / periodMs));
  let closedPeriod: PeriodSummary | undefined = switched?.closedPeriod;
  if (index > state.periodIndex) {
    const final = state.lastSeen ? pick(state.lastSeen) : state.baseline;
    const { startMs, endMs } = periodBounds(state, state.periodIndex);
    closedPeriod = summarizePeriod(state.periodIndex, startMs, endMs, minus(final, state.baseline));
    state.periods = [...state.periods, closedPeriod].slice(-opts.maxPeriods);
    state.baseline = final;
    state.periodIndex = index;
    state.throttled = false;
    delete state.throttleFromRate;
  }

  const period = { index, ...periodBounds(state, index), label };
  const inPeriod = minus(counters, state.baseline);
  const rate = legalAbandonmentRate(inPeriod);
  const figures: GuardFigures = { ...inPeriod, rate, target, cap };
  const described =
    rate === null
      ? `no live answers yet in the ${label} from ${new Date(period.startMs).toISOString()}`
      : `abandonment ${pct(rate)} (${inPeriod.abandonedCalls} of ${inPeriod.answeredCalls} live answers) in the ${label} from ${new Date(period.startMs).toISOString()}`;

  let action: GuardAction = 'none';
  let reason = `${described}; target ${pct(target)}, cap ${pct(cap)}`;
  if (rate !== null && rate >= cap) {
    if (inPeriod.answeredCalls >= opts.minAnsweredForPause && state.pausedInPeriod !== index) {
      action = 'pause';
      reason = `${described} reached the ${pct(cap)} cap (${source}); pausing the campaign`;
      state.pausedInPeriod = index;
    } else {
      action = 'throttle';
      reason =
        state.pausedInPeriod === index
          ? `${described} is still at or above the ${pct(cap)} cap after the guard's pause this period; dialing stays at the minimum call rate`
          : `${described} is at or above the ${pct(cap)} cap on fewer than ${opts.minAnsweredForPause} live answers; throttling to the minimum call rate instead of pausing`;
    }
  } else if (rate !== null && rate >= target) {
    action = 'throttle';
    reason = `${described} reached the ${pct(target)} target; throttling pacing to stay under the ${pct(cap)} cap (${source})`;
  } else if (state.throttled && rate !== null && rate >= target * opts.releaseRatio) {
    action = 'throttle';
    reason = `${described} is below target but not yet under ${pct(target * opts.releaseRatio)}; keeping the throttle`;
  }

  const callRate = config.dialerStrategy.callRate;
  if (action === 'none') delete state.throttleFromRate;
  else state.throttleFromRate ??= callRate;
  const fromRate = state.throttleFromRate ?? callRate;
  const throttle =
    action === 'none'
      ? null
      : {
          strategy: 'progressive' as const,
          maxCallRate:
            rate === null || rate === 0
              ? fromRate
              : rate >= cap
                ? MIN_CALL_RATE
                : // Never above the current rate either: a throttle holds pacing back until it is
                  // released, it does not let it climb back while the period's rate is still high.
                  Math.max(
                    MIN_CALL_RATE,
                    Math.min(callRate, Number(((fromRate * target) / rate).toFixed(3))),
                  ),
          reason,
        };

  const level: ThrottleLevel | undefined =
    action === 'throttle' ? (rate !== null && rate >= cap ? 'cap' : 'target') : undefined;
  const changed =
    action === 'pause' ||
    action !== state.lastAction ||
    closedPeriod !== undefined ||
    level !== state.throttleLevel;
  if (level) state.throttleLevel = level;
  else delete state.throttleLevel;
  state.throttled = action !== 'none';
  state.lastAction = action;
  state.lastSeen = { ...counters, atMs: nowMs };

  return {
    action,
    changed,
    regime,
    period,
    figures,
    throttle,
    reason,
    source,
    nextState: state,
    ...(closedPeriod ? { closedPeriod } : {}),
    ...(switched && prior ? { closedRegime: prior.regime } : {}),
  };
}

/** Whether either counter the law measures by reads below `than`: a reset, or a stale read. */
function below(c: Counters, than: Counters): boolean {
  return c.answeredCalls < than.answeredCalls || c.abandonedCalls < than.abandonedCalls;
}

/** Where period `index` of the state's measurement begins and ends. Pure. */
function periodBounds(state: Pick<GuardState, 'anchorMs' | 'regime'>, index: number) {
  const { periodMs } = MEASUREMENT[state.regime];
  return { startMs: state.anchorMs + index * periodMs, endMs: state.anchorMs + (index + 1) * periodMs };
}

/** A closed period's summary: its calls and their legal abandonment rate. */
function summarizePeriod(index: number, startMs: number, endMs: number, figures: Counters): PeriodSummary {
  return { index, startMs, endMs, ...figures, rate: legalAbandonmentRate(figures) };
}

/** What an operator's resume of a campaign the guard paused lifts (guard-actions.ts recordGuardPauseLifted). */
export interface GuardPauseLift {
  /** The period current at the resume, which the lift is recorded against. */
  period: { index: number; startMs: number; endMs: number; label: string };
  /** The period the guard paused the campaign in: before `period` when that one ended while paused. */
  pausedInPeriod: number;
  /** The paused period's calls as the guard last saw them; none when the resume came after it ended. */
  figures?: { answeredCalls: number; abandonedCalls: number };
}

/**
 * The guard's pause a resume at nowMs lifts, or null when the campaign is not under one. The guard
 * does not evaluate a paused campaign, so its state is as the poll that paused it left it, in the
 * period of the pause: a resume after that period ended is read against the period holding now
 * (where the guard measures afresh and holds nothing against the campaign), not the one it paused in.
 * Pure.
 */
export function guardPauseLift(state: GuardState, nowMs: number): GuardPauseLift | null {
  if (state.endedAtMs !== undefined || state.lastAction !== 'pause') return null;
  if (state.pausedInPeriod !== state.periodIndex) return null;
  const { periodMs, label } = MEASUREMENT[state.regime];
  const index = Math.max(state.periodIndex, Math.floor((nowMs - state.anchorMs) / periodMs));
  const period = { index, ...periodBounds(state, index), label };
  if (index !== state.periodIndex || !state.lastSeen) return { period, pausedInPeriod: state.periodIndex };
  const inPeriod = callsInPeriod(state, state.lastSeen);
  return {
    period,
    pausedInPeriod: state.periodIndex,
    figures: { answeredCalls: inPeriod.answeredCalls, abandonedCalls: inPeriod.abandonedCalls },
  };
}

/**
 * Names the guard's pause a lift is of, the same for the lifecycle's record of an operator's resume and
 * the poll's of one made outside the orchestrator, so the one recorded first stands (guard-actions.ts).
 * The guard pauses once per period of a measurement (a pause issued again replaces one that failed,
 * and a failed pause is lifted by nobody). Pure.
 */
export function guardPauseKey(state: Pick<GuardState, 'regime' | 'anchorMs' | 'pausedInPeriod'>): string {
  return `${state.regime}:${state.anchorMs}:${state.pausedInPeriod ?? 'none'}`;
}

/**
 * Closes the current period of a campaign that ended (completed or cancelled): no later poll rolls it
 * over, so without this a campaign shorter than a period (most of them) would never have its figures
 * closed and proved. The period ends at the campaign's end (or its own end, if that came first: a
 * campaign stopped while paused across the boundary), with the latest counters — the final
 * statistics when they are known and did not go backwards, else those the guard last saw. Pure; null
 * when the measurement already ended.
 */
export function endMeasurement(
  state: GuardState,
  counters: Counters | undefined,
  nowMs: number,
): { closedPeriod: PeriodSummary; nextState: GuardState } | null {
  if (state.endedAtMs !== undefined) return null;
  const seen = state.lastSeen ? pick(state.lastSeen) : state.baseline;
  const final = counters && !below(counters, seen) ? pick(counters) : seen;
  const { startMs, endMs } = periodBounds(state, state.periodIndex);
  const closedPeriod = summarizePeriod(
    state.periodIndex,
    startMs,
    Math.max(startMs, Math.min(nowMs, endMs)),
    minus(final, state.baseline),
  );
  const nextState: GuardState = {
    ...state,
    baseline: final,
    lastSeen: { ...final, atMs: nowMs },
    throttled: false,
    lastAction: 'none',
    endedAtMs: nowMs,
    periods: [...state.periods, closedPeriod].slice(-GUARD_DEFAULTS.maxPeriods),
  };
  delete nextState.throttleFromRate;
  delete nextState.throttleLevel;
  return { closedPeriod, nextState };
}
