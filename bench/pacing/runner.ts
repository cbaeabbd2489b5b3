import { DialerSimulation } from '../../src/sandbox/dialer/simulation.js';
import { ABANDONMENT_CAP } from '../../src/shared/campaign-config.js';
import { evaluateAbandonmentGuard } from '../../src/shared/compliance/guard.js';
import { capDecision } from '../../src/shared/pacing/guard-cap.js';
import {
  decidePacing,
  thresholdRecall,
  type PacingControllerState,
  type PacingDecision,
} from '../../src/shared/pacing/index.js';
import type { StartAnchor } from '../../src/shared/pacing/reanchor.js';
import type { PacingScenario } from './scenarios.js';

/**
 * Rows of the table. `abandonment-target@1.0` is the default strategy on a campaign that asks for
 * callRate 1.0 (started at its safe start); `abandonment-target@1.0 unsafe` the same request started
 * as asked, to show what the safe start prevents; `abandonment-target misdeclared` a campaign asking
 * for 0.9 whose config declares the wrong answerRate (scenarios.ts, misdeclaredAnswerRate).
 */
export type BenchStrategy =
  | 'threshold'
  | 'abandonment-target'
  | 'abandonment-target@1.0'
  | 'abandonment-target@1.0 unsafe'
  | 'abandonment-target misdeclared'
  | 'oracle';

export interface ScenarioResult {
  agents: number;
  answerProb: number;
  strategy: BenchStrategy;
  /** Percent 0..100. */
  utilization: number;
  /** Abandoned / live answers over the whole run (the legal measure), 0..1. */
  abandonment: number;
  totalCalls: number;
  answeredCalls: number;
  abandonedCalls: number;
  /** callRate the run started at (the fixed one for the oracle). */
  startCallRate: number;
  /** callRate at the end of the run (the fixed one for the oracle). */
  finalCallRate: number;
  /** callRate changes the strategy made. */
  changes: number;
  /**
   * Highest abandoned / live answers the cumulative counters showed at any poll once they held
   * PEAK_MIN_ANSWERS live answers: what a guard watching the period sees, where the whole-run figure
   * dilutes a bad first few minutes (the oracle's: its whole-run figure).
   */
  peakAbandonment: number;
}

/** Live answers the counters need before a poll counts toward peakAbandonment. */
export const PEAK_MIN_ANSWERS = 100;

interface RunOptions {
  initialCallRate: number;
  /** The safe start's anchor, handed to the controller's first step as the poll worker does. */
  anchor?: StartAnchor | null;
  /** The answerRate the config declares (what the compliance guard sees); the true one by default. */
  declaredAnswerRate?: number;
  /** The row's name in the table; the strategy's own by default. */
  label?: BenchStrategy;
  pollIntervalMs: number;
  /**
   * Run compliance's abandonment guard before pacing, as the poll worker does: its throttle caps
   * the rate; its pause stops dialing for one poll interval (standing in for an operator who
   * resumes at once).
   */
  withGuard?: boolean;
}

function simulate(scenario: PacingScenario, callRate: number): DialerSimulation {
  return new DialerSimulation({
    agents: scenario.agents,
    answerProb: scenario.answerProb,
    seed: scenario.seed,
    callRate,
    strategy: 'predictive',
    startMs: 0,
  });
}

function result(
  scenario: PacingScenario,
  strategy: BenchStrategy,
  sim: DialerSimulation,
  startCallRate: number,
  finalCallRate: number,
  changes: number,
  peakAbandonment?: number,
): ScenarioResult {
  const s = sim.snapshot();
  return {
    agents: scenario.agents,
    answerProb: scenario.answerProb,
    strategy,
    utilization: s.agentUtilization,
    abandonment: s.answeredCalls > 0 ? s.abandonedCalls / s.answeredCalls : 0,
    totalCalls: s.totalCalls,
    answeredCalls: s.answeredCalls,
    abandonedCalls: s.abandonedCalls,
    startCallRate,
    finalCallRate,
    changes,
    peakAbandonment: Math.max(
      peakAbandonment ?? 0,
      s.answeredCalls >= PEAK_MIN_ANSWERS ? s.abandonedCalls / s.answeredCalls : 0,
    ),
  };
}

