import type { z } from 'zod';
import { ABANDONMENT_CAP, DEFAULT_TARGET_ABANDONMENT } from '../campaign-config.js';
import { legalAbandonmentRate } from '../efficiency.js';
import {
  DEFAULT_REANCHOR_FULL_TEAM_AGENTS,
  DEFAULT_REANCHOR_MAX_DIALS,
  DEFAULT_REANCHOR_MAX_MOVE,
  DEFAULT_REANCHOR_MIN_DIALS,
  DEFAULT_REANCHOR_HANDLE_MS,
  DEFAULT_REANCHOR_PROVEN_SHARE,
  DEFAULT_REANCHOR_OWN_TEAM_SHARE,
  DEFAULT_REANCHOR_ROOM_ABANDONS,
  DEFAULT_REANCHOR_UNPROVEN_ROOM_ABANDONS,
  evidencedAgents,
  DEFAULT_REANCHOR_SETTLE_MS,
  DEFAULT_REANCHOR_Z,
  inFlightBound,
  measureAnswerRate,
  reanchorAnswersPerIdleAgent,
  reanchorHasRoom,
  reanchorOwnsIdleAgents,
  nextDialMarks,
  REANCHOR_REASON,
  type StartAnchor,
} from './reanchor.js';
import type { abandonmentControllerStateSchema } from './record-schema.js';
import { safeStartCallRate } from './start.js';
import {
  clampCallRate,
  directionOf,
  MAX_CALL_RATE,
  MIN_CALL_RATE,
  round2,
  type PacingDecision,
  type PacingObservation,
} from './types.js';

/**
 * Tuning of the abandonment-target controller. Defaults are what the benchmark (bench/pacing.ts)
 * was run with; docs/pacing.md explains each.
 */
export interface AbandonmentTargetParams {
  /** Abandonment (abandoned / live answers) to aim for. Never above the 3% cap. */
  targetAbandonment: number;
  /** The legal cap (FTC TSR / FCC 64.1200: 3% of live answers per campaign per 30 days). */
  cap: number;
  /** The guard trips when the period's cumulative rate reaches cap − guardMargin. */
  guardMargin: number;
  /** …and releases once it is back at or below target − releaseMargin. */
  releaseMargin: number;
  /** No move while the window's rate is within ± deadband of the window target. */
  deadband: number;
  minStep: number;
  maxStepUp: number;
  maxStepDown: number;
  /** callRate change per unit of abandonment-rate error (e.g. 2 × 0.025 → +0.05). */
  gainUp: number;
  gainDown: number;
  /** Live answers the window needs before the controller may dial harder. */
  minWindowAnswers: number;
  /** Abandons the window needs before the controller backs off (guards against 1-call noise). */
  minWindowAbandons: number;
  /** After any change, hold this long so its effect shows before the next one. */
  cooldownMs: number;
  /** The rolling window spans between half of this and this much time. */
  maxWindowMs: number;
  /**
   * A callRate that overshot stays off limits for this long (what stops up/down limit cycles); each
   * further overshoot at the same rate doubles the hold, up to maxCeilingHoldMs.
   */
  ceilingHoldMs: number;
  maxCeilingHoldMs: number;
  /** Length of the compliance period the cumulative rate is measured over. */
  periodMs: number;
  /**
   * Start (epoch ms) of the compliance period in force, as the abandonment guard counts it (from the
   * campaign's start): the cumulative rate starts afresh at the first poll of a new one. Absent (the
   * benchmark), a period is periodMs from the controller's own first poll.
   */
  periodStartMs?: number;
  /**
   * Counters below the last ones read are taken for a reset of CXone's counters only once they are
   * still below after this long; until then the controller holds (see abandonmentTargetDecision).
   */
  resetConfirmMs: number;
  /** With agents this busy (percent) there is nothing to gain by dialing harder. */
  saturationUtilization: number;
  /** Leaving the guard, restart this far below the rate that tripped it. */
  resumeBackoff: number;
  /**
   * Abandons the period needs before a guard trip records a ceiling (the same evidence a back-off
   * needs): one abandon in 34 answers trips the guard at 2.9%, but is one call, not a rate that
   * overshot, and must not hold the campaign below that rate for hours.
   */
  minCeilingAbandons: number;
  /** Settled dials the statistics need before a safe start re-anchors (see reanchor.ts). */
  reanchorMinDials: number;
  /** The last re-anchor stage: each stage waits for 4× the dials of the one before. */
  reanchorMaxDials: number;
  /** Confidence of the answer rate's upper bound the re-anchor uses. */
  reanchorZ: number;
  /** How old a poll's dial count must be for all its dials to have an outcome. */
  reanchorSettleMs: number;
  /**
   * Team size (agents) at which a re-anchor may use the start's full answers per idle agent; a
   * smaller team uses that figure × √(agents / reanchorFullTeamAgents) (see reanchorAnswersPerIdleAgent).
   */
  reanchorFullTeamAgents: number;
  /** The most one re-anchor move may raise callRate (a few of the controller's largest steps). */
  reanchorMaxMove: number;
  /**
   * Abandons the period must have room for under the cap before a re-anchor move (reanchorHasRoom):
   * for a team its statistics vouch for, and for one they do not (100 clean live answers at 3).
   */
  reanchorRoomAbandons: number;
  reanchorUnprovenRoomAbandons: number;
  /** Handle time the team evidence assumes, and the share of agentCapacity it must reach (evidencedAgents). */
  reanchorHandleMs: number;
  reanchorProvenShare: number;
  /**
   * A team evidenced under this share of agentCapacity is not re-anchored: the idle agents it sees may
   * be dialed for by other campaigns of its skill group too (reanchorOwnsIdleAgents).
   */
  reanchorOwnTeamShare: number;
}

