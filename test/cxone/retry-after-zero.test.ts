import { type Job, Queue, RateLimitError } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { CxoneRateLimitError } from '../../src/shared/errors.js';
import { silentLogger } from '../../src/shared/logger.js';
import { rethrowForBullmq } from '../../src/workers/job-errors.js';
import { deletePrefixAt } from '../support/redis-prefix.js';
import { campaignBody, type Harness, REDIS_URL, startHarness, testPrefix } from './harness.js';

const job = { id: '1', name: 'poll', attemptsMade: 0, attemptsStarted: 1, opts: { attempts: 3 } } as Job;

let harness: Harness | undefined;
let cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup) await step();
  cleanup = [];
  await harness?.close();
  harness = undefined;
});

describe('a 429 that says to retry at once', () => {
  it('with Retry-After 0 puts the job back without spending an attempt', async () => {
    harness = await startHarness({ tag: 'ra0' });
    const created = await harness.client.createCampaign(campaignBody());
    await fetch(`${harness.sandbox.url}/__sandbox/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ failNext: 1, status: 429, retryAfterSeconds: 0 }),
    });
    const err = await harness.client.getStats(created.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CxoneRateLimitError);
    expect((err as CxoneRateLimitError).retryAfterMs).toBeGreaterThanOrEqual(1);

    const prefix = testPrefix('ra0q');
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const queue = new Queue('poll', { connection, prefix });
    cleanup.push(
      () => queue.close(),
      () => connection.quit(),
      () => deletePrefixAt(prefix),
    );
    // A queue-wide pause of 0 ms is one Redis refuses (SET … PX 0): the job would be retried as a
    // failure, spending an attempt, under a warning that Redis could not be reached.
    await expect(rethrowForBullmq(err, job, queue, { logger: silentLogger })).rejects.toBeInstanceOf(
      RateLimitError,
    );
  });
});
