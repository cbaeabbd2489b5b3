import { Worker, type Job } from 'bullmq';
import { putBackIfInterrupted, unknownJob } from './job-errors.js';
import { timedProcessor } from './job-timing.js';
import { HISTORY_JOB, processHistoryJob } from '../shared/audit/history-sync.js';
import type { AppContext } from '../shared/context.js';
import { QUEUES } from '../shared/keys.js';
import { workerOptions } from './worker-options.js';

/**
 * Imports at once per worker process: each walks a campaign's whole CXone history at poll priority,
 * and a burst of console edits across campaigns must not take the fleet limiter's history budget, or
 * Redis, from everything else. A queue of its own, so the walks never hold the slots of calling-window
 * enforcement, which is due to the second.
 */
const AUDIT_CONCURRENCY = 2;

/** The 'audit' queue's worker: imports of CXone's history of campaigns changed outside the orchestrator. */
export function createAuditWorker(ctx: AppContext): Worker {
  const log = ctx.logger.child({ component: 'audit-worker' });
  const workerCtx: AppContext = { ...ctx, logger: log };
  return new Worker(
    QUEUES.audit,
    timedProcessor(QUEUES.audit, async (job: Job, token?: string) => {
      if (job.name !== HISTORY_JOB) throw unknownJob(log, job, HISTORY_JOB);
      try {
        return await processHistoryJob(workerCtx, job);
      } catch (err) {
        // This process shutting down stopped the walk: another worker runs it again, uncounted.
        await putBackIfInterrupted(err, job, token, log);
        throw err;
      }
    }),
    workerOptions(ctx, QUEUES.audit, { concurrency: AUDIT_CONCURRENCY }),
  );
}
