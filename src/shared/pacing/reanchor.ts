import type { z } from 'zod';
import { dialRatioFor } from './dial-ratio.js';
import type { dialMarkSchema, startAnchorSchema } from './record-schema.js';

/** The reason a re-anchor carries in the audit trail, the event and the campaign record (a prefix). */
export const REANCHOR_REASON = 're-anchor';

/**
 * What a safe start leaves for the controller: the campaign started at `startCallRate` (one line per
 * idle agent, whatever its declared answerRate), and moves to the start for its MEASURED answer rate
 * once its statistics hold enough dials. JSON, kept in the campaign record until the controller takes
 * it; its shape is startAnchorSchema's (record-schema.ts).
 */
export type StartAnchor = z.infer<typeof startAnchorSchema>;

/**
 * Settled dials the statistics must hold before the first re-anchor. At 60 the 95% upper bound is
 * within ≈ 0.1 of the measured rate (0.15 measured → 0.24, start 0.38 instead of 0.57 for the truth;
 * anything measured above ≈ 0.37, a bound of 0.487 or more, keeps one line per idle agent for a team of
 * 25 or more), and a 25-agent campaign at one line
 * per idle agent has them within 1–3 minutes, before the controller could take its first step (50
 * clean live answers). Fewer would re-anchor on a bound too wide to move the rate at all; many more
 * would leave a stale list crawling up at the controller's pace (docs/pacing.md "The re-anchor").
 */
export const DEFAULT_REANCHOR_MIN_DIALS = 60;
/** The last stage (60, 240, 960 settled dials): by then the bound is within ≈ 0.02–0.03 of the rate. */
export const DEFAULT_REANCHOR_MAX_DIALS = 960;
/**
 * The start's 0.5 live answers per idle agent is calibrated for an all-idle start of 20–25 agents.
 * Re-anchoring a running campaign, a small team feels the same ratio far more: its answers vary
 * more relative to its agents (by ≈ 1/√agents), so a burst finds every agent busy. Below this team
 * size the re-anchor scales the figure by √(agents / 25) (5 agents: 0.22, 10: 0.32, 16: 0.4), see
 * reanchorAnswersPerIdleAgent; measured in docs/pacing.md "The re-anchor".
 */
export const DEFAULT_REANCHOR_FULL_TEAM_AGENTS = 25;
/**
 * The most one re-anchor move may raise callRate: three of the controller's largest steps (0.05).
 * The controller then climbs the rest with its evidence (50 clean live answers per step).
 */
export const DEFAULT_REANCHOR_MAX_MOVE = 0.15;

/**
 * Expected live answers per idle agent a re-anchor may aim for with `agents` agents: the start's
 * figure for a team of `fullTeamAgents` or more, × √(agents / fullTeamAgents) below it.
 */
export function reanchorAnswersPerIdleAgent(
  maxAnswersPerIdleAgent: number,
  agents: number,
  fullTeamAgents = DEFAULT_REANCHOR_FULL_TEAM_AGENTS,
): number {
  if (!(fullTeamAgents > 0)) return maxAnswersPerIdleAgent;
  return maxAnswersPerIdleAgent * Math.sqrt(Math.min(1, Math.max(0, agents) / fullTeamAgents));
}

/**
 * Abandons a re-anchor move must leave room for under the cap: one for a team its statistics vouch
 * for (a move on 0 abandons in 30 live answers is one the next abandon alone turns into a compliance
 * pause), three for a team they do not (see evidencedAgents): the controller sees what a move did only
 * once its window holds 2 abandons (its back-off's evidence), and a burst may add one more before the
 * back-off lands — 100 clean live answers before the first move. Measured in docs/pacing.md "Small teams".
 */
