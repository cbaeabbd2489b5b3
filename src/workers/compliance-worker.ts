import { Worker, type Job } from 'bullmq';
import { unknownJob } from './job-errors.js';
import { timedProcessor } from './job-timing.js';
import { processWindowJob, WINDOW_JOB } from '../shared/compliance/enforcement.js';
import type { AppContext } from '../shared/context.js';
import { QUEUES } from '../shared/keys.js';
import { workerOptions } from './worker-options.js';

/**
 * The 'compliance' queue's worker: calling-window enforcement jobs (one delayed job per watched
 * campaign, see compliance/enforcement.ts). The abandonment guard runs inside the poll worker, right
 * after each statistics poll, so it has no job of its own here.
 */
export function createComplianceWorker(ctx: AppContext): Worker {
  const log = ctx.logger.child({ component: 'compliance-worker' });
  const workerCtx: AppContext = { ...ctx, logger: log };
  return new Worker(
    QUEUES.compliance,
    timedProcessor(QUEUES.compliance, async (job: Job, token?: string) => {
      if (job.name !== WINDOW_JOB) throw unknownJob(log, job, WINDOW_JOB);
      return processWindowJob(workerCtx, job, token);
    }),
    workerOptions(ctx, QUEUES.compliance),
  );
}
