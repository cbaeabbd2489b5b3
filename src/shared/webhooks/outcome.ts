import { parseRetryAfter } from '../retry-after.js';

/**
 * What one delivery attempt's result means for the event. Pure: the worker feeds it the response
 * status (or the network error) and acts on the verdict.
 */
export type DeliveryVerdict =
  | { kind: 'delivered' }
  /** 410 Gone: the receiver asks us to stop; the destination is disabled until an operator re-enables it. */
  | { kind: 'disable' }
  /** Worth trying again; `retryAfterMs` when the receiver said when (408/429/502/503/504 with Retry-After). */
  | {
      kind: 'retry';
      cause: 'rate_limited' | 'unavailable' | 'server_error' | 'network_error';
      retryAfterMs?: number;
    }
  /** Will fail the same way every time until someone changes something: straight to the dead letters. */
  | { kind: 'dead'; cause: 'rejected' | 'redirect' };

export interface AttemptResult {
  /** The receiver's HTTP status, absent when it did not answer (refused, reset, timed out, or a proxy refused). */
  status?: number;
  retryAfter?: string | null;
}

/**
 * Answers that say "not now" rather than "never". 408 is among them although it is a 4xx: a server or
 * load balancer sends it when the request did not arrive in time, which says nothing about the event.
 */
const HONOURS_RETRY_AFTER = new Set([408, 429, 502, 503, 504]);

export function classifyDelivery(result: AttemptResult, nowMs: number): DeliveryVerdict {
  const { status } = result;
  if (status === undefined) return { kind: 'retry', cause: 'network_error' };
  if (status >= 200 && status < 300) return { kind: 'delivered' };
  if (status === 410) return { kind: 'disable' };
  if (HONOURS_RETRY_AFTER.has(status)) {
    const retryAfterMs = parseRetryAfter(result.retryAfter, nowMs);
    return {
      kind: 'retry',
      cause: status === 429 ? 'rate_limited' : 'unavailable',
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    };
  }
  if (status >= 500) return { kind: 'retry', cause: 'server_error' };
  if (status >= 300 && status < 400) return { kind: 'dead', cause: 'redirect' };
  return { kind: 'dead', cause: 'rejected' };
}
