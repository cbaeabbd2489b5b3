import { clampCallRate, directionOf, round2, type PacingDecision, type PacingObservation } from './types.js';

/**
 * The seed's rule, kept as the baseline: answer rate = answered / total calls (cumulative); below
 * 0.25 → callRate × 0.85, above 0.65 → × 1.15; applied only when it moves by more than 0.01,
 * rounded to 2 decimals, clamped to 0.1..1.0. It ignores abandonment entirely.
 *
 * One deliberate difference: with no calls yet there is no answer rate, so it holds instead of
 * treating 0/1 as "answer rate 0" and cutting the rate before the first dial.
 */
export function thresholdDecision(obs: PacingObservation): PacingDecision {
  const { totalCalls, answeredCalls } = obs.stats;
  const current = obs.callRate;
  const answerRate = totalCalls > 0 ? answeredCalls / totalCalls : null;
  const base = {
    strategy: 'threshold' as const,
    previousCallRate: current,
    inputs: { answerRate, totalCalls, answeredCalls },
  };
  if (answerRate === null) {
    return { ...base, callRate: current, direction: 'hold', reason: 'no calls yet' };
  }
  let proposed = current;
  if (answerRate < 0.25) proposed = current * 0.85;
  else if (answerRate > 0.65) proposed = current * 1.15;
  const next = clampCallRate(round2(proposed));
  if (Math.abs(proposed - current) <= 0.01 || next === current) {
    return {
      ...base,
      callRate: current,
      direction: 'hold',
      reason: 'answer rate within 0.25..0.65 or change too small',
    };
  }
  return {
    ...base,
    callRate: next,
    direction: directionOf(current, next),
    reason: answerRate < 0.25 ? 'answer rate below 0.25' : 'answer rate above 0.65',
  };
}
