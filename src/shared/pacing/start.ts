import { pacingStrategyOf, type CampaignConfig } from '../campaign-config.js';
import { callRateForDialRatio, dialRatioFor, MIN_CALL_RATE } from './dial-ratio.js';
import type { StartAnchor } from './reanchor.js';
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

/**
 * The highest contact rate a list may plausibly have: the safe start assumes it, whatever the config
 * declares. A declared answerRate is the client's expectation, not the list's (a fresh list answers
 * at 0.55 when campaigns usually declare 0.35 or less), and nothing can react before the first poll:
 * trusting a low declaration started a fresh list at ≈1.8 live answers per idle agent (47% of them
 * abandoned). At 0.6 the start is one line per idle agent (callRate 0.1), which cannot abandon at any
 * contact rate; the controller re-anchors on the MEASURED rate once it has enough dials (reanchor.ts).
 */
export const PLAUSIBLE_MAX_ANSWER_RATE = 0.6;

export interface SafeStart {
  /** The callRate to activate the campaign with. */
  callRate: number;
  requestedCallRate: number;
  /** The config's declared answerRate (reported; the start does not trust it). */
  answerRate: number;
  /** The answer rate the start was computed for: max(declared, PLAUSIBLE_MAX_ANSWER_RATE). */
  assumedAnswerRate: number;
  /** What the controller re-anchors on once the campaign's own statistics show its answer rate. */
  anchor: StartAnchor;
  /** Always SAFE_START_REASON. */
  reason: typeof SAFE_START_REASON;
  /** One sentence for people: what was requested, what it would dial, what it starts at instead. */
  explanation: string;
  /** The figures the decision was based on (audit `inputs`). */
  inputs: {
    requestedCallRate: number;
    answerRate: number;
    assumedAnswerRate: number;
    startCallRate: number;
    /** The start the declared answerRate alone would have given (what earlier releases used). */
    declaredStartCallRate: number;
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
 * requested callRate and the safe start for the higher of its declared answerRate and
 * PLAUSIBLE_MAX_ANSWER_RATE — in practice one line per idle agent (0.1), since a declaration cannot
 * be trusted to bound the list's real rate. Null when nothing changes: another pacing strategy
 * (`threshold` and `off` run at what the operator asked), a progressive or preview dialer (callRate
 * does not drive them), or a request already at or under the safe start. The controller then
 * re-anchors on the measured answer rate (`anchor`) and ramps up from there in its normal steps.
 */
export function startingCallRate(
  config: Pick<CampaignConfig, 'dialerStrategy' | 'pacing'>,
  opts: {
    maxAnswersPerIdleAgent?: number;
    plausibleMaxAnswerRate?: number;
    /** The campaign is already dialing at the requested rate (a takeover): lines from it may ring. */
    dialing?: boolean;
  } = {},
): SafeStart | null {
  if (pacingStrategyOf(config) !== 'abandonment-target') return null;
  const { strategy, callRate: requested, answerRate, agentCapacity } = config.dialerStrategy;
  if (strategy !== 'predictive') return null;
  const maxAnswersPerIdleAgent = opts.maxAnswersPerIdleAgent ?? DEFAULT_START_ANSWERS_PER_IDLE_AGENT;
  const assumedAnswerRate = Math.max(answerRate, opts.plausibleMaxAnswerRate ?? PLAUSIBLE_MAX_ANSWER_RATE);
  const start = safeStartCallRate(assumedAnswerRate, maxAnswersPerIdleAgent);
  if (requested <= start) return null;
  const requestedDialRatio = dialRatioFor('predictive', requested);
  const startDialRatio = dialRatioFor('predictive', start);
  // Leads with the change itself: one-line views (the demo, `cxo audit`) cut long text short.
  const explanation =
    `safe start ${requested} → ${start}: the requested rate dials ≈${requestedDialRatio.toFixed(1)} lines per idle agent ` +
    `(≈${(requestedDialRatio * assumedAnswerRate).toFixed(2)} live answers each if the list answers at ${assumedAnswerRate}; ` +
    `answerRate ${answerRate} is declared, not known), the start ≈${startDialRatio.toFixed(1)}; ` +
    'pacing re-anchors on the measured answer rate, then ramps up';
  return {
    callRate: start,
    requestedCallRate: requested,
    answerRate,
    assumedAnswerRate,
    anchor: {
      requestedCallRate: requested,
      startCallRate: start,
      declaredAnswerRate: answerRate,
      agents: agentCapacity,
      maxAnswersPerIdleAgent,
      priorCallRate: opts.dialing ? requested : start,
    },
    reason: SAFE_START_REASON,
    explanation,
    inputs: {
      requestedCallRate: requested,
      answerRate,
      assumedAnswerRate,
      startCallRate: start,
      declaredStartCallRate: Math.min(requested, safeStartCallRate(answerRate, maxAnswersPerIdleAgent)),
      maxAnswersPerIdleAgent,
      requestedDialRatio: fixed(requestedDialRatio, 3),
      startDialRatio: fixed(startDialRatio, 3),
    },
  };
}

/**
 * The safe start a launch's own activation carried, recognised by a later run of that launch which
 * finds the campaign active at it: the activating write was applied but its answer lost (a 502/504
 * after CXone committed it, a timeout) or its worker died before recording it. The start is
 * deterministic, so it is computed again from the rate the launch planned it from
 * (`requestedCallRate`) and the campaign's other settings as CXone holds them (the activation wrote
 * only its status and callRate), and must be exactly the rate CXone holds: a campaign someone
 * activated at another rate (CXone's console, at the requested rate or any other) is not the
 * launch's, and null. With `dialing`: the safe-start write of an earlier run's takeover instead
 * (launch-activate-now.ts), planned from the rate the campaign was found dialing at. Pure.
 */
export function ownSafeStartInPlace(
  requestedCallRate: number,
  found: { status: string; config: Pick<CampaignConfig, 'dialerStrategy' | 'pacing'> },
  /** A takeover's start: it was dialing at `requestedCallRate` before (startingCallRate). */
  opts: { dialing?: boolean } = {},
): SafeStart | null {
  if (found.status !== 'active') return null;
  const { dialerStrategy } = found.config;
  const start = startingCallRate(
    { ...found.config, dialerStrategy: { ...dialerStrategy, callRate: requestedCallRate } },
    opts,
  );
  if (!start || Math.abs(start.callRate - dialerStrategy.callRate) > 1e-9) return null;
  return start;
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
