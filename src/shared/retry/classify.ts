import { ZodError } from 'zod';
import {
  CxoneAuthError,
  CxoneBadRequestError,
  CxoneConflictError,
  CxoneForbiddenError,
  CxoneMalformedResponseError,
  CxoneNotFoundError,
  CxoneRateLimitError,
  CxoneUnavailableError,
  CxoneValidationError,
  isCxoneError,
} from '../errors.js';
import { LimiterClosedError } from '../limiter/types.js';
import { type BackoffPolicy, DEFAULT_BACKOFF, fullJitterDelayMs } from './backoff.js';

/**
 * What to do with a failed unit of work, decided from the cause alone:
 * - rate_limited: wait delayMs (CXone's Retry-After, or jittered backoff without one) and try again
 *   without counting it as a failure — the call was fine, the budget was not;
 * - transient: the same call can succeed later unchanged (5xx, timeouts, resets, Redis blips);
 *   retry with jittered backoff, a bounded number of times;
 * - permanent: retrying cannot help until somebody changes something; `message` says what;
 * - interrupted: this process is shutting down and stopped the work before its CXone call was made
 *   (the fleet limiter closed under a call waiting for its permit); nothing failed, so another
 *   process runs it again at once, without counting it.
 */
export type RetryDecision =
  | { kind: 'rate_limited'; delayMs: number; reason: string }
  | { kind: 'interrupted'; delayMs: 0; reason: string }
  | { kind: 'transient'; delayMs: number; reason: string }
  | { kind: 'permanent'; message: string };

export interface ClassifyOptions {
  /** 1-based attempt number the delay is computed for. */
  attempt?: number;
  backoff?: BackoffPolicy;
  random?: () => number;
}

/** Network-level failures from Node/axios that are worth retrying. */
const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

function errorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

/** Whether err carries one of the network-level codes above (a refused, reset or timed-out socket). */
export function hasNetworkErrorCode(err: unknown): boolean {
  const code = errorCode(err);
  return code !== undefined && TRANSIENT_CODES.has(code);
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Names of errors that mean "this job can never succeed as it is" regardless of where they came from. */
function isUnrecoverableByName(err: unknown): boolean {
  return err instanceof Error && err.name === 'UnrecoverableError';
}

/** The fix an operator should make, for each permanent CXone failure. */
export function permanentMessage(err: unknown): string {
  if (err instanceof CxoneValidationError) {
    return `${err.message}. Fix these fields in the campaign config (or the change request) and submit it again.`;
  }
  if (err instanceof CxoneForbiddenError) {
    return err.message;
  }
  if (err instanceof CxoneAuthError) {
    // The token provider's own message may already name the variables; say it once.
    const advice = err.message.includes('CXONE_CLIENT_ID')
      ? ''
      : ' Check CXONE_CLIENT_ID and CXONE_CLIENT_SECRET.';
    return `${err.message}.${advice} Make sure the OAuth client is enabled in CXone.`;
  }
  if (err instanceof CxoneNotFoundError) {
    return `${err.message}. The resource no longer exists on CXone or the id is wrong; check the campaign id, and stop work that refers to it.`;
  }
  if (err instanceof CxoneBadRequestError) {
    return `${err.message}. The request does not match CXone's contract; check the payload this job was built from.`;
  }
  if (err instanceof CxoneMalformedResponseError) {
    return `${err.message}. Check that CXONE_BASE_URL points at a CXone v2 API (a proxy or a wrong base URL answers with other content).`;
  }
  if (err instanceof CxoneConflictError) {
    return `${err.message}. Someone else changed the campaign; re-read it and submit the change again against the current version.`;
  }
  if (err instanceof ZodError) {
    const issues = err.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    return `invalid job data: ${issues}. The job was built by an incompatible release or by hand; enqueue it again with valid data.`;
  }
  return errorMessage(err);
}

/**
 * Classifies any error a worker may see. Unknown errors count as transient: attempts are bounded, so
 * a bug costs a few retries and then lands in the failed set with its message, while a blip we did
 * not foresee heals by itself.
 */
export function classifyError(err: unknown, opts: ClassifyOptions = {}): RetryDecision {
  const attempt = opts.attempt ?? 1;
  const backoff = opts.backoff ?? DEFAULT_BACKOFF;
  const jittered = () => fullJitterDelayMs(attempt, backoff, opts.random);

  if (err instanceof LimiterClosedError) {
    return { kind: 'interrupted', delayMs: 0, reason: err.message };
  }
  if (err instanceof CxoneRateLimitError) {
    return {
      kind: 'rate_limited',
      delayMs: err.retryAfterMs ?? Math.max(1, jittered()),
      reason: err.message,
    };
  }
  if (err instanceof CxoneUnavailableError) {
    return { kind: 'transient', delayMs: jittered(), reason: err.message };
  }
  if (isCxoneError(err)) {
    return { kind: 'permanent', message: permanentMessage(err) };
  }
  if (err instanceof ZodError || isUnrecoverableByName(err)) {
    return { kind: 'permanent', message: permanentMessage(err) };
  }
  const code = errorCode(err);
  if (code !== undefined && TRANSIENT_CODES.has(code)) {
    return { kind: 'transient', delayMs: jittered(), reason: `${code}: ${errorMessage(err)}` };
  }
  return { kind: 'transient', delayMs: jittered(), reason: errorMessage(err) };
}
