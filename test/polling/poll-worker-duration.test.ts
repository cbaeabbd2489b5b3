import type { Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobDuration } from '../../src/shared/metrics.js';
import { createPollWorker } from '../../src/workers/poll-worker.js';
import { startStack, waitFor, type Stack } from '../e2e/stack.js';

async function pollFailures(): Promise<number> {
  const v = (await jobDuration.get()).values.find(
    (s) =>
      s.metricName === 'cxo_job_duration_seconds_count' &&
      s.labels.queue === 'poll' &&
      s.labels.outcome === 'failed',
  );
  return v?.value ?? 0;
}

/**
 * `cxo_job_duration_seconds{queue="poll",outcome="failed"}` is the series docs/operations.md tells an
 * SRE to alert on for polls: every poll run that fails must be in it, as every launch run is in the
 * launch queue's, including a job the worker refuses before polling (one added by hand, from Bull
 * Board say, without a campaign). Real Redis and a real poll worker.
 */
describe('poll worker job durations', () => {
  let stack: Stack;
  let worker: Worker | undefined;
  beforeAll(async () => {
    stack = await startStack({ api: false });
  });
  afterAll(async () => {
    await worker?.close();
    await stack?.close();
  });

  it('counts a poll job without a campaign as a failed run', async () => {
    const before = await pollFailures();
    worker = createPollWorker(stack.ctx);
    const job = await stack.ctx.queues.poll.add('poll', {});
    await waitFor('the job to fail', async () => ((await job.isFailed()) ? true : undefined));
    expect(await pollFailures()).toBe(before + 1);
  });
});