export const DEFAULT_REANCHOR_ROOM_ABANDONS = 1;
export const DEFAULT_REANCHOR_UNPROVEN_ROOM_ABANDONS = 3;
/**
 * Mean handle time (talk + wrap-up) the team evidence assumes: the dialer model's (180 s + 30 s). The
 * evidence is the team scaled by this over the real handle time. A campaign whose calls are longer
 * reads as a smaller team, so the re-anchor waits (slower, never less safe: on the model 10 agents
 * with 330 s calls read as 7.3 over an hour, under 0.9 × 10, and climb on the controller's own steps);
 * one whose calls are shorter reads as a larger team (10 agents with 150 s calls read as 14.7), which
 * can hide a small team under its capacity or a campaign sharing its skill group.
 */
export const DEFAULT_REANCHOR_HANDLE_MS = 210_000;
/** A team evidenced at under this share of agentCapacity is taken at its evidence. */
export const DEFAULT_REANCHOR_PROVEN_SHARE = 0.5;
/**
 * A team evidenced at under this share of agentCapacity is not re-anchored at all (the re-anchor waits):
 * the agents it does not get may be on other campaigns' calls — campaigns of one skill group share its
 * logged-in agents, and each of their dialers counts the same idle agents as its own. Its statistics
 * cannot tell that from a small team alone, and the re-anchor's answers per idle agent hold only for
 * idle agents no other dialer dials for: two campaigns re-anchored each to 0.5 live answers per idle
 * agent put 1 on every idle agent of the group. A campaign alone on a group of its agentCapacity reads
 * above it (≈ 1.07–1.4 × over its first 30 minutes on the dialer model: the handle time counts calls
 * still in progress in full); 0.9, not 1, leaves room for a raise of agentCapacity, whose evidence
 * (counted from the raise) misses the calls already in progress. Measured in docs/pacing.md
 * "Campaigns sharing a skill group".
 */
export const DEFAULT_REANCHOR_OWN_TEAM_SHARE = 0.9;

/**
 * Whether a re-anchor may take the idle agents its statistics show as its own: the team they vouch for
 * (evidencedAgents) is at least `ownShare` of the agents planned (agentCapacity). Below it the campaign
 * gets fewer agents than it plans, and the rest may be dialing for other campaigns of its skill group:
 * a move sized on the idle agents it sees over-dials them by as many campaigns as count them. True
 * while there is no evidence yet (the re-anchor's other conditions wait for it anyway). Pure.
 */
export function reanchorOwnsIdleAgents(
  evidenced: number | null,
  plannedAgents: number,
  ownShare = DEFAULT_REANCHOR_OWN_TEAM_SHARE,
): boolean {
  return evidenced === null || evidenced >= ownShare * plannedAgents;
}

/**
 * The team the statistics vouch for: agents busy on average (live answers × handle time over the time
 * elapsed) over the share of their time they were busy. agentCapacity is what the campaign plans, not
 * who dials (a skill group with 3 agents logged in under a capacity of 25 dials for 3), and the
 * statistics carry no head count. Null before there is anything to go by. Pure.
 */
export function evidencedAgents(
  period: { answered: number; elapsedMs: number; utilization: number },
  handleMs = DEFAULT_REANCHOR_HANDLE_MS,
): number | null {
  const { answered, elapsedMs, utilization } = period;
  if (!(elapsedMs > 0) || !(utilization > 0) || !(answered > 0)) return null;
  return (answered * handleMs) / (elapsedMs * Math.min(1, utilization / 100));
}

/**
 * Whether the period's calls leave room for a re-anchor move: at or under the target, and
 * `roomAbandons` more abandons would still keep it under the cap. Pure.
 */
export function reanchorHasRoom(
  period: { answered: number; abandoned: number },
  opts: { target: number; cap: number; roomAbandons?: number },
): boolean {
  const { answered, abandoned } = period;
  if (!(answered > 0)) return false;
  if (abandoned / answered > opts.target) return false;
  return (abandoned + (opts.roomAbandons ?? DEFAULT_REANCHOR_ROOM_ABANDONS)) / answered < opts.cap;
}

/** One-sided 95%: the contact rate is under-estimated in at most ≈ 1 campaign in 20. */
export const DEFAULT_REANCHOR_Z = 1.645;

