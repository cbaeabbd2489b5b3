/**
 * Whether CXone has been answering this process. A cached token and a host that accepts TCP say
 * nothing about an API answering 503 to everything; the calls this process makes anyway do, at no
 * cost in rate budget. Pure bookkeeping over timestamps: the HTTP layer reports, readiness reads.
 */
export interface CxoneReachability {
  /** CXone answered (any status below 500: a 4xx, a 429 too, is CXone answering). */
  answered(atMs: number): void;
  /** No answer (network error, timeout) or a 5xx; `why` is short and carries no secret. */
  failed(atMs: number, why: string): void;
  /** Why this process should not be taken as able to reach CXone now, or null. */
  problem(nowMs: number): string | null;
}

/**
 * Whether a call to `endpoint` says anything about this process being able to serve: the statistics
 * and history reads do not. They are polls, most of a fleet's calls, and an outage of CXone's
 * statistics alone must not take an API out of rotation whose launches, pauses and resumes (campaign
 * reads and writes, the token) still go through.
 */
export function judgesReachability(endpoint: string): boolean {
  return !endpoint.includes('/outbound/campaigns/:id/');
}

/** Calls in a row that must fail before the process reads as unable to reach CXone. */
export const UNREACHABLE_AFTER_FAILURES = 3;
/**
 * How long after its last failed call the process keeps reading as unable to reach CXone. Bounded
 * so that a process taken out of rotation for it, which then makes no calls, is tried again.
 */
export const UNREACHABLE_FOR_MS = 60_000;

export function createCxoneReachability(opts: { failures?: number; forMs?: number } = {}): CxoneReachability {
  const threshold = opts.failures ?? UNREACHABLE_AFTER_FAILURES;
  const forMs = opts.forMs ?? UNREACHABLE_FOR_MS;
  let failuresInARow = 0;
  let lastFailureAt = -Infinity;
  let lastWhy = '';
  return {
    answered() {
      failuresInARow = 0;
    },
    failed(atMs, why) {
      // A quiet stretch ended the last run of failures: this one starts a new run.
      if (atMs - lastFailureAt > forMs) failuresInARow = 0;
      failuresInARow++;
      lastFailureAt = Math.max(lastFailureAt, atMs);
      lastWhy = why;
    },
    problem(nowMs) {
      if (failuresInARow < threshold || nowMs - lastFailureAt > forMs) return null;
      const ago = Math.max(0, Math.round((nowMs - lastFailureAt) / 1000));
      return (
        `CXone did not answer this process's last ${failuresInARow} calls ` +
        `(the latest ${ago} s ago: ${lastWhy})`
      );
    },
  };
}