/**
 * Runs a production pacing strategy against the model. The controller sees only what the
 * orchestrator sees: the stats endpoint's cumulative counters every poll interval, and the
 * callRate in effect. It runs the same pure function the poll worker runs (decidePacing).
 */
export function runController(
  scenario: PacingScenario,
  strategy: 'threshold' | 'abandonment-target',
  opts: RunOptions,
): ScenarioResult {
  const sim = simulate(scenario, opts.initialCallRate);
  let callRate = opts.initialCallRate;
  let state: PacingControllerState = null;
  let changes = 0;
  const pacing = { strategy, targetAbandonment: 0.025 } as const;
  let guardState: unknown;
  let paused = false;
  let peak = 0;
  // The threshold rule keeps no memory: as the poll worker does (pacing/apply.ts), it is told of its
  // previous decision (thresholdRecall), so it holds while no call has been placed since.
  let lastDecision: PacingDecision | null = null;
  for (let t = opts.pollIntervalMs; t <= scenario.durationMs; t += opts.pollIntervalMs) {
    sim.advanceTo(t);
    const stats = sim.snapshot();
    if (stats.answeredCalls >= PEAK_MIN_ANSWERS) {
      peak = Math.max(peak, stats.abandonedCalls / stats.answeredCalls);
    }
    let throttle: { maxCallRate: number; reason: string } | null = null;
    if (opts.withGuard) {
      const guard = evaluateAbandonmentGuard({
        config: {
          startDateTime: new Date(0).toISOString(),
          dialerStrategy: {
            strategy: 'predictive',
            agentCapacity: scenario.agents,
            callRate,
            answerRate: opts.declaredAnswerRate ?? scenario.answerProb,
          },
          pacing: { ...pacing, pollIntervalMs: opts.pollIntervalMs },
        },
        state: guardState,
        stats,
        nowMs: t,
      });
      guardState = guard.nextState;
      if (guard.action === 'pause') {
        if (guard.changed) sim.setDialing(false);
        paused = true;
        continue;
      }
      if (paused) {
        paused = false;
        sim.setDialing(true);
      }
      if (guard.throttle) throttle = { maxCallRate: guard.throttle.maxCallRate, reason: guard.reason };
    }
    const step = decidePacing(
      pacing,
      {
        atMs: t,
        callRate,
        stats,
        ...thresholdRecall(lastDecision),
      },
      state,
      {},
      state === null ? (opts.anchor ?? null) : null,
    );
    if (step === null) continue;
    state = step.state;
    const { decision } = capDecision(step.decision, throttle);
    lastDecision = decision;
    if (decision.direction !== 'hold') {
      callRate = decision.callRate;
      sim.setCallRate(callRate);
      changes += 1;
    }
  }
  sim.advanceTo(scenario.durationMs);
  return result(scenario, opts.label ?? strategy, sim, opts.initialCallRate, callRate, changes, peak);
}

/**
 * The oracle: the best fixed callRate (hence dial ratio) for the scenario, found by trying every
 * callRate from 0.10 to 1.00 in steps of 0.01 on the same seed with the true parameters, keeping
 * the one with the highest utilization whose abandonment stays within the 3% cap.
 */
export function runOracle(scenario: PacingScenario): ScenarioResult {
  let best: ScenarioResult | null = null;
  for (let cents = 10; cents <= 100; cents++) {
    const callRate = cents / 100;
    const sim = simulate(scenario, callRate);
    sim.advanceTo(scenario.durationMs);
    const candidate = result(scenario, 'oracle', sim, callRate, callRate, 0);
    if (candidate.abandonment > ABANDONMENT_CAP) continue;
    if (best === null || candidate.utilization > best.utilization) best = candidate;
  }
  // callRate 0.1 is one line per idle agent and cannot abandon, so some candidate always qualifies.
  return best!;
}
