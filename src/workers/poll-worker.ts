import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { AppContext } from '../shared/context.js';
import { QUEUES } from '../shared/keys.js';
import { runPollCycle, type PollOutcome } from '../shared/polling/poll-cycle.js';
import { campaignIdOfPollJob, reconcilePolling } from '../shared/polling/schedulers.js';
import { rethrowForBullmq } from './job-errors.js';
import { timedProcessor } from './job-timing.js';
import { currentAttempt, workerOptions } from './worker-options.js';

/**
 * The poll worker: each job is one scheduler tick (`poll:<campaignId>`, see
 * shared/polling/schedulers.ts) and runs one poll cycle — stats, efficiency, final-state detection,
 * abandonment guard, pacing. CXone failures map to BullMQ behaviour through rethrowForBullmq (a 429
 * is put back without spending an attempt); a lost tick is harmless, the next one polls again.
 */
export function createPollWorker(ctx: AppContext): Worker {
  const log = ctx.logger.child({ component: 'poll-worker' });
  // The schedulers may have been written for another budget (the fleet restarted with another rate
  // limit) or left half-rewritten (a rebalance cut off): they are brought in line now, not at the next
  // activation or end of a campaign, which may be hours away.
  void reconcilePolling(ctx).catch((err: unknown) =>
    log.warn({ err }, 'poll schedulers not checked against the stats budget at start'),
  );
  return new Worker(
    QUEUES.poll,
    // Timed by what BullMQ gets: a 429 becomes a queue rate limit, unless that cannot be stored.
    timedProcessor(QUEUES.poll, async (job: Job, token?: string): Promise<PollOutcome> => {
      // Scheduler ticks carry no data: the campaign is the scheduler's id (shared/polling/schedulers.ts).
      const campaignId = campaignIdOfPollJob(job);
      if (campaignId === null) {
        throw new UnrecoverableError(
          'invalid poll job: no campaignId in its data and not from a poll scheduler',
        );
      }
      try {
        return await runPollCycle(ctx, campaignId, { attempt: currentAttempt(job), tick: job.id });
      } catch (err) {
        log.debug({ err, campaignId }, 'poll failed');
        return rethrowForBullmq(err, job, ctx.queues.poll, ctx, token);
      }
    }),
    workerOptions(ctx, QUEUES.poll),
  );
}
