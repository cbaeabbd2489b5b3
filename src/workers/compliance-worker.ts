import { Worker, type Job } from 'bullmq';
import { failedForStallLimit, unknownJob } from './job-errors.js';
import { timedProcessor } from './job-timing.js';
import { trackHandlerWork } from './handler-work.js';
import { processWindowJob, WINDOW_JOB, windowJobOf } from '../shared/compliance/enforcement.js';
import { replanWindowEnforcement } from '../shared/compliance/replan.js';
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
  const worker = new Worker(
    QUEUES.compliance,
    timedProcessor(QUEUES.compliance, async (job: Job, token?: string) => {
      if (job.name !== WINDOW_JOB) throw unknownJob(log, job, WINDOW_JOB);
      return processWindowJob(workerCtx, job, token);
    }),
    workerOptions(ctx, QUEUES.compliance),
  );
  // close() waits for it (handler-work.ts), as the launch and adjust workers'.
  const handlerWork = trackHandlerWork(worker);
  worker.on('failed', (job, err) => {
    // BullMQ's own failure of a window job it did not run (its stall limit: runs that kept killing
    // or hanging their workers). Left failed, the campaign had no window job: an active campaign
    // dialed past its close until a poll found it outside its hours, and one the window had paused
    // was never resumed. Planned again from the campaign's config, as a status change would.
    if (job?.name !== WINDOW_JOB || !failedForStallLimit(job, err)) return;
    handlerWork.run(() => replanGivenUp(workerCtx, job));
  });
  return worker;
}

async function replanGivenUp(ctx: AppContext, job: Job): Promise<void> {
  let campaignId: string | undefined;
  try {
    campaignId = windowJobOf(job).campaignId;
    const outcome = await replanWindowEnforcement(ctx, campaignId);
    ctx.logger.warn(
      { campaignId, jobId: job.id, outcome },
      'window job given up by BullMQ for its stalls; enforcement planned again from the campaign config',
    );
  } catch (err) {
    ctx.logger.error(
      { campaignId, jobId: job.id, err },
      'window job given up by BullMQ for its stalls and could not be planned again: the campaign has no window enforced until its next status change, or a poll finds it active outside its hours',
    );
  }
}
