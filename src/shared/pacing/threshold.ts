import { DEFAULT_THRESHOLDS, type Thresholds } from '../campaign-config.js';
import { DEFAULT_ABANDONMENT_TARGET_PARAMS } from './abandonment-target.js';
import { clampCallRate, directionOf, round2, type PacingDecision, type PacingObservation } from './types.js';

/** Counters below the last decision's for this long are CXone's reset, not a stale read (as the controller's). */
const RESET_CONFIRM_MS = DEFAULT_ABANDONMENT_TARGET_PARAMS.resetConfirmMs;

/**
 * What the threshold rule is told of its previous decision (`decision`, the record's `lastDecision`):
 * the calls it was judged on and, while counters read below them, since when. None for a decision of
 * another strategy (a switch starts afresh). One reading for the poll worker and the benchmark. Pure.
 */
export function thresholdRecall(
  decision: Pick<PacingDecision, 'strategy' | 'inputs'> | null | undefined,
): Pick<PacingObservation, 'callsAtLastDecision' | 'callsBackSinceMs'> {
  if (decision?.strategy !== 'threshold') return {};
  const { totalCalls, callsAtLastDecision, callsBackSinceMs } = decision.inputs;
  // A hold on counters that went backwards keeps the calls of the decision before it.
  const calls = typeof callsAtLastDecision === 'number' ? callsAtLastDecision : totalCalls;
  return {
    ...(typeof calls === 'number' ? { callsAtLastDecision: calls } : {}),
    ...(typeof callsBackSinceMs === 'number' ? { callsBackSinceMs } : {}),
  };
}

/**
 * The seed's rule, kept as the baseline: answer rate = answered / total calls (cumulative); below
 * `lowerAnswerRate` (0.25) → callRate × (1 − step) (0.85), above `upperAnswerRate` (0.65) → × (1 +
 * step); applied only when it moves by more than 0.01, rounded to 2 decimals, kept within
 * `minCallRate`..`maxCallRate` (0.1..1.0). The bounds come from the campaign's `pacing.thresholds`.
 * It ignores abandonment entirely (the abandonment guard still caps it).
 *
 * Two deliberate differences: with no calls yet there is no answer rate, so it holds instead of
 * treating 0/1 as "answer rate 0" and cutting the rate before the first dial; and with no call
 * counted since its previous decision (`obs.callsAtLastDecision`: nobody dialing) it holds too. The
 * cumulative rate has not moved then, and deciding on it again moved the rate 15% on every poll: a
 * campaign whose agents were all logged out was raised to 1.0 without a single dial, and met them at
 * the highest dial ratio when they came back. Counters below that figure hold it as well, until they
 * show a stale read or a reset (see below).
 */
export function thresholdDecision(
  obs: PacingObservation,
  thresholds: Thresholds = DEFAULT_THRESHOLDS,
): PacingDecision {
  const { lowerAnswerRate: lower, upperAnswerRate: upper, minCallRate, maxCallRate, step } = thresholds;
  const { totalCalls, answeredCalls } = obs.stats;
  const current = obs.callRate;
  const answerRate = totalCalls > 0 ? answeredCalls / totalCalls : null;
  const base = {
    strategy: 'threshold' as const,
    previousCallRate: current,
    inputs: { answerRate, totalCalls, answeredCalls, lowerAnswerRate: lower, upperAnswerRate: upper },
  };
  if (answerRate === null) {
    return { ...base, callRate: current, direction: 'hold', reason: 'no calls yet' };
  }
  const since = obs.callsAtLastDecision;
  if (since !== undefined && totalCalls === since) {
    return {
      ...base,
      callRate: current,
      direction: 'hold',
      reason: `no call counted since the last decision (totalCalls ${totalCalls}, ${since} then): nothing new to judge`,
    };
  }
  // Fewer calls than the last decision saw: a stale read (an older snapshot served once) or CXone's
  // reset of the campaign's counters. Recorded as the last decision's figure, a stale read let the next
  // read of the same counters pass for new calls, and the rule moved again without a dial; kept for
  // good, a reset held it until the campaign dialed past its old count. So it holds, keeping the
  // decision's count, until they are back above it or stay below RESET_CONFIRM_MS: a reset, judged
  // from the counters since.
  if (since !== undefined && totalCalls < since) {
    const backSince = obs.callsBackSinceMs ?? obs.atMs;
    if (obs.atMs - backSince < RESET_CONFIRM_MS) {
      return {
        ...base,
        inputs: { ...base.inputs, callsAtLastDecision: since, callsBackSinceMs: backSince },
        callRate: current,
        direction: 'hold',
        reason: `statistics went backwards (totalCalls ${totalCalls}, ${since} at the last decision): holding until they show a reset or a stale read`,
      };
    }
  }
  let proposed = current;
  if (answerRate < lower) proposed = current * (1 - step);
  else if (answerRate > upper) proposed = current * (1 + step);
  const next = Math.min(maxCallRate, Math.max(minCallRate, clampCallRate(round2(proposed))));
  // A rate already past the bound the rule moves away from (an operator's 0.2 under a minCallRate of
  // 0.3, with a low answer rate) is held: clamped into the bounds, the cut would have raised it.
  if ((proposed < current && next > current) || (proposed > current && next < current)) {
    return {
      ...base,
      callRate: current,
      direction: 'hold',
      reason:
        proposed < current
          ? `answer rate below ${lower}, and callRate ${current} is already under minCallRate ${minCallRate}`
          : `answer rate above ${upper}, and callRate ${current} is already over maxCallRate ${maxCallRate}`,
    };
  }
  if (Math.abs(proposed - current) <= 0.01 || next === current) {
    return {
      ...base,
      callRate: current,
      direction: 'hold',
      reason: `answer rate within ${lower}..${upper} or change too small`,
    };
  }
  return {
    ...base,
    callRate: next,
    direction: directionOf(current, next),
    reason: answerRate < lower ? `answer rate below ${lower}` : `answer rate above ${upper}`,
  };
}
