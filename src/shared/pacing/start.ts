import { pacingStrategyOf, type CampaignConfig } from '../campaign-config.js';
import { callRateForDialRatio, dialRatioFor, MIN_CALL_RATE } from './dial-ratio.js';
import type { PacingDecision } from './types.js';

/** The reason a safe start carries in the audit trail, the event and the campaign record. */
export const SAFE_START_REASON = 'safe start';

/**
 * Expected live answers per idle agent the first dials may produce (dial ratio × the config's
 * answerRate). At 1 every idle agent expects one answer, and the variance alone abandons several
 * percent; 0.5 keeps the first poll interval clear of the 3% cap. Measured on the dialer model
 * (20–25 agents, answer rates 0.15–0.6, 200 seeds, fixed rate): the first 5 minutes trip the
 * compliance guard's pause in 0–8.5% of runs at 0.5, in up to 35% at 0.7 and up to 51% at 0.8.
 */
export const DEFAULT_START_ANSWERS_PER_IDLE_AGENT = 0.5;

export interface SafeStart {
  /** The callRate to activate the campaign with. */
  callRate: number;
  requestedCallRate: number;
  answerRate: number;
  /** Always SAFE_START_REASON. */
  reason: typeof SAFE_START_REASON;
  /** One sentence for people: what was requested, what it would dial, what it starts at instead. */
  explanation: string;
  /** The figures the decision was based on (audit `inputs`). */
  inputs: {
    requestedCallRate: number;
    answerRate: number;
    startCallRate: number;
    maxAnswersPerIdleAgent: number;
    requestedDialRatio: number;
    startDialRatio: number;
  };
}

const floor2 = (value: number) => Math.floor(value * 100 + 1e-9) / 100;
const fixed = (value: number, digits: number) => Number(value.toFixed(digits));

/**
 * The conservative predictive callRate for a campaign expecting `answerRate` live answers per dial:
 * the highest 2-decimal callRate whose dial ratio keeps expected live answers per idle agent at or
 * under `maxAnswersPerIdleAgent`, never below the contract's floor 0.1 (one line per idle agent,
 * as safe as progressive). An answerRate of 0 says nothing about the list, so it starts at the floor.
 */
export function safeStartCallRate(
  answerRate: number,
  maxAnswersPerIdleAgent = DEFAULT_START_ANSWERS_PER_IDLE_AGENT,
): number {
  if (!(answerRate > 0)) return MIN_CALL_RATE;
  // Rounded down so the bound still holds after CXone keeps 2 decimals.
  return Math.max(MIN_CALL_RATE, floor2(callRateForDialRatio(maxAnswersPerIdleAgent / answerRate)));
}

/**
 * Where an `abandonment-target` campaign on a predictive dialer should start: the lower of the
 * requested callRate and the safe start for its expected answerRate. Null when nothing changes:
 * another pacing strategy (`threshold` and `off` run at what the operator asked), a progressive or
 * preview dialer (callRate does not drive them), or a request already at or under the safe start.
 * The controller then ramps up from the start in its normal bounded steps.
 */
export function startingCallRate(
  config: Pick<CampaignConfig, 'dialerStrategy' | 'pacing'>,
  opts: { maxAnswersPerIdleAgent?: number } = {},
): SafeStart | null {
  if (pacingStrategyOf(config) !== 'abandonment-target') return null;
  const { strategy, callRate: requested, answerRate } = config.dialerStrategy;
  if (strategy !== 'predictive') return null;
  const maxAnswersPerIdleAgent = opts.maxAnswersPerIdleAgent ?? DEFAULT_START_ANSWERS_PER_IDLE_AGENT;
  const start = safeStartCallRate(answerRate, maxAnswersPerIdleAgent);
  if (requested <= start) return null;
  const requestedDialRatio = dialRatioFor('predictive', requested);
  const startDialRatio = dialRatioFor('predictive', start);
  // Leads with the change itself: one-line views (the demo, `cxo audit`) cut long text short.
  const explanation =
    `safe start ${requested} → ${start}: the requested rate dials ≈${requestedDialRatio.toFixed(1)} lines per idle agent ` +
    `(≈${(requestedDialRatio * answerRate).toFixed(2)} expected live answers each at answerRate ${answerRate}), ` +
    `the start ≈${startDialRatio.toFixed(1)} (≈${(startDialRatio * answerRate).toFixed(2)} answers); the controller ramps up from there`;
  return {
    callRate: start,
    requestedCallRate: requested,
    answerRate,
    reason: SAFE_START_REASON,
    explanation,
    inputs: {
      requestedCallRate: requested,
      answerRate,
      startCallRate: start,
      maxAnswersPerIdleAgent,
      requestedDialRatio: fixed(requestedDialRatio, 3),
      startDialRatio: fixed(startDialRatio, 3),
    },
  };
}

/** The safe start as a pacing decision, in the shape every other decision is audited and stored in. */
export function safeStartDecision(start: SafeStart): PacingDecision {
  return {
    strategy: 'abandonment-target',
    inputs: { ...start.inputs },
    previousCallRate: start.requestedCallRate,
    callRate: start.callRate,
    direction: 'down',
    reason: start.reason,
  };
}
