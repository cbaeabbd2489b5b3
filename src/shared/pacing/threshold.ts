import { DEFAULT_THRESHOLDS, type Thresholds } from '../campaign-config.js';
import { clampCallRate, directionOf, round2, type PacingDecision, type PacingObservation } from './types.js';

/**
 * The seed's rule, kept as the baseline: answer rate = answered / total calls (cumulative); below
 * `lowerAnswerRate` (0.25) → callRate × (1 − step) (0.85), above `upperAnswerRate` (0.65) → × (1 +
 * step); applied only when it moves by more than 0.01, rounded to 2 decimals, kept within
 * `minCallRate`..`maxCallRate` (0.1..1.0). The bounds come from the campaign's `pacing.thresholds`.
 * It ignores abandonment entirely (the abandonment guard still caps it).
 *
 * Two deliberate differences: with no calls yet there is no answer rate, so it holds instead of
 * treating 0/1 as "answer rate 0" and cutting the rate before the first dial; and with no call
 * counted since its previous decision (`obs.callsAtLastDecision`: nobody dialing, or a stale read
 * whose counters are below it) it holds too. The cumulative rate has not moved, and deciding on it
 * again moved the rate 15% on every poll: a campaign whose agents were all logged out was raised to
 * 1.0 without a single dial, and met them at the highest dial ratio when they came back.
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
  if (since !== undefined && totalCalls <= since) {
    return {
      ...base,
      callRate: current,
      direction: 'hold',
      reason: `no call counted since the last decision (totalCalls ${totalCalls}, ${since} then): nothing new to judge`,
    };
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