export const DEFAULT_ABANDONMENT_TARGET_PARAMS: AbandonmentTargetParams = {
  targetAbandonment: DEFAULT_TARGET_ABANDONMENT,
  cap: ABANDONMENT_CAP,
  guardMargin: 0.002,
  releaseMargin: 0.0025,
  deadband: 0.005,
  minStep: 0.01,
  maxStepUp: 0.05,
  maxStepDown: 0.15,
  gainUp: 2,
  gainDown: 3,
  minWindowAnswers: 50,
  minWindowAbandons: 2,
  cooldownMs: 120_000,
  maxWindowMs: 30 * 60_000,
  ceilingHoldMs: 30 * 60_000,
  maxCeilingHoldMs: 4 * 3600_000,
  periodMs: 30 * 24 * 3600_000,
  resetConfirmMs: 60_000,
  saturationUtilization: 99,
  resumeBackoff: 0.1,
  minCeilingAbandons: 2,
  reanchorMinDials: DEFAULT_REANCHOR_MIN_DIALS,
  reanchorMaxDials: DEFAULT_REANCHOR_MAX_DIALS,
  reanchorZ: DEFAULT_REANCHOR_Z,
  reanchorSettleMs: DEFAULT_REANCHOR_SETTLE_MS,
  reanchorFullTeamAgents: DEFAULT_REANCHOR_FULL_TEAM_AGENTS,
  reanchorMaxMove: DEFAULT_REANCHOR_MAX_MOVE,
  reanchorRoomAbandons: DEFAULT_REANCHOR_ROOM_ABANDONS,
  reanchorUnprovenRoomAbandons: DEFAULT_REANCHOR_UNPROVEN_ROOM_ABANDONS,
  reanchorHandleMs: DEFAULT_REANCHOR_HANDLE_MS,
  reanchorProvenShare: DEFAULT_REANCHOR_PROVEN_SHARE,
  reanchorOwnTeamShare: DEFAULT_REANCHOR_OWN_TEAM_SHARE,
};

type Counters = AbandonmentControllerState['window'];

/** Everything the controller remembers between polls; JSON, stored in the campaign record (record-schema.ts). */
export type AbandonmentControllerState = z.infer<typeof abandonmentControllerStateSchema>;

export interface AbandonmentTargetResult {
  decision: PacingDecision;
  state: AbandonmentControllerState;
}

const countersOf = (obs: PacingObservation): Counters => ({
  atMs: obs.atMs,
  answered: obs.stats.answeredCalls,
  abandoned: obs.stats.abandonedCalls,
});

function initialState(obs: PacingObservation, anchor: StartAnchor | null): AbandonmentControllerState {
  const now = countersOf(obs);
  return {
    // Only while the campaign still runs at its start: a rate set since (an operator's PATCH before
    // the first poll) is theirs, and the re-anchor must not raise it.
    anchor: anchor !== null && Math.abs(obs.callRate - anchor.startCallRate) < 1e-9 ? anchor : null,
    callRate: obs.callRate,
    window: now,
    checkpoint: now,
    // The stats are cumulative since the campaign started, which is where its first period starts.
    period: { atMs: obs.atMs, answered: 0, abandoned: 0 },
    last: now,
    lastChangeAtMs: null,
    ceiling: null,
    guard: null,
  };
}

