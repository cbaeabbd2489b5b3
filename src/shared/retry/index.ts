export { type BackoffPolicy, DEFAULT_BACKOFF, backoffCeilingMs, fullJitterDelayMs } from './backoff.js';
export { type ClassifyOptions, type RetryDecision, classifyError, permanentMessage } from './classify.js';
