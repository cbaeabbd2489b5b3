import { Worker, type Job } from 'bullmq';
import { thrownOutcome } from './job-errors.js';
import { processWindowJob, WINDOW_JOB } from '../shared/compliance/enforcement.js';
import type { AppContext } from '../shared/context.js';
import { QUEUES } from '../shared/keys.js';
import { jobDuration } from '../shared/metrics.js';
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
    async (job: Job, token?: string) => {
      if (job.name !== WINDOW_JOB) {
        log.warn({ jobId: job.id, name: job.name }, 'unknown compliance job; dropped');
        return { outcome: 'unknown_job' };
      }
      const end = jobDuration.startTimer({ queue: QUEUES.compliance });
      try {
        const result = await processWindowJob(workerCtx, job, token);
        end({ outcome: 'completed' });
        return result;
      } catch (err) {
        end({ outcome: thrownOutcome(err) });
        throw err;
      }
    },
    workerOptions(ctx, QUEUES.compliance),
  );
}
