import type { DefaultJobOptions, Job, Worker, WorkerOptions } from 'bullmq';
import type { AppContext } from '../shared/context.js';
import type { QueueName } from '../shared/keys.js';
import { DEFAULT_BACKOFF, type BackoffPolicy } from '../shared/retry/backoff.js';
import { classifyError } from '../shared/retry/classify.js';

/**
 * BullMQ settings shared by every worker, sized for CXone calls (see docs/limiter.md, "Stalls").
 *
 * Retries: jobs use the custom backoff type below; the worker's backoffStrategy looks at the error
 * that failed the attempt and waits full-jitter exponential backoff for transient causes (5xx,
 * timeouts, resets). 429s never reach it (job-errors.ts puts those back without spending an
 * attempt) and permanent causes fail as UnrecoverableError without retrying.
 */
export const CXONE_BACKOFF_TYPE = 'cxone-jitter';

/** Transient retries: first retry within 1 s, doubling, never more than 60 s apart. */
export const JOB_BACKOFF: BackoffPolicy = DEFAULT_BACKOFF;

/** Attempts per queue (first run included). Polls are periodic, so the next tick replaces a lost one. */
const ATTEMPTS: Record<QueueName, number> = {
  launch: 10,
  adjust: 10,
  compliance: 10,
  poll: 3,
  webhook: 8,
  // History imports: a history that does not hold the version yet is waited for, with backoff.
  audit: 8,
};

/** Attempts per poll job; poll schedulers store it on their template (shared/polling/schedulers.ts). */
export const POLL_ATTEMPTS = ATTEMPTS.poll;

/** Finished jobs are kept bounded by age and count; failed ones longer, so operators can read why. */
export const KEEP_COMPLETED = { age: 24 * 3600, count: 1_000 } as const;
export const KEEP_FAILED = { age: 14 * 24 * 3600, count: 10_000 } as const;

/**
 * Poll jobs are one tick of a scheduler, several per campaign per minute: a completed one holds
 * nothing the campaign record does not (its stats are stored there), so only the last hundred are
 * kept to show in Bull Board, and a few hundred failed ones are enough to read why polling fails.
 * Set on the poll worker rather than on each job, so the options every scheduler and its next job
 * store stay small.
 */
export const KEEP_POLLS_COMPLETED = { age: 3600, count: 100 } as const;
export const KEEP_POLLS_FAILED = { age: 24 * 3600, count: 500 } as const;

/**
 * The longest a single CXone call can legitimately take inside a job: a token fetch, the call, and
 * one retry after a 401, each bounded by the HTTP timeout. Lock settings are derived from it.
 */
export function slowestCxoneCallMs(timeoutMs: number): number {
  return 3 * timeoutMs;
}

/**
 * Entries kept in each queue's events stream (BullMQ's default is 10 000). Nothing in the fleet reads
 * these streams back (a QueueEvents listener reads them live). The poll and compliance queues write
 * entries for every active campaign over and over (each poll tick, each window transition), so at
 * fleet size 10 000 entries hold only seconds to hours of history and cost ~1 MB each for nothing.
 */
export function queueEventsMaxLen(queue: QueueName): number {
  return queue === 'poll' || queue === 'compliance' ? 1_000 : 10_000;
}

/**
 * Job options for a queue: bounded attempts with the CXone-aware backoff. Retention of finished jobs
 * (failed ones visible in Bull Board for 14 days, at most 10 000 per queue; poll jobs less, see
 * KEEP_POLLS_COMPLETED) is set once on each queue's worker (workerOptions), which BullMQ applies to
 * every job that names none: a copy in each job's stored options would only cost Redis memory for
 * every job an active campaign keeps waiting (its window job, its next poll).
 */
export function defaultJobOptions(queue: QueueName): DefaultJobOptions {
  return { attempts: ATTEMPTS[queue], backoff: { type: CXONE_BACKOFF_TYPE } };
}

/**
 * A worker-level backoff strategy for CXONE_BACKOFF_TYPE. It receives the error that failed the
 * attempt, so a thrown CxoneRateLimitError (a caller that did not use rethrowForBullmq) still waits
 * for CXone's Retry-After instead of a blind exponential delay.
 */
export function makeBackoffStrategy(policy: BackoffPolicy = JOB_BACKOFF, random: () => number = Math.random) {
  return (attemptsMade: number, _type?: string, err?: Error): number => {
    const decision = classifyError(err, { attempt: attemptsMade, backoff: policy, random });
    switch (decision.kind) {
      case 'rate_limited':
      case 'interrupted':
      case 'transient':
        return decision.delayMs;
      case 'permanent':
        // Reaching here means a permanent error was thrown without UnrecoverableError; -1 tells
        // BullMQ not to retry it.
        return -1;
    }
  };
}

export const cxoneBackoffStrategy = makeBackoffStrategy();

/**
 * Options for a BullMQ Worker on `queue`. The worker shares ctx.redis for its ordinary commands
 * (BullMQ duplicates it for the blocking connection), so closing the context closes everything.
 */