/**
 * CXone reset the campaign's counters (they went backwards): the calls counted before the reset still
 * count toward the period the law measures and the window being judged, so every mark moves back by
 * the counts last seen (below zero), and what the controller knew (its guard, its ceiling) stays.
 * Starting over instead would judge the period on the calls since the reset alone, and dial harder
 * while the period's real rate is above target. Pure.
 */
function acrossReset(previous: AbandonmentControllerState, now: Counters): AbandonmentControllerState {
  const shift = (mark: Counters): Counters => ({
    atMs: mark.atMs,
    answered: mark.answered - previous.last.answered,
    abandoned: mark.abandoned - previous.last.abandoned,
  });
  const ceiling = previous.ceiling;
  return {
    ...previous,
    window: shift(previous.window),
    checkpoint: shift(previous.checkpoint),
    period: shift(previous.period),
    last: now,
    ceiling: ceiling?.probe ? { ...ceiling, probe: shift(ceiling.probe) } : ceiling,
    // A move down that may not have landed restores these marks: they count from the same zero.
    ...(previous.pendingDown
      ? {
          pendingDown: {
            ...previous.pendingDown,
            window: shift(previous.pendingDown.window),
            checkpoint: shift(previous.pendingDown.checkpoint),
          },
        }
      : {}),
    // A pending re-anchor's dial marks counted dials before the reset: against the new counters every
    // dial since would look settled. It measures again from the reset on.
    ...(previous.anchor ? { anchorMarks: [] } : {}),
    ...(previous.anchorSince ? { anchorSince: shift(previous.anchorSince) } : {}),
  };
}

/**
 * Records an overshoot at `callRate`: a second overshoot at (or above) the remembered ceiling is a
 * failed probe and lengthens the hold (and takes back any lift); an overshoot below it lowers the
 * ceiling. At the minimum rate nothing is recorded: one line per idle agent cannot abandon by
 * over-dialing, so abandons seen there are the residue of a higher rate (one the compliance guard's
 * pause or an operator dropped it from), and a ceiling at the floor would hold the campaign there,
 * lifted 0.01 per clean probe of the hold's length — hours of progressive pacing after a single trip.
 */
function strike(
  ceiling: AbandonmentControllerState['ceiling'],
  callRate: number,
  atMs: number,
): AbandonmentControllerState['ceiling'] {
  if (callRate <= MIN_CALL_RATE + 1e-9) return ceiling;
  if (ceiling !== null && callRate >= ceiling.callRate) {
    return { callRate: ceiling.callRate, setAtMs: atMs, strikes: ceiling.strikes + 1 };
  }
  return { callRate, setAtMs: atMs, strikes: 1 };
}

/** How long a ceiling with `strikes` is off limits. */
const holdOf = (p: AbandonmentTargetParams, strikes: number) =>
  Math.min(p.maxCeilingHoldMs, p.ceilingHoldMs * 2 ** (strikes - 1));

/** The highest rate a ceiling allows once its hold is over: the rate itself, plus any lift. */
const ceilingLimit = (ceiling: NonNullable<AbandonmentControllerState['ceiling']>) =>
  round2(ceiling.callRate + (ceiling.lift ?? 0));

const pct = (value: number) => `${(value * 100).toFixed(2)}%`;

/**
 * The default pacing: dial as hard as the abandonment target allows.
 *
 * Each poll it measures abandonment two ways: over a rolling window that restarts at every change
 * (so a change is judged only on its own calls) and cumulatively over the compliance period (what
 * the law counts). Then, in order:
 *  1. hard guard: cumulative ≥ cap − guardMargin → progressive pacing (callRate 0.1, one line per
 *     idle agent: no answer can find every agent busy) until cumulative ≤ target − releaseMargin
 *     (recording a ceiling only with ≥ minCeilingAbandons abandons in the period);
 *  1b. re-anchor: a safe start still pending moves up to the start for the measured answer rate
 *     (reanchor.ts), in stages as settled dials accumulate;
 *  2. cooldown after any change;
 *  3. back off when the window's rate is above its target + deadband (with ≥ minWindowAbandons);
 *     the window target is lowered when the period is already above target, to pay the excess back;
 *  4. dial harder only when even a pessimistic window estimate, (abandons + 1) / answers over at
 *     least minWindowAnswers, is below target − deadband, the period is at or under target, agents
 *     are not saturated, and never to a rate that overshot in the last ceilingHoldMs (a probe at the
 *     ceiling that stays clean for its hold lifts it);
 *  5. otherwise hold (deadband).
 * Steps are proportional to the error, bounded by minStep..maxStep, and backing off is faster than
 * dialing harder.
 */
