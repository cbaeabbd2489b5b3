import {
  DelayedError,
  RateLimitError,
  UnrecoverableError,
  WaitingChildrenError,
  type Job,
  type Queue,
} from 'bullmq';
import type { AppContext } from '../shared/context.js';
import { isCxoneError } from '../shared/errors.js';
import { classifyError, type RetryDecision } from '../shared/retry/classify.js';
import { JOB_BACKOFF } from './worker-options.js';

/**
 * Whether `err` is BullMQ's own failure of a job it did not run — its stall limit ("job stalled more
 * than allowable limit", kept in the job's `deferredFailure`) — rather than a failure some run threw
 * and recorded. Pure.
 */
export function failedForStallLimit<J extends Pick<Job, 'deferredFailure'>>(
  job: J | undefined,
  err: Error,
): job is J {
  const failure = job?.deferredFailure;
  return Boolean(failure) && err.message === failure;
}

/**
 * Whether BullMQ gives up on the job after a failure so classified: at once when permanent, never
 * for a 429 or a shutdown's interruption (put back without spending an attempt), after the last
 * attempt otherwise.
 */
export function isLastAttempt(decision: RetryDecision, job: Pick<Job, 'attemptsMade' | 'opts'>): boolean {
  if (decision.kind === 'permanent') return true;
  if (decision.kind === 'rate_limited' || decision.kind === 'interrupted') return false;
  return job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}

/**
 * The refusal of a job whose name this queue's worker does not know (a hand-added job, or one a newer
 * release enqueued during a rolling deploy): failed for good, so it stays in the queue's failed set
 * with its reason, where an operator sees it in Bull Board and can retry it once a worker that knows
 * it runs. Completing it quietly, as these workers once did, lost it without a trace but a log line.
 */
export function unknownJob(
  log: { warn(obj: object, msg: string): void },
  job: Pick<Job, 'id' | 'name' | 'queueName'>,
  known: string,
): UnrecoverableError {
  log.warn({ jobId: job.id, name: job.name, queue: job.queueName }, 'unknown job name; failed');
  return new UnrecoverableError(
    `unknown ${job.queueName} job name ${JSON.stringify(job.name)}: this worker runs only "${known}" jobs`,
  );
}

/** Errors BullMQ itself interprets; they pass through untouched. */
function isBullmqControlError(err: unknown): err is Error {
  return (
    err instanceof UnrecoverableError ||
    err instanceof RateLimitError ||
    err instanceof DelayedError ||
    err instanceof WaitingChildrenError ||
    (err instanceof Error &&
      ['UnrecoverableError', 'RateLimitError', 'DelayedError', 'WaitingChildrenError'].includes(err.name))
  );
}

/**
 * The `outcome` label of `cxo_job_duration_seconds` for a run that threw what BullMQ then sees:
 * `delayed` when the job was only put back to run later without spending an attempt — BullMQ's delay
 * or rate limit (a scheduled launch's next look, a moved activation, a window job's next transition,
 * a CXone 429 turned into a queue rate limit by `rethrowForBullmq`) — so that `outcome="failed"`
 * counts the runs that failed (a 429 BullMQ retries as an ordinary failure included).
 */
export function thrownOutcome(err: unknown): 'delayed' | 'failed' {
  const putBack =
    err instanceof DelayedError ||
    err instanceof RateLimitError ||
    (err instanceof Error && (err.name === 'DelayedError' || err.name === 'RateLimitError'));
  return putBack ? 'delayed' : 'failed';
}

function logFields(err: unknown, job: Job, queue: Queue, decision: RetryDecision): Record<string, unknown> {
  return {
    queue: queue.name,
    jobId: job.id,
    jobName: job.name,
    attempt: job.attemptsMade + 1,
    attempts: job.opts.attempts ?? 1,
    decision: decision.kind,
    // A delay only where there is something to wait for: not once BullMQ has given the job up.
    ...(decision.kind === 'permanent' || isLastAttempt(decision, job) ? {} : { delayMs: decision.delayMs }),
    err: isCxoneError(err)
      ? err.toJSON()
      : err instanceof Error
        ? { name: err.name, message: err.message }
        : err,
  };
}

