import type { Job } from 'bullmq';
import { jobDuration } from '../shared/metrics.js';
import { thrownOutcome } from './job-errors.js';

/**
 * A queue's processor timed in `cxo_job_duration_seconds` from the first line of every run to how it
 * ended: `completed` when it returned, otherwise by what BullMQ got (`thrownOutcome`). Wrapping the
 * whole processor is what makes "every run" true: the runs a worker turns away early — a job it does
 * not know, a command waiting for its turn or its campaign's lock — are runs an operator's dashboard
 * must see, and a timer started inside the processor missed them.
 */
export function timedProcessor<T>(
  queue: string,
  run: (job: Job, token?: string) => Promise<T>,
): (job: Job, token?: string) => Promise<T> {
  return async (job, token) => {
    const end = jobDuration.startTimer({ queue });
    try {
      const result = await run(job, token);
      end({ outcome: 'completed' });
      return result;
    } catch (err) {
      end({ outcome: thrownOutcome(err) });
      throw err;
    }
  };
}
