/**
 * The callRate → dial-ratio mapping is shared with the orchestrator (its safe start reasons with
 * it), so it lives in src/shared/pacing; the sandbox imports it from there, never the other way
 * round.
 */
export {
  callRateForDialRatio,
  DEFAULT_MAX_DIAL_RATIO,
  dialRatioFor,
  MAX_CALL_RATE,
  MIN_CALL_RATE,
} from '../../shared/pacing/dial-ratio.js';