export function abandonmentTargetDecision(
  obs: PacingObservation,
  previous: AbandonmentControllerState | null,
  overrides: Partial<AbandonmentTargetParams> = {},
  /** The safe start the campaign was activated with; read only when there is no memory yet. */
  startAnchor: StartAnchor | null = null,
): AbandonmentTargetResult {
  const p: AbandonmentTargetParams = { ...DEFAULT_ABANDONMENT_TARGET_PARAMS, ...overrides };
  const target = Math.min(p.targetAbandonment, p.cap);
  const now = countersOf(obs);

  // Counters below the last ones read are a reset of CXone's counters — or a stale read (an older
  // snapshot served once), after which they are back above. Taken for a reset at once, a stale read
  // counted every call before it twice for the rest of the period: the window then held ~all of the
  // period's answers and could not see an overshoot for up to half an hour, and the period's rate lagged
  // the truth. So the controller holds, keeping `last`, until they are above it again (a stale read,
  // nothing to undo) or still below after resetConfirmMs (a reset: acrossReset). A reset that already
  // counts more than `last` within that time (a campaign reset in its first minutes) passes for a stale
  // read; it was never told from growth anyway.
  const backwards =
    previous !== null && (now.answered < previous.last.answered || now.abandoned < previous.last.abandoned);
  if (previous !== null && backwards) {
    const since = previous.backwardsSinceMs ?? obs.atMs;
    if (obs.atMs - since < p.resetConfirmMs) {
      return {
        decision: {
          strategy: 'abandonment-target',
          inputs: {
            targetAbandonment: target,
            answeredCalls: now.answered,
            abandonedCalls: now.abandoned,
            lastAnswered: previous.last.answered,
            lastAbandoned: previous.last.abandoned,
            guardActive: previous.guard !== null,
          },
          previousCallRate: obs.callRate,
          callRate: obs.callRate,
          direction: 'hold',
          reason:
            `statistics went backwards (${now.abandoned} of ${now.answered} live answers abandoned, ` +
            `${previous.last.abandoned} of ${previous.last.answered} before): holding until they show a reset or a stale read`,
        },
        state: { ...previous, backwardsSinceMs: since },
      };
    }
  }
  let state: AbandonmentControllerState =
    previous === null
      ? initialState(obs, startAnchor)
      : backwards
        ? { ...acrossReset(previous, now), backwardsSinceMs: null }
        : { ...previous, last: now, backwardsSinceMs: null };

  // The law's period (the guard's) began after this one: before, the controller's period ran periodMs
  // from its own first poll, so its rollover fell hours (OFCOM) or days (TCPA) away from the guard's —
  // holding the last period's abandons against a fresh one, then forgetting the calls a period already held.
  const lawPeriodBegan = p.periodStartMs !== undefined && state.period.atMs < p.periodStartMs;
  if (lawPeriodBegan || obs.atMs - state.period.atMs >= p.periodMs) {
    state = { ...state, period: now };
  }
  // A move down that never reached CXone (its command failed or was refused): the campaign still
  // dials at the rate that called for it. Taken for someone else's change, it restarted the window and
  // the cooldown, and the back-off waited minutes for fresh evidence while the overshoot went on; the
  // move is undone in memory instead, so this poll decides again on the evidence it was made on. Only
  // downward: a failed move up costs nothing, and an operator who put the rate back after one that
  // landed keeps it.
  const pendingDown = state.pendingDown;
  if (pendingDown && Math.abs(obs.callRate - state.callRate) > 1e-9) {
    if (Math.abs(obs.callRate - pendingDown.from) < 1e-9) {
      state = {
        ...state,
        callRate: pendingDown.from,
        window: pendingDown.window,
        checkpoint: pendingDown.checkpoint,
        lastChangeAtMs: pendingDown.lastChangeAtMs,
      };
    }
  }
  if (pendingDown) state = { ...state, pendingDown: null };
  // Someone else changed the rate (an operator PATCH, a change still in flight): judge the new
  // rate on its own calls. A pending re-anchor gives way to it: the rate is the operator's now.
  if (Math.abs(obs.callRate - state.callRate) > 1e-9) {
    state = {
      ...state,
      callRate: obs.callRate,
      window: now,
      checkpoint: now,
      lastChangeAtMs: obs.atMs,
      anchor: null,
    };
  }
  if (obs.atMs - state.window.atMs >= p.maxWindowMs) {
    state = { ...state, window: state.checkpoint, checkpoint: now };
  } else if (
    state.checkpoint.atMs === state.window.atMs &&
    obs.atMs - state.window.atMs >= p.maxWindowMs / 2
  ) {
    state = { ...state, checkpoint: now };
  }
  // A probe at a ceiling's limit runs from the first poll that finds the campaign dialing there; its
  // counters are what a lift is judged on (step 4), across as many windows as it lasts.
  if (state.ceiling !== null) {
    const c = state.ceiling;
    const atLimit = obs.callRate >= ceilingLimit(c) - 1e-9;
    if (atLimit && !c.probe) state = { ...state, ceiling: { ...c, probe: now } };
    else if (!atLimit && c.probe) state = { ...state, ceiling: { ...c, probe: null } };
  }

  const current = obs.callRate;
  const periodAnswered = now.answered - state.period.answered;
  const periodAbandoned = now.abandoned - state.period.abandoned;
  const cumulative = legalAbandonmentRate({ answeredCalls: periodAnswered, abandonedCalls: periodAbandoned });
  const windowAnswered = now.answered - state.window.answered;
  const windowAbandoned = now.abandoned - state.window.abandoned;
  const windowRate = legalAbandonmentRate({ answeredCalls: windowAnswered, abandonedCalls: windowAbandoned });
  const windowTarget =
    cumulative !== null && cumulative > target ? Math.max(0, target - (cumulative - target)) : target;
  const guardLevel = Math.max(target, p.cap - p.guardMargin);
  // Both margins are absolute, sized for the usual targets (2–3%). Below 0.5% they would swallow the
  // target: a release level of 0 keeps the guard on for the rest of a 30-day period after a single
  // abandon, and a window target minus the deadband at or below 0 never lets the rate climb again.
  // Neither may exceed half the target.
  const releaseLevel = Math.max(target - p.releaseMargin, target / 2);
  const deadband = Math.min(p.deadband, target / 2);

  const inputs: PacingDecision['inputs'] = {
    targetAbandonment: target,
    cumulativeAbandonment: cumulative,
    periodAnswered,
    periodAbandoned,
    windowAbandonment: windowRate,
    windowAnswered,
    windowAbandoned,
    windowTarget,
    agentUtilization: obs.stats.agentUtilization,
    guardActive: state.guard !== null,
  };

  const decide = (
    next: number,
    reason: string,
    extra: Partial<AbandonmentControllerState> = {},
  ): AbandonmentTargetResult => {
    // A hold keeps the rate exactly as it is: rounding an operator's 0.555 would raise it on a hold.
    const callRate = next === current ? current : clampCallRate(round2(next));
    const changed = callRate !== current;
    const pendingDown =
      changed && callRate < current
        ? {
            from: current,
            window: state.window,
            checkpoint: state.checkpoint,
            lastChangeAtMs: state.lastChangeAtMs,
          }
        : null;
    const nextState: AbandonmentControllerState = changed
      ? { ...state, ...extra, callRate, window: now, checkpoint: now, lastChangeAtMs: obs.atMs, pendingDown }
      : { ...state, ...extra };
    return {
      decision: {
        strategy: 'abandonment-target',
        inputs,
        previousCallRate: current,
        callRate: changed ? callRate : current,
        direction: changed ? directionOf(current, callRate) : 'hold',
        reason,
      },
      state: nextState,
    };
  };

  // 1. The hard guard. It trips on any sample (safety first), but records a ceiling only on enough
  // evidence that the rate itself overshot.
  const ceilingEvidence = periodAbandoned >= p.minCeilingAbandons;
  if (state.guard === null && cumulative !== null && cumulative >= guardLevel) {
    return decide(
      MIN_CALL_RATE,
      `guard: cumulative abandonment ${pct(cumulative)} reached ${pct(guardLevel)} (cap ${pct(p.cap)}); progressive pacing`,
      {
        guard: { sinceMs: obs.atMs, preGuardCallRate: current },
        ceiling: ceilingEvidence ? strike(state.ceiling, current, obs.atMs) : state.ceiling,
        anchor: null,
      },
    );
  }
  if (state.guard !== null) {
    if (cumulative !== null && cumulative > releaseLevel) {
      return decide(
        MIN_CALL_RATE,
        `guard: progressive pacing until cumulative abandonment ${pct(cumulative)} is back to ${pct(releaseLevel)}`,
      );
    }
    const resume = Math.max(MIN_CALL_RATE, state.guard.preGuardCallRate - p.resumeBackoff);
    return decide(
      resume,
      `guard released: cumulative abandonment back to ${cumulative === null ? 'n/a' : pct(cumulative)}`,
      {
        guard: null,
        ceiling: ceilingEvidence
          ? strike(state.ceiling, state.guard.preGuardCallRate, obs.atMs)
          : state.ceiling,
      },
    );
  }

  // 1b. The re-anchor of a safe start, once the statistics show the campaign's real answer rate:
  // up to the start for it (as if it had been declared right, on an upper bound of the measured
  // rate, with the answers per idle agent scaled down for a small team), at most reanchorMaxMove
  // per move, never above the request nor a ceiling, and only while the period is at or under
  // target, outside the cooldown and with the window not overshooting (step 3 drops the anchor on a
  // back-off). In stages (reanchorMinDials settled dials, then ×4 up to reanchorMaxDials) as the
  // bound tightens; it only ever moves up, and is dropped after its last stage or once it reaches
  // the request.
  const inCooldown = state.lastChangeAtMs !== null && obs.atMs - state.lastChangeAtMs < p.cooldownMs;
  const overshooting =
    windowRate !== null && windowAbandoned >= p.minWindowAbandons && windowRate > windowTarget + deadband;
  if (state.anchor) {
    const anchor = state.anchor;
    const { marks, settled } = nextDialMarks(
      state.anchorMarks ?? [],
      { atMs: obs.atMs, total: obs.stats.totalCalls, callRate: current },
      p.reanchorSettleMs,
    );
    // Lines may still ring from any rate in effect since the settled mark, and from the rate before
    // the start (a takeover found the campaign dialing at its request) while no mark has settled.
    const ratesInEffect = marks.map((mark) => mark.callRate ?? anchor.requestedCallRate);
    if (settled === null) ratesInEffect.push(anchor.priorCallRate ?? anchor.requestedCallRate);
    // Lines in flight: bounded by the larger team (more agents, more lines), the re-anchor sized
    // for the smaller (a smaller team, fewer answers per idle agent).
    const agentsNow = obs.agents ?? anchor.agents;
    const m = measureAnswerRate(obs.stats, settled, {
      inFlightBound: inFlightBound(Math.max(anchor.agents, agentsNow), Math.max(current, ...ratesInEffect)),
      z: p.reanchorZ,
    });
    const stageDials = state.anchorStageDials ?? p.reanchorMinDials;
    state = { ...state, anchorMarks: marks };
    // Room for one more abandon under the cap: a move on a few clean answers (0 in 30) is a move the
    // next abandon alone turns into a compliance pause (1 in 32), which a small team on a list declared
    // richer than it is met more often than before the re-anchor existed.
    // A team its statistics do not vouch for (fewer agents dialing than agentCapacity plans) is
    // re-anchored as the team they show, and only with room for three more abandons under the cap.
    const plannedAgents = Math.min(anchor.agents, agentsNow);
    // The evidence counts from the first poll that held this anchor: a pause before a resume (time
    // without calls) or the team before a raise of agentCapacity would read as a smaller team now.
    const since = state.anchorSince ?? now;
    state = { ...state, anchorSince: since };
    const evidenced = evidencedAgents(
      {
        answered: now.answered - since.answered,
        elapsedMs: obs.atMs - since.atMs,
        utilization: obs.stats.agentUtilization,
      },
      p.reanchorHandleMs,
    );
    const unproven = evidenced !== null && evidenced < p.reanchorProvenShare * plannedAgents;
    const teamAgents = unproven ? Math.max(1, Math.floor(evidenced)) : plannedAgents;
    const periodOk = reanchorHasRoom(
      { answered: periodAnswered, abandoned: periodAbandoned },
      {
        target,
        cap: p.cap,
        roomAbandons: unproven ? p.reanchorUnprovenRoomAbandons : p.reanchorRoomAbandons,
      },
    );
    // Fewer agents than planned: some may be on other campaigns' calls of the same skill group, whose
    // dialers count the same idle agents. The re-anchor waits (the controller climbs on its evidence).
    const ownsIdleAgents = reanchorOwnsIdleAgents(evidenced, plannedAgents, p.reanchorOwnTeamShare);
    if (m.settledDials >= stageDials && !inCooldown && !overshooting && periodOk && ownsIdleAgents) {
      const answersPerIdleAgent = reanchorAnswersPerIdleAgent(
        anchor.maxAnswersPerIdleAgent,
        teamAgents,
        p.reanchorFullTeamAgents,
      );
      const forMeasured = safeStartCallRate(m.upperBound, answersPerIdleAgent);
      const ceiling = state.ceiling;
      const next = Math.min(
        anchor.requestedCallRate,
        forMeasured,
        round2(current + p.reanchorMaxMove),
        ceiling === null ? MAX_CALL_RATE : round2(ceiling.callRate - p.minStep),
      );
      const nextStage = stageDials * 4;
      const last = nextStage > p.reanchorMaxDials || next >= anchor.requestedCallRate;
      state = last
        ? { ...state, anchor: null, anchorMarks: [], anchorStageDials: null, anchorSince: null }
        : { ...state, anchorStageDials: nextStage };
      if (next > current) {
        inputs.measuredAnswerRate = m.measured === null ? null : Number(m.measured.toFixed(4));
        inputs.answerRateUpperBound = Number(m.upperBound.toFixed(4));
        inputs.settledDials = m.settledDials;
        inputs.totalCalls = m.totalCalls;
        inputs.declaredAnswerRate = anchor.declaredAnswerRate;
        inputs.requestedCallRate = anchor.requestedCallRate;
        inputs.startForMeasuredCallRate = forMeasured;
        inputs.maxAnswersPerIdleAgent = answersPerIdleAgent;
        inputs.agents = teamAgents;
        inputs.plannedAgents = plannedAgents;
        return decide(
          next,
          `${REANCHOR_REASON}: measured answer rate ${m.measured === null ? 'n/a' : m.measured.toFixed(3)} ` +
            `(at most ${m.upperBound.toFixed(3)} at 95%) over ${m.settledDials} settled dials ` +
            `(declared ${anchor.declaredAnswerRate}); start for it ${forMeasured}, requested ${anchor.requestedCallRate}`,
        );
      }
    }
  }

  // 2. Cooldown.
  if (state.lastChangeAtMs !== null && obs.atMs - state.lastChangeAtMs < p.cooldownMs) {
    return decide(current, 'cooldown after the last change');
  }

  // 3. Back off.
  if (windowRate !== null && windowAbandoned >= p.minWindowAbandons && windowRate > windowTarget + deadband) {
    // Sized on an optimistic estimate (one abandon fewer) so a couple of unlucky calls cost one
    // small step, while a real overshoot still gets a large one.
    // A short window (just after the cooldown) is weighted down: its calls still reflect the state
    // the previous rate left behind.
    const optimistic = (windowAbandoned - 1) / windowAnswered;
    const confidence = Math.min(1, windowAnswered / p.minWindowAnswers);
    const step = Math.min(
      p.maxStepDown,
      Math.max(p.minStep, p.gainDown * (optimistic - windowTarget) * confidence),
    );
    return decide(
      current - step,
      `window abandonment ${pct(windowRate)} above ${pct(windowTarget + deadband)}`,
      // A back-off says the rate is already as high as the list allows: a pending re-anchor is dropped.
      {
        ceiling: strike(state.ceiling, current, obs.atMs),
        anchor: null,
        anchorMarks: [],
        anchorStageDials: null,
      },
    );
  }

  // 4. Dial harder.
  const pessimistic = windowAnswered > 0 ? (windowAbandoned + 1) / windowAnswered : null;
  if (
    pessimistic !== null &&
    windowAnswered >= p.minWindowAnswers &&
    pessimistic < windowTarget - deadband &&
    (cumulative === null || cumulative <= target) &&
    current < MAX_CALL_RATE
  ) {
    if (obs.stats.agentUtilization >= p.saturationUtilization) {
      return decide(
        current,
        `agents saturated (${obs.stats.agentUtilization.toFixed(1)}%); dialing harder gains nothing`,
      );
    }
    // Whether to move is decided pessimistically, how far on the point estimate: far below target
    // (no abandons at all) climbs in large steps, close to it in small ones.
    const step = Math.min(p.maxStepUp, Math.max(p.minStep, p.gainUp * (windowTarget - (windowRate ?? 0))));
    let next = round2(current + step);
    let ceiling = state.ceiling;
    if (ceiling !== null) {
      // A rate that overshot is off limits for ceilingHoldMs; after that it may be probed again,
      // but only the rate itself, never a jump past it. A probe at that limit that stayed clean —
      // run at it as long as the hold itself with not one abandon since it began (whatever the
      // windows did meanwhile; at least minWindowAnswers live answers) — lifts the limit by minStep
      // and halves the strikes: what overshot then may not now (a noisy trip, a list or staffing
      // that changed). The ceiling stays: the next clean probe lifts it one more minStep, and an
      // overshoot at or past it is a further strike on it (and takes the lift back).
      const hold = holdOf(p, ceiling.strikes);
      const fresh = obs.atMs - ceiling.setAtMs < hold;
      const probe = ceiling.probe;
      if (
        !fresh &&
        probe &&
        current >= ceilingLimit(ceiling) - 1e-9 &&
        obs.atMs - probe.atMs >= hold &&
        now.abandoned - probe.abandoned === 0 &&
        now.answered - probe.answered >= p.minWindowAnswers
      ) {
        ceiling = {
          callRate: ceiling.callRate,
          setAtMs: ceiling.setAtMs,
          strikes: Math.max(1, Math.ceil(ceiling.strikes / 2)),
          probe: null,
          lift: round2((ceiling.lift ?? 0) + p.minStep),
        };
        state = { ...state, ceiling };
      }
      next = Math.min(next, fresh ? round2(ceiling.callRate - p.minStep) : ceilingLimit(ceiling));
    }
    if (next <= current) {
      return decide(
        current,
        `holding below ${ceiling?.callRate ?? next}, which overshot the target recently`,
      );
    }
    return decide(
      next,
      `window abandonment at most ${pct(pessimistic)}, below ${pct(windowTarget - deadband)}`,
    );
  }

  // 5. Hold.
  return decide(
    current,
    holdReason({
      windowStartsNow: state.window.atMs === obs.atMs,
      windowRate,
      windowAnswered,
      windowAbandoned,
      pessimistic,
      windowTarget,
      deadband,
      cumulative,
      target,
      current,
      minWindowAnswers: p.minWindowAnswers,
      minWindowAbandons: p.minWindowAbandons,
    }),
  );
}