export function workerOptions(
  ctx: AppContext,
  queue: QueueName,
  overrides: Partial<WorkerOptions> = {},
): WorkerOptions {
  // A missed lock renewal (a Redis blip, a long GC pause) must not hand a job whose CXone call is
  // still in flight to another worker: the lock outlives the slowest call, with a 30 s floor.
  const lockDuration = Math.max(30_000, slowestCxoneCallMs(ctx.config.cxone.timeoutMs));
  return {
    connection: ctx.redis,
    prefix: ctx.keys.prefix,
    concurrency: ctx.config.workerConcurrency,
    lockDuration,
    stalledInterval: lockDuration,
    // A job that stalls a third time (its worker died three times while running it) is failed rather
    // than redelivered forever (BullMQ fails it once its stalls exceed this count); every effect it
    // has on CXone is idempotent, so the two redeliveries before that are safe.
    maxStalledCount: 2,
    // queue.rateLimit() (used on CXone 429s) is only honoured when the worker has a limiter; the
    // ceiling is high enough never to throttle by itself — the fleet limiter does the real work.
    limiter: { max: 1_000_000, duration: 1_000 },
    // After a long Retry-After the worker re-checks the queue's rate limit at least this often.
    maximumRateLimitDelay: 30_000,
    removeOnComplete: queue === 'poll' ? { ...KEEP_POLLS_COMPLETED } : { ...KEEP_COMPLETED },
    removeOnFail: queue === 'poll' ? { ...KEEP_POLLS_FAILED } : { ...KEEP_FAILED },
    settings: { backoffStrategy: cxoneBackoffStrategy },
    name: `${queue}-${process.pid}`,
    ...overrides,
  };
}

/**
 * Closes workers gracefully: stop taking jobs, let active ones finish for up to timeoutMs, then force.
 * A forced close then calls `interrupt` (the process passes its context's releaseCxoneWaits): the
 * jobs waiting for a CXone permit stop waiting and put themselves back, due at once and without
 * spending an attempt (job-errors.ts putBackIfInterrupted), which is waited for up to
 * INTERRUPTED_SETTLE_MS, before the caller closes Redis under them. Jobs still running after that
 * (a CXone call in flight) are abandoned: their locks lapse and another worker takes them over after
 * the stalled check, which is safe because every CXone effect is idempotent. Resolves once every
 * worker is closed; never rejects.
 *
 * `redisAnswers` (the process's Redis connection is ready): while it says no for REDIS_DOWN_FORCE_MS,
 * nothing is waited for. A job cannot record its end without Redis, and BullMQ's pause waits for its
 * blocking fetch, which never returns while Redis is down: the whole deadline was spent on a drain
 * that could not happen, past a supervisor's grace period (compose's stop_grace_period).
 *
 * BullMQ's close() has no deadline, and a later close(true) only returns the first call's promise,
 * so the waiting is done with pause() (which waits for active jobs) and the close is chosen after.
 */
export async function closeWorkers(
  workers: readonly Worker[],
  timeoutMs: number,
  logger?: AppContext['logger'],
  interrupt?: () => Promise<unknown>,
  redisAnswers?: () => boolean,
): Promise<{ forced: boolean }> {
  let timer: NodeJS.Timeout | undefined;
  let watch: NodeJS.Timeout | undefined;
  const drained = Promise.allSettled(workers.map((w) => w.pause())).then(() => 'drained' as const);
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), Math.max(0, timeoutMs));
  });
  const redisDown = new Promise<'redis-down'>((resolve) => {
    if (!redisAnswers) return;
    let downSince: number | undefined;
    const look = () => {
      if (redisAnswers()) downSince = undefined;
      else if ((downSince ??= Date.now()) + REDIS_DOWN_FORCE_MS <= Date.now()) return resolve('redis-down');
      watch = setTimeout(look, REDIS_DOWN_POLL_MS);
    };
    look();
  });
  const outcome = await Promise.race([drained, deadline, redisDown]);
  clearTimeout(timer);
  clearTimeout(watch);
  const forced = outcome !== 'drained';
  if (outcome === 'timeout') {
    logger?.warn(
      { timeoutMs, workers: workers.map((w) => w.name) },
      'workers did not stop before the shutdown deadline (jobs still running, or Redis not answering); closing them forcefully',
    );
  } else if (outcome === 'redis-down') {
    logger?.warn(
      { workers: workers.map((w) => w.name) },
      'Redis is not answering: no job can record its end, so the workers are closed now without waiting; jobs they held are taken over once it answers',
    );
  }
  await Promise.allSettled(workers.map((w) => w.close(forced)));
  if (forced && interrupt) {
    await interrupt().catch(() => undefined);
    // Without Redis an interrupted job cannot put itself back: nothing to wait for.
    if (outcome !== 'redis-down') {
      let settleTimer: NodeJS.Timeout | undefined;
      await Promise.race([
        drained,
        new Promise<void>((resolve) => {
          settleTimer = setTimeout(resolve, INTERRUPTED_SETTLE_MS);
        }),
      ]);
      clearTimeout(settleTimer);
    }
  }
  return { forced };
}

/** How long Redis must be seen not answering before a shutdown stops waiting for the workers' drain. */
export const REDIS_DOWN_FORCE_MS = 1_000;
const REDIS_DOWN_POLL_MS = 100;

/** How long a forced close waits for the jobs it interrupted to put themselves back. */
export const INTERRUPTED_SETTLE_MS = 2_000;

/** The 1-based number of the attempt currently running, for error context and logs. */
export function currentAttempt(job: Pick<Job, 'attemptsMade'>): number {
  return job.attemptsMade + 1;
}
