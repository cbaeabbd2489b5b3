import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { AppContext } from '../shared/context.js';
import { QUEUES } from '../shared/keys.js';
import { jobDuration } from '../shared/metrics.js';
import { runPollCycle, type PollOutcome } from '../shared/polling/poll-cycle.js';
import { campaignIdOfPollJob } from '../shared/polling/schedulers.js';
import { rethrowForBullmq, thrownOutcome } from './job-errors.js';
import { currentAttempt, workerOptions } from './worker-options.js';

/**
 * The poll worker: each job is one scheduler tick (`poll:<campaignId>`, see
 * shared/polling/schedulers.ts) and runs one poll cycle — stats, efficiency, final-state detection,
 * abandonment guard, pacing. CXone failures map to BullMQ behaviour through rethrowForBullmq (a 429
 * is put back without spending an attempt); a lost tick is harmless, the next one polls again.
 */
export function createPollWorker(ctx: AppContext): Worker {
  const log = ctx.logger.child({ component: 'poll-worker' });
  return new Worker(
    QUEUES.poll,
    async (job: Job): Promise<PollOutcome> => {
      // Scheduler ticks carry no data: the campaign is the scheduler's id (shared/polling/schedulers.ts).
      // Timed from the start, as every queue's runs are: a job refused below is a failed run too.
      const end = jobDuration.startTimer({ queue: QUEUES.poll });
      const campaignId = campaignIdOfPollJob(job);
      if (campaignId === null) {
        end({ outcome: 'failed' });
        throw new UnrecoverableError(
          'invalid poll job: no campaignId in its data and not from a poll scheduler',
        );
      }
      try {
        const outcome = await runPollCycle(ctx, campaignId, { attempt: currentAttempt(job) });
        end({ outcome: 'completed' });
        return outcome;
      } catch (err) {
        log.debug({ err, campaignId }, 'poll failed');
        try {
          return await rethrowForBullmq(err, job, ctx.queues.poll, ctx);
        } catch (thrown) {
          // Labelled by what BullMQ gets: a 429 becomes a queue rate limit, unless that cannot be stored.
          end({ outcome: thrownOutcome(thrown) });
          throw thrown;
        }
      }
    },
    workerOptions(ctx, QUEUES.poll),
  );
}
