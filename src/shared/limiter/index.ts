export { createFleetLimiter, MAX_PENALTY_MS } from './fleet-limiter.js';
export { computeSpacing, type EndpointSpacing } from './spacing.js';
export {
  type FleetLimiter,
  type FleetLimiterOptions,
  LimiterAbortedError,
  LimiterClosedError,
  LimiterUnavailableError,
  LimiterWaitExceededError,
  type LimiterWaitReason,
  type ScheduleOptions,
} from './types.js';
