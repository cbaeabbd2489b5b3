import { directionOf, MIN_CALL_RATE, type PacingDecision } from './types.js';

/** The abandonment guard's throttle as pacing sees it (compliance/guard.ts decides it). */
export interface GuardThrottle {
  maxCallRate: number;
  reason: string;
}

/**
 * Applies the guard's ceiling to a pacing decision: whatever the strategy wanted, the campaign may
 * not dial above the cap while the guard throttles. Returns the decision unchanged when it already
 * respects the cap, and says whether the cap is what moved it (the command's reason then becomes
 * 'abandonment-guard' rather than 'pacing').
 */
export function capDecision(
  decision: PacingDecision,
  throttle: GuardThrottle | null,
): { decision: PacingDecision; capped: boolean } {
  if (throttle === null || decision.callRate <= throttle.maxCallRate) return { decision, capped: false };
  // Rounded down so the cap holds after CXone's 2-decimal rounding too.
  const cap = Math.max(MIN_CALL_RATE, Math.floor(throttle.maxCallRate * 100) / 100);
  const callRate = Math.min(decision.callRate, cap);
  return {
    decision: {
      ...decision,
      inputs: { ...decision.inputs, guardMaxCallRate: throttle.maxCallRate },
      callRate,
      direction: directionOf(decision.previousCallRate, callRate),
      reason: `abandonment guard caps callRate at ${cap}: ${throttle.reason}`,
    },
    capped: true,
  };
}
