import type { Worker } from 'bullmq';
import type { AppContext } from '../shared/context.js';
import { createLogThrottle } from '../shared/log-throttle.js';
import { isRedisConnectionError, redisStateRefusal } from '../shared/redis.js';
import { failedForStallLimit } from './job-errors.js';
import { createLaunchWorker } from './launch-worker.js';
import { withLaunchSweep } from './launch-sweep.js';
import { createAdjustWorker } from './adjust-worker.js';
import { createPollWorker } from './poll-worker.js';
import { createComplianceWorker } from './compliance-worker.js';
import { createWebhookWorker } from './webhook-worker.js';
import { createAuditWorker } from './audit-worker.js';
import { closeWorkers } from './worker-options.js';
import { createRedisOutageTracker } from './redis-outage.js';
import { createRedisRefusalTracker, REFUSAL_LOG_INTERVAL_MS, type RefusalLine } from './redis-refusal.js';
// ── Worker modules (one import per worker file; keep in step with WORKER_FACTORIES below) ──

export type WorkerFactory = (ctx: AppContext) => Worker;

/**
 * Every worker this process runs. To plug a worker in, add its import above and one line here
 * (owner in parentheses).
 */
export const WORKER_FACTORIES: ReadonlyArray<readonly [name: string, factory: WorkerFactory]> = [
  // (H3) launch + delayed activation, with the sweep that settles launches whose failure went unrecorded
  ['launch', (ctx) => withLaunchSweep(ctx, createLaunchWorker(ctx))],
  ['adjust', createAdjustWorker], // (H5) campaign commands: versioned writes, rebase, rollback, per-campaign lock
  ['poll', createPollWorker], // (H6) stats polls: efficiency, abandonment guard, pacing
  ['compliance', createComplianceWorker], // (H7) calling-window enforcement (one delayed job per campaign)
  ['webhook', (ctx) => createWebhookWorker(ctx)], // (H4) signed webhook delivery, retries, dead letters
  ['audit', createAuditWorker], // (H4) CXone history imports for campaigns changed outside the orchestrator
  // ── end of worker list ──
];

export interface RunningWorkers {
  workers: readonly Worker[];
  /**
   * Stops taking jobs, waits for active ones up to timeoutMs, then forces; `interrupt` then releases
   * the jobs waiting for a CXone permit, which put themselves back (closeWorkers). Never rejects.
   */
  close(timeoutMs: number, interrupt?: () => Promise<unknown>): Promise<void>;
}

/** A repeated worker error is logged at most this often (per worker and message). */
const ERROR_LOG_INTERVAL_MS = 5_000;

/**
 * Starts every worker against ctx. A worker's 'error' event is logged, not thrown: BullMQ reconnects
 * by itself, and an unhandled 'error' would crash the process. Redis out of reach is an outage, not a
 * bug: one warning for the process (a reminder each minute it lasts) and a line when it is back; any
 * other error is logged at error level, with its stack.
 */
