/**
 * Exponential backoff with "full jitter" (AWS architecture blog, 2015): the delay for attempt n is
 * uniformly random in [0, min(cap, base · 2^(n-1))]. Spreading retries over the whole interval,
 * rather than around its end, is what keeps a fleet that failed together from retrying together.
 */
export interface BackoffPolicy {
  /** Ceiling of the first attempt's delay. */
  baseMs: number;
  /** No delay is ever longer than this. */
  capMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1_000, capMs: 60_000 };

/** Ceiling of the jitter interval for a 1-based attempt number; grows exponentially, bounded by capMs. */
export function backoffCeilingMs(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  const n = Number.isFinite(attempt) ? Math.max(1, Math.floor(attempt)) : 1;
  // 2^(n-1) overflows to Infinity long before n reaches Number.MAX_SAFE_INTEGER; min() handles it.
  return Math.min(policy.capMs, policy.baseMs * 2 ** (n - 1));
}

/**
 * Delay before retry number `attempt` (1 = first retry). `random` returns a value in [0, 1) and is
 * injectable so tests can pin it.
 */
export function fullJitterDelayMs(
  attempt: number,
  policy: BackoffPolicy = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  return Math.floor(random() * backoffCeilingMs(attempt, policy));
}
