import type { CallPriority } from '../cxone/api.js';
import { limiterOperatorGaveUp, limiterOperatorWait, limiterOperatorYields } from '../metrics.js';
import {
  LimiterAbortedError,
  LimiterClosedError,
  LimiterUnavailableError,
  LimiterWaitExceededError,
  type LimiterWaitReason,
} from './types.js';

/**
 * What the metrics of operators' calls count (docs/limiter.md, "Operators' calls before jobs"). In
 * process only: an operator wants to see the precedence at work, and a Redis command per count would
 * cost the jobs' path what the precedence saves the operators.
 */

/** How an operator's call got its slot: ahead of the jobs, or, past the operators' share, queued with them. */
export type OperatorPath = 'ahead_of_jobs' | 'share_spent';

/**
 * Why an operator's call ended without a slot. `budget`/`penalty`: the limiter refused the wait (the
 * API answers 503 upstream_unavailable); `redis_unavailable`: Redis was down (503 redis_unavailable);
 * `aborted`: its caller stopped waiting; `closed`: the process is shutting down; `error`: anything else.
 */
export type OperatorGiveUpReason = LimiterWaitReason | 'redis_unavailable' | 'aborted' | 'closed' | 'error';

/**
 * Whether a call is an operator's, whose wait and outcome are counted (pure): a bounded control call
 * (an HTTP client waits) outside lease mode, where operatorLoop serves it; a job's call is not counted.
 */
export function isOperatorCall(leaseSlots: number, priority: CallPriority, maxWaitMs: number): boolean {
  return leaseSlots <= 1 && priority === 'control' && Number.isFinite(maxWaitMs);
}

/** The reason label for the error an operator's wait ended with (pure; a fixed set of values). */
export function operatorGiveUpReason(err: unknown): OperatorGiveUpReason {
  if (err instanceof LimiterWaitExceededError) return err.reason;
  if (err instanceof LimiterUnavailableError) return 'redis_unavailable';
  if (err instanceof LimiterAbortedError) return 'aborted';
  if (err instanceof LimiterClosedError) return 'closed';
  return 'error';
}

/** Counts one endpoint's operators' calls; the label objects are built once per endpoint. */
export class OperatorMetrics {
  private readonly endpointLabels: { endpoint: string };

  constructor(private readonly endpoint: string) {
    this.endpointLabels = { endpoint };
  }

  /** An operator's call got its slot after `waitedMs`. */
  served(path: OperatorPath, waitedMs: number): void {
    limiterOperatorWait.observe({ endpoint: this.endpoint, path }, Math.max(0, waitedMs) / 1000);
  }

  /** An operator's call ended without a slot. */
  gaveUp(err: unknown): void {
    limiterOperatorGaveUp.inc({ endpoint: this.endpoint, reason: operatorGiveUpReason(err) });
  }

  /** A call (a job's, on the hot path) yielded its slot to a waiting operator's call: one increment, nothing else. */
  yielded(): void {
    limiterOperatorYields.inc(this.endpointLabels);
  }
}