export async function startWorkers(
  ctx: AppContext,
  factories: ReadonlyArray<readonly [string, WorkerFactory]> = WORKER_FACTORIES,
  opts: { refusalIntervalMs?: number } = {},
): Promise<RunningWorkers> {
  const log = ctx.logger.child({ component: 'workers' });
  const throttle = createLogThrottle(ERROR_LOG_INTERVAL_MS);
  const outage = createRedisOutageTracker();
  const refusalIntervalMs = opts.refusalIntervalMs ?? REFUSAL_LOG_INTERVAL_MS;
  const refusals = createRedisRefusalTracker(refusalIntervalMs);
  const logRefusal = (line: RefusalLine, worker?: string) =>
    log.error(
      {
        err: line.refusal,
        ...(worker ? { worker } : {}),
        refusedForMs: line.refusedForMs,
        ...(line.suppressed > 0 ? { suppressed: line.suppressed } : {}),
      },
      // The replica hint is READONLY's alone: on an OOM or LOADING line it sent the operator to REDIS_URL.
      `Redis refuses the workers' commands: jobs wait until it takes them again (${
        line.state === 'READONLY' ? 'READONLY: REDIS_URL names a replica or a demoted primary' : line.state
      })`,
    );
  // The repeats of a minute are logged as it ends, and a state not met for a minute as over: waiting
  // for the next refusal to carry them lost them when none came (the state had passed).
  const sweep = setInterval(
    () => {
      const { still, ended } = refusals.sweep();
      for (const line of still) logRefusal(line);
      for (const line of ended) {
        log.info(
          {
            state: line.state,
            refusedForMs: line.refusedForMs,
            ...(line.suppressed > 0 ? { suppressed: line.suppressed } : {}),
          },
          `Redis takes the workers' commands again: no ${line.state} refusal for ${Math.round(refusalIntervalMs / 1000)} s`,
        );
      }
    },
    Math.min(5_000, Math.max(1, Math.floor(refusalIntervalMs / 4))),
  );
  sweep.unref();
  const workers: Worker[] = [];
  for (const [name, factory] of factories) {
    const worker = factory(ctx);
    worker.on('error', (err) => {
      if (isRedisConnectionError(err)) {
        const line = outage.connectionError(name);
        if (line) {
          const { queues, downForMs, suppressed } = line;
          log.warn(
            { err: err.message, queues, downForMs, ...(suppressed > 0 ? { suppressed } : {}) },
            'Redis is unreachable: these queues take no jobs until it answers again (reconnecting)',
          );
        }
        return;
      }
      // A Redis refusing every command for a state it is in (READONLY while a failover demotes the
      // primary, OOM, LOADING) fails each worker's every poll: one line for the process per state and
      // minute, naming it, not one per worker every few seconds (~70 a minute burying the cause).
      const refusal = redisStateRefusal(err);
      if (refusal) {
        const line = refusals.refused(refusal);
        if (line) logRefusal(line, name);
        return;
      }
      // Another error may repeat too (a script Redis refuses on every poll for work): one line (with
      // its stack) per worker and message every few seconds, naming how many were left out.
      throttle(`${name}:${err.message}`, (suppressed) =>
        log.error({ err, worker: name, ...(suppressed > 0 ? { suppressed } : {}) }, 'worker error'),
      );
    });
    // Either of the worker's connections ready again (BullMQ's own 'ready' fires once, at start).
    worker.getBackend().on('ready', () => {
      const line = outage.ready(name);
      if (line) {
        log.info(
          { queues: line.queues, downForMs: line.downForMs },
          'Redis answers again: these queues take jobs again',
        );
      }
    });
    // A job whose process died (kill -9, OOM) or hung past its lock is taken back by whichever
    // worker's stalled check finds it: without a line here the only trace of the crash is a launch or
    // command that took a minute longer than usual. BullMQ reports a job's third stall here too
    // (more than maxStalledCount): that job is failed when next taken, which 'failed' reports.
    worker.on('stalled', (jobId, prev) =>
      log.warn(
        { worker: name, jobId, prev },
        'job stalled: the process running it stopped renewing its lock (died or hung); it is back in the queue for another run',
      ),
    );
    // That third stall's job is failed when next taken, without running (BullMQ's deferred failure,
    // "job stalled more than allowable limit"): the launch, adjust, compliance and webhook workers
    // also record or repair it in their own terms, but for any other queue nothing else said that a
    // job the stall line had called back in the queue will never run again.
    worker.on('failed', (job, err) => {
      if (!failedForStallLimit(job, err)) return;
      log.error(
        {
          worker: name,
          jobId: job.id,
          jobName: job.name,
          stalls: job.stalledCounter,
          maxStalledCount: worker.opts.maxStalledCount,
          err: err.message,
        },
        "job failed for good without running again: it stalled more often than allowed (its runs kept dying or hanging; see the 'job stalled' lines before); it stays in the failed set",
      );
    });
    workers.push(worker);
  }
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  log.info({ workers: factories.map(([name]) => name) }, 'workers started');
  let closing: Promise<void> | undefined;
  return {
    workers,
    close(timeoutMs: number, interrupt?: () => Promise<unknown>) {
      clearInterval(sweep);
      closing ??= closeWorkers(workers, timeoutMs, log, interrupt, () => ctx.redis.status === 'ready').then(
        ({ forced }) => {
          log.info({ forced }, 'workers stopped');
        },
      );
      return closing;
    },
  };
}
