import type { CallPriority } from '../cxone/api.js';
import type { CxoneEndpoint } from '../cxone/wire.js';
import type { Logger } from '../logger.js';

/**
 * Longest penalty one 429 can impose, and the longest Retry-After the CXone client reports: a
 * Retry-After of hours would be a CXone (or gateway, or clock) bug, not a plan, and a job's queue
 * pauses for what the error says.
 */
export const MAX_PENALTY_MS = 10 * 60_000;

export interface FleetLimiterOptions {
  redisUrl: string;
  /** Hash-tagged key prefix such as `{cxo}`; every limiter key lives under it. */
  prefix: string;
  /** Requests CXone allows per endpoint per window, for the whole fleet. */
  perWindow: number;
  windowMs: number;
  logger: Logger;
  /**
   * How long a waiting call rides out a Redis outage before failing with LimiterUnavailableError
   * (a transient error: jobs retry with backoff). Default 30 000.
   */
  redisOutageMaxMs?: number;
}

/**
 * The one gate every CXone call passes (see docs/limiter.md). A call is started only when the
 * fleet-wide budget of its endpoint allows it, control-plane calls going ahead of polls in every
 * process, and never while the endpoint is penalized after a 429.
 */
export interface FleetLimiter {
  /**
   * Waits for a permit for `endpoint`, then runs fn (the HTTP call) and returns what it returns.
   * Without options the wait is unbounded (jobs are meant to wait); with `maxWaitMs` or `signal` it
   * gives up and fn is never run.
   */
  schedule<T>(
    endpoint: CxoneEndpoint,
    priority: CallPriority,
    fn: () => Promise<T>,
    opts?: ScheduleOptions,
  ): Promise<T>;
  /** After a 429: no process starts a call to `endpoint` for the next `ms` milliseconds. */
  penalize(endpoint: CxoneEndpoint, ms: number): Promise<void>;
  close(): Promise<void>;
}

/** Bounds on one call's wait for a permit. */
export interface ScheduleOptions {
  /**
   * Longest the call may wait for its permit. A wait that cannot fit (the endpoint is penalized for
   * longer, or its window is full for longer) is refused at once rather than slept out; either way
   * the call is not made and schedule rejects with LimiterWaitExceededError.
   */
  maxWaitMs?: number | undefined;
  /** Aborting it ends the wait (the call is not made); schedule rejects with LimiterAbortedError. */
  signal?: AbortSignal | undefined;
}

/**
 * What kept a bounded call from its permit: a 429 penalty (CXone's own limit, still running fleet-wide),
 * or the fleet's own budget for the endpoint (its window full, or the slots queued ahead of the call
 * not reaching it in time) — load from the fleet's launches and polls, with no word from CXone.
 */
export type LimiterWaitReason = 'penalty' | 'budget';

/** The call could not get a permit within its maxWaitMs; it was not made. */
export class LimiterWaitExceededError extends Error {
  readonly code = 'ELIMITERWAIT';
  constructor(
    readonly endpoint: string,
    /** When a retry may succeed: the penalty or window wait still ahead (at least 1 s). */
    readonly retryAfterMs: number,
    readonly maxWaitMs: number,
    readonly reason: LimiterWaitReason,
  ) {
    super(
      `no permit for ${endpoint} within ${maxWaitMs} ms (${
        reason === 'penalty' ? "a CXone 429's penalty is running" : "the fleet's budget for it is in use"
      }); retry after ${retryAfterMs} ms`,
    );
    this.name = 'LimiterWaitExceededError';
  }
}

/** The caller aborted its wait for a permit (e.g. the HTTP client went away); the call was not made. */
export class LimiterAbortedError extends Error {
  readonly code = 'ELIMITERABORTED';
  constructor(readonly endpoint: string) {
    super(`the wait for a permit for ${endpoint} was aborted by the caller`);
    this.name = 'LimiterAbortedError';
  }
}

export class LimiterClosedError extends Error {
  constructor() {
    super('the CXone rate limiter is closed (the process is shutting down)');
    this.name = 'LimiterClosedError';
  }
}

/** Redis stayed unusable for longer than the limiter waits; the caller retries later. */
export class LimiterUnavailableError extends Error {
  readonly code = 'ELIMITERUNAVAILABLE';
  constructor(endpoint: string, options?: { cause?: unknown }) {
    super(`the fleet rate limiter for ${endpoint} cannot reach Redis`, options);
    this.name = 'LimiterUnavailableError';
  }
}
