/** The benchmark's scenarios: every combination of staffing and answer probability, 8 simulated hours. */
export interface PacingScenario {
  agents: number;
  answerProb: number;
  seed: number;
  durationMs: number;
}

export const AGENT_COUNTS = [5, 20, 100] as const;
export const ANSWER_PROBS = [0.15, 0.35, 0.6] as const;
export const SCENARIO_DURATION_MS = 8 * 3600_000;
import type { StartAnchor } from '../../src/shared/pacing/reanchor.js';
import { startingCallRate } from '../../src/shared/pacing/start.js';

/**
 * The callRate every scenario's campaign asks for (dial ratio ≈ 2.8). The seed's `threshold` starts
 * there; `abandonment-target` starts at its safe start for the scenario's config (part of the
 * strategy, as at activation in production).
 */
export const INITIAL_CALL_RATE = 0.5;
/** The extra rows: a campaign that asks for the top of the range (10 lines per idle agent). */
export const MAX_REQUESTED_CALL_RATE = 1.0;
/** The `misdeclared` rows: a campaign that asks for 0.9 and declares the wrong answerRate. */
export const MISDECLARED_REQUESTED_CALL_RATE = 0.9;

/**
 * The answerRate a `misdeclared` row's config declares: a stale list (0.15) declared at the usual
 * 0.35, a usual or fresh list (0.35, 0.6) declared at 0.15 — the declaration the safe start trusted
 * before it assumed a plausible maximum (docs/pacing.md "Safe start").
 */
export function misdeclaredAnswerRate(answerProb: number): number {
  return answerProb <= 0.15 ? 0.35 : 0.15;
}

/** How often the controller reads the stats, in simulated time (the default pollIntervalMs). */
export const POLL_INTERVAL_MS = 15_000;

export function scenarios(durationMs = SCENARIO_DURATION_MS): PacingScenario[] {
  const list: PacingScenario[] = [];
  for (const agents of AGENT_COUNTS) {
    for (const answerProb of ANSWER_PROBS) {
      // One fixed seed per scenario, shared by every strategy so they face the same calls.
      list.push({ agents, answerProb, seed: 1000 * agents + Math.round(answerProb * 100), durationMs });
    }
  }
  return list;
}

/**
 * Where a strategy starts a scenario whose config asks for `requested`: the safe start for
 * `abandonment-target` (the config declaring `declaredAnswerRate`, by default the scenario's true
 * answer probability), with the anchor its controller re-anchors on; the request itself otherwise.
 */
export function startCallRate(
  scenario: PacingScenario,
  strategy: 'threshold' | 'abandonment-target',
  requested: number,
  declaredAnswerRate = scenario.answerProb,
): { callRate: number; anchor: StartAnchor | null } {
  const start = startingCallRate({
    dialerStrategy: {
      strategy: 'predictive',
      agentCapacity: scenario.agents,
      callRate: requested,
      answerRate: declaredAnswerRate,
    },
    pacing: { strategy, targetAbandonment: 0.025, pollIntervalMs: POLL_INTERVAL_MS },
  });
  return start
    ? { callRate: start.callRate, anchor: start.anchor ?? null }
    : { callRate: requested, anchor: null };
}