/**
 * Turns whatever a job's processor caught into the BullMQ behaviour its cause calls for, and throws:
 * - CXone 429 → `queue.rateLimit(Retry-After)` then RateLimitError: the job goes back to waiting
 *   without spending an attempt (attemptsMade is unchanged; bullmq#1571), and the whole queue pauses
 *   for that long on every worker (the client has already penalized the endpoint in the fleet limiter);
 * - this process shutting down (the fleet limiter closed under a call waiting for its permit) → the
 *   job is moved back by the run itself (moveToDelayed, due at once, attempt not spent) then
 *   DelayedError: past the shutdown deadline BullMQ no longer records what a run throws, and the job
 *   would sit under its lock until the stalled check, each time counting towards maxStalledCount;
 * - 5xx, timeouts, resets, Redis blips, unknown errors → the original error, so BullMQ retries it
 *   with the jittered backoff of worker-options.ts, up to the job's attempts;
 * - 400/401/403/404/409/422, malformed responses, invalid job data → UnrecoverableError whose
 *   message says what to fix; the job lands in the failed set at once, visible in Bull Board.
 *
 * Use as the last line of a processor's catch: `return rethrowForBullmq(err, job, queue, ctx, token)`.
 * It is async because the queue-wide pause must be stored in Redis before the job is put back.
 */
export async function rethrowForBullmq(
  err: unknown,
  job: Job,
  queue: Queue,
  ctx: Pick<AppContext, 'logger'>,
  token?: string,
): Promise<never> {
  if (isBullmqControlError(err)) throw err;
  await putBackIfInterrupted(err, job, token, ctx.logger);

  // Consecutive 429s without Retry-After back off further each time; attemptsStarted counts them
  // because rate-limited runs do not increase attemptsMade.
  const attempt = Math.max(1, (job.attemptsStarted ?? 0) || job.attemptsMade + 1);
  const decision = classifyError(err, { attempt, backoff: JOB_BACKOFF });

  switch (decision.kind) {
    case 'interrupted':
      // Not put back (no token, or Redis refused): an ordinary failure, as before.
      throw err instanceof Error ? err : new Error(String(err));
    case 'rate_limited': {
      try {
        await queue.rateLimit(decision.delayMs);
      } catch (redisErr) {
        // Without the queue-wide pause the job would be retried at once; fall back to an ordinary
        // retry, which waits out the backoff (and spends an attempt, the lesser evil).
        ctx.logger.warn(
          { ...logFields(err, job, queue, decision), redisErr: (redisErr as Error).message },
          'could not store the queue rate limit; retrying the job with backoff instead',
        );
        throw err instanceof Error ? err : new Error(String(err));
      }
      ctx.logger.info(
        logFields(err, job, queue, decision),
        'CXone rate limit: job put back without spending an attempt',
      );
      throw new RateLimitError();
    }
    case 'transient': {
      ctx.logger.warn(
        logFields(err, job, queue, decision),
        isLastAttempt(decision, job)
          ? 'transient failure on the last attempt; the job has failed (failed set)'
          : 'transient failure; the job will be retried with backoff',
      );
      throw err instanceof Error ? err : new Error(String(err));
    }
    case 'permanent': {
      ctx.logger.warn(logFields(err, job, queue, decision), 'permanent failure; the job will not be retried');
      throw new UnrecoverableError(decision.message);
    }
  }
}

/**
 * A run this process's shutdown stopped before its CXone call (classifyError: `interrupted`) goes
 * back to the queue, due at once and without spending an attempt, so that another process runs it
 * (BullMQ's manual delay: moveToDelayed with the run's token, then DelayedError). The run does it
 * itself because past the shutdown deadline the worker is closed and BullMQ records nothing of
 * what its processor throws. Returns (without doing anything) for any other error, or when the job
 * could not be moved (no token; Redis refused): the caller then throws as it would have.
 */
export async function putBackIfInterrupted(
  err: unknown,
  job: Job,
  token: string | undefined,
  log: Pick<AppContext['logger'], 'info' | 'warn'>,
): Promise<void> {
  if (isBullmqControlError(err) || classifyError(err).kind !== 'interrupted' || token === undefined) return;
  const fields = { queue: job.queueName, jobId: job.id, jobName: job.name, attempt: job.attemptsMade + 1 };
  try {
    await job.moveToDelayed(Date.now(), token);
  } catch (moveErr) {
    log.warn(
      { ...fields, moveErr: (moveErr as Error).message },
      'could not put back a job this shutdown interrupted; the stalled check hands it over once its lock lapses',
    );
    return;
  }
  log.info(fields, 'shutting down: job put back for another worker without spending an attempt');
  throw new DelayedError();
}