/**
 * Why a poll that neither backs off nor dials harder holds: the condition of step 3 or step 4 that
 * stopped it. An operator watching a campaign at 60 % utilisation and no abandons reads "within the
 * deadband" as a controller that is stuck; what holds it is usually thin evidence (too few live
 * answers in the window yet), and saying so tells them it will move on its own.
 */
export function holdReason(h: {
  /** The window was opened by this very poll (the first, or the first after someone changed the rate). */
  windowStartsNow?: boolean;
  windowRate: number | null;
  windowAnswered: number;
  windowAbandoned: number;
  /** (abandons + 1) / answers in the window, null without answers. */
  pessimistic: number | null;
  windowTarget: number;
  deadband: number;
  cumulative: number | null;
  target: number;
  current: number;
  minWindowAnswers: number;
  minWindowAbandons: number;
}): string {
  const floor = h.windowTarget - h.deadband;
  // The campaign's own counts (answered 42, say) show beside this on the first poll: "no live answers"
  // alone read as statistics the controller could not see.
  if (h.windowStartsNow) return 'the window starts at this poll: the next poll judges it';
  if (h.windowRate === null || h.pessimistic === null) return 'no live answers in the window yet';
  // Above the band yet no back-off (step 3): too few abandons to tell from noise.
  if (h.windowRate > h.windowTarget + h.deadband) {
    const calls = h.windowAbandoned === 1 ? 'call' : 'calls';
    return `${h.windowAbandoned} abandoned ${calls} in the window: backing off waits for ${h.minWindowAbandons}`;
  }
  if (h.windowRate >= floor) return 'within the deadband';
  if (h.windowAnswered < h.minWindowAnswers) {
    return `${h.windowAnswered} live answers in the window: dialing harder waits for ${h.minWindowAnswers}`;
  }
  // With one more abandon the window would not be clearly under: the "+1" keeps noise from moving it.
  if (h.pessimistic >= floor) return 'within the deadband';
  if (h.cumulative !== null && h.cumulative > h.target) {
    return `period abandonment ${pct(h.cumulative)} over the ${pct(h.target)} target: not dialing harder until it is back under`;
  }
  if (h.current >= MAX_CALL_RATE) return `at the highest call rate (${MAX_CALL_RATE})`;
  return 'within the deadband';
}
