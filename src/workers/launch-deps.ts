import type { Job } from 'bullmq';
import type { CampaignStore } from '../shared/campaign-store.js';
import type { AppContext } from '../shared/context.js';
import type { CampaignStatus } from '../shared/cxone/wire.js';
import { isCxoneError } from '../shared/errors.js';
import type { LaunchStore } from '../shared/launch-store.js';
import { classifyError } from '../shared/retry/classify.js';
import { isLastAttempt } from './job-errors.js';
import { createScheduledCheckInterval } from './scheduled-check.js';
import { JOB_BACKOFF } from './worker-options.js';

/**
 * What every part of the launch worker shares: its dependencies, its actor in the trail, a job's
 * result, and how a failure is worded for the launch and its records.
 */

/** The fleet's identity in audit records and CXone history. */
export const ACTOR = 'worker:launch';

export type LaunchJobResult =
  | { outcome: 'skipped'; reason: string }
  | { outcome: 'succeeded'; campaignId: string; campaignStatus: CampaignStatus; activateAt?: string };

export interface Deps {
  ctx: AppContext;
  launches: LaunchStore;
  campaigns: CampaignStore;
  /** The worker's lock duration, for extending the lock when checking it is still held. */
  lockMs: number;
  /** How often a scheduled campaign is looked at before its start (scheduled-check.ts). */
  scheduledCheckInterval?: () => Promise<number>;
}

export const checkIntervalOf = (deps: Deps): Promise<number> =>
  (deps.scheduledCheckInterval ?? createScheduledCheckInterval(deps.ctx))();

/** Whether BullMQ will give up on the job after this failure (so the launch must be recorded as failed). */
export function isFinalFailure(err: unknown, job: Pick<Job, 'attemptsMade' | 'opts'>): boolean {
  return isLastAttempt(classifyError(err, { attempt: job.attemptsMade + 1, backoff: JOB_BACKOFF }), job);
}

export function describe(err: unknown): string {
  const decision = classifyError(err, { attempt: 1, backoff: JOB_BACKOFF });
  if (decision.kind === 'permanent') return decision.message;
  return err instanceof Error ? err.message : String(err);
}

/**
 * Why a launch failed for good. A failure that was worth retrying says that the retries ran out, so
 * "CXone answered 503" does not read as the first and only try, and what to do about it.
 */
export function finalReason(
  err: unknown,
  attempt: number,
  remedy = 'once CXone answers again, submit the launch again',
): string {
  const decision = classifyError(err, { attempt: 1, backoff: JOB_BACKOFF });
  if (decision.kind === 'permanent') return decision.message;
  const message = err instanceof Error ? err.message : String(err);
  const tries = attempt === 1 ? '1 attempt' : `${attempt} attempts`;
  // Only CXone's failures are CXone's to fix; anything else (Redis, a bug) is for the logs.
  const advice = isCxoneError(err) ? remedy : 'see the worker logs for this error';
  return `${message} (gave up after ${tries}; ${advice})`;
}