/**
 * Upper bound of the Wilson score interval for `successes` in `trials`: a conservative estimate of
 * the answer rate that a small or unlucky sample cannot push below the truth (at confidence `z`).
 * 1 when nothing was tried.
 */
export function answerRateUpperBound(successes: number, trials: number, z = DEFAULT_REANCHOR_Z): number {
  if (!(trials > 0)) return 1;
  const p = Math.min(1, Math.max(0, successes / trials));
  const z2 = z * z;
  const centre = p + z2 / (2 * trials);
  const spread = z * Math.sqrt((p * (1 - p)) / trials + z2 / (4 * trials * trials));
  return Math.min(1, (centre + spread) / (1 + z2 / trials));
}

/**
 * A dial placed this long ago has an outcome: answered (rings 2–14 s in the model) or given up
 * (15–25 s in the model; TSR needs at least 15 s, and dialers rarely ring unanswered past 30 s).
 */
export const DEFAULT_REANCHOR_SETTLE_MS = 45_000;

/** Dials counted by an earlier poll: `total` of them, placed at or before `atMs` (record-schema.ts). */
export type DialMark = z.infer<typeof dialMarkSchema>;

export interface AnswerRateMeasurement {
  totalCalls: number;
  answeredCalls: number;
  /** A lower bound of the dials with an outcome (see measureAnswerRate): the sample size. */
  settledDials: number;
  /** answered now / settledDials (capped at 1). */
  measured: number | null;
  /** Wilson upper bound of `measured` over settledDials. */
  upperBound: number;
}

/**
 * The campaign's answer rate as its cumulative statistics show it, erring high. `totalCalls` counts
 * a dial when it is placed and `answeredCalls` when it is answered, so answered / total under-states
 * the rate while lines ring (by a fifth or more in the first minutes at one line per idle agent).
 * The denominator is instead a lower bound of the dials that have an outcome by now, the larger of
 * two: the dials a poll counted at least settleMs ago (`settled`: all rang out since), and the dials
 * beyond the most lines the dialer can have in flight (`inFlightBound`: agents × dial ratio; what
 * counts under the sandbox's simulated time, where wall-clock seconds are minutes of dialing). The
 * answers counted now include some of later dials, so the estimate can only be high: the safe side,
 * it can only lower the rate.
 */
export function measureAnswerRate(
  stats: { totalCalls: number; answeredCalls: number },
  settled: DialMark | null,
  opts: { inFlightBound?: number; z?: number } = {},
): AnswerRateMeasurement {
  const byTime = settled === null ? 0 : Math.min(settled.total, stats.totalCalls);
  const byLines = opts.inFlightBound === undefined ? 0 : Math.max(0, stats.totalCalls - opts.inFlightBound);
  const settledDials = Math.max(byTime, byLines);
  const answered = Math.min(stats.answeredCalls, settledDials);
  return {
    totalCalls: stats.totalCalls,
    answeredCalls: stats.answeredCalls,
    settledDials,
    measured: settledDials > 0 ? answered / settledDials : null,
    upperBound: answerRateUpperBound(answered, settledDials, opts.z),
  };
}

/** The most lines a predictive dialer keeps in flight at `callRate`: one per agent × the dial ratio. */
export function inFlightBound(agents: number, callRate: number): number {
  return Math.ceil(Math.max(0, agents) * dialRatioFor('predictive', callRate));
}

/**
 * The marks to keep after a poll at `atMs` with `total` dials, and the newest one that has settled:
 * older settled marks are dropped (a newer settled one holds more dials).
 */
export function nextDialMarks(
  marks: readonly DialMark[],
  now: DialMark,
  settleMs = DEFAULT_REANCHOR_SETTLE_MS,
): { marks: DialMark[]; settled: DialMark | null } {
  const all = [...marks, now];
  let settledIndex = -1;
  for (let i = 0; i < all.length; i++) if (now.atMs - all[i]!.atMs >= settleMs) settledIndex = i;
  return {
    marks: settledIndex >= 0 ? all.slice(settledIndex) : all,
    settled: settledIndex >= 0 ? all[settledIndex]! : null,
  };
}
