import type { DialerStrategy } from '../campaign-config.js';

/** callRate bounds of the v2 contract. */
export const MIN_CALL_RATE = 0.1;
export const MAX_CALL_RATE = 1.0;
/** The dial ratio predictive pacing reaches at callRate 1.0. */
export const DEFAULT_MAX_DIAL_RATIO = 10;

/**
 * How a campaign's `callRate` becomes lines dialed per idle agent. The sandbox's dialer model runs
 * on it and the orchestrator reasons with it (the safe start), so it lives here, in shared code the
 * sandbox imports.
 *
 * predictive: dialRatio = maxDialRatio ^ ((callRate − 0.1) / 0.9), geometric between 1 and
 *   maxDialRatio (default 10): 0.1 → 1.0 (as safe as progressive), 0.33 → 1.8, 0.53 → 3.0,
 *   0.86 → 7.0, 1.0 → 10. Geometric because the right ratio is roughly 1 / answer rate, so equal
 *   steps of callRate should be equal *relative* steps of the ratio (0.01 ≈ 2.6 %) whatever the
 *   answer rate; a linear map would give answer rates of 0.6 only a sliver of the range.
 * progressive: always 1 line per idle agent. preview: 1 line per agent, after the agent's preview.
 */
export function dialRatioFor(
  strategy: DialerStrategy['strategy'],
  callRate: number,
  maxDialRatio = DEFAULT_MAX_DIAL_RATIO,
): number {
  if (strategy !== 'predictive') return 1;
  const rate = Math.min(MAX_CALL_RATE, Math.max(MIN_CALL_RATE, callRate));
  return maxDialRatio ** ((rate - MIN_CALL_RATE) / (MAX_CALL_RATE - MIN_CALL_RATE));
}

/** The inverse of `dialRatioFor` for predictive pacing, clamped to the contract's callRate range. */
export function callRateForDialRatio(dialRatio: number, maxDialRatio = DEFAULT_MAX_DIAL_RATIO): number {
  const ratio = Math.min(maxDialRatio, Math.max(1, dialRatio));
  return MIN_CALL_RATE + ((MAX_CALL_RATE - MIN_CALL_RATE) * Math.log(ratio)) / Math.log(maxDialRatio);
}
