import { parseRetryAfter } from '../shared/retry-after.js';
import { ApiError, NetworkError } from './api-client.js';

/**
 * When a poll that failed is tried again: the one policy of every cxo loop that polls (`watch`, and
 * the waits of `launch` and `pause|resume|stop`), so that they ride out the same answers alike.
 */

/** 4xx that say "not now", not "never": a gateway's request timeout and rate limit. */
export const RETRIED_4XX: readonly number[] = [408, 429];

/** The longest pause between two tries that no Retry-After asked for. */
export const RETRY_BACKOFF_CAP_MS = 10_000;

/** The longest Retry-After honoured: a bogus "come back tomorrow" must not freeze a watch for a day. */
export const RETRY_AFTER_CAP_MS = 300_000;

/**
 * Pure: whether a failed poll may come right by waiting: no answer (refused, reset, no answer in
 * time), a 5xx (the API's Redis blipped, a proxy's 502), or a 408/429. A wrong API_URL, a refused
 * token (its 429 too_many_failed_auth included), any other 4xx and Ctrl-C will not, and end the loop
 * at once.
 */
export function isTransient(err: unknown): err is NetworkError | ApiError {
  if (err instanceof NetworkError) return true;
  return (
    err instanceof ApiError && !err.tokenRefused && (err.status >= 500 || RETRIED_4XX.includes(err.status))
  );
}

/**
 * Pure: how long to wait before trying again after `failures` (1 or more) polls in a row failed
 * with `err`: the loop's own period, doubled at each failure up to RETRY_BACKOFF_CAP_MS (or the
 * period, when that is longer), and never less than the server's Retry-After (capped at
 * RETRY_AFTER_CAP_MS).
 */
export function retryDelayMs(err: unknown, failures: number, periodMs: number, now: number): number {
  const backoff = Math.min(
    periodMs * 2 ** Math.max(0, Math.min(failures - 1, 30)),
    Math.max(periodMs, RETRY_BACKOFF_CAP_MS),
  );
  const asked = err instanceof ApiError ? parseRetryAfter(err.retryAfter, now) : undefined;
  return asked === undefined ? backoff : Math.max(backoff, Math.min(asked, RETRY_AFTER_CAP_MS));
}

/** Pure: a delay as a retrying note says it ("250 ms", "1.5 s", "30 s"). */
export function delayText(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${ms < 10_000 ? Math.round(ms / 100) / 10 : Math.round(ms / 1000)} s`;
}
