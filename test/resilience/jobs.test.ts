import { setTimeout as sleep } from 'node:timers/promises';
import { type Job, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/shared/config.js';
import type { AppContext } from '../../src/shared/context.js';
import { createKeys } from '../../src/shared/keys.js';
import { silentLogger } from '../../src/shared/logger.js';
import { createRedis } from '../../src/shared/redis.js';
import { rethrowForBullmq } from '../../src/workers/job-errors.js';
import {
  closeWorkers,
  defaultJobOptions,
  makeBackoffStrategy,
  workerOptions,
} from '../../src/workers/worker-options.js';
import { campaignBody, type Harness, REDIS_URL, startHarness } from '../cxone/harness.js';

const STATS = 'GET /api/v2/outbound/campaigns/:id/stats';
const GET_CAMPAIGN = 'GET /api/v2/campaigns/:id';

interface Rig {
  harness: Harness;
  ctx: AppContext;
  redis: Redis;
  queue: Queue;
  worker?: Worker;
}

let rig: Rig | undefined;
afterEach(async () => {
  if (!rig) return;
  if (rig.worker) await closeWorkers([rig.worker], 2_000);
  await rig.queue.obliterate({ force: true }).catch(() => undefined);
  await rig.queue.close();
  await rig.harness.close();
  rig.redis.disconnect();
  rig = undefined;
});

async function setup(): Promise<Rig> {
  const harness = await startHarness({ tag: 'jobs' });
  const redis = createRedis(REDIS_URL);
  const config = loadConfig({ REDIS_URL, WORKER_CONCURRENCY: '2' });
  const ctx = {
    config,
    logger: silentLogger,
    redis,
    keys: createKeys(harness.prefix),
    cxone: harness.client,
  } as unknown as AppContext;
  const queue = new Queue('poll', { connection: redis, prefix: harness.prefix });
  return { harness, ctx, redis, queue };
}

async function scriptFaults(harness: Harness, body: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${harness.sandbox.url}/__sandbox/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
}

/**
 * The job as it finished for good (completed, or failed with no retry left). The state is read first
 * and the job after it: BullMQ writes attemptsMade, finishedOn and the failed reason in the same
 * script that moves the job to completed or failed, so a job read once it is there is the finished
 * one. Read before, it could be a retried job's run still in progress (it keeps the last failed
 * reason while it runs again), which then completed before its state was read: a busy machine had
 * the 5xx storm see attemptsMade 3 on a completed job.
 */
async function waitFinished(queue: Queue, id: string, timeoutMs = 20_000): Promise<Job> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await queue.getJobState(id);
    if (state === 'completed' || state === 'failed') {
      const job = await queue.getJob(id);
      if (job) return job;
    }
    if (Date.now() > deadline) throw new Error(`job ${id} did not finish within ${timeoutMs} ms`);
    await sleep(100);
  }
}

function startWorker(
  r: Rig,
  call: (campaignId: string) => Promise<unknown>,
  overrides: Parameters<typeof workerOptions>[2] = {},
): Worker {
  r.worker = new Worker(
    'poll',
    async (job: Job<{ campaignId: string }>) => {
      try {
        return await call(job.data.campaignId);
      } catch (err) {
        return rethrowForBullmq(err, job, r.queue, r.ctx);
      }
    },
    workerOptions(r.ctx, 'poll', overrides),
  );
  return r.worker;
}

describe('jobs under CXone trouble (BullMQ + sandbox + real Redis)', () => {
  it('a 429 storm fails no job and spends no attempts', async () => {
    rig = await setup();
    const created = await rig.harness.client.createCampaign(campaignBody());
    // More 429s in a row than the job has attempts: it can only succeed if 429s are free.
    const attempts = defaultJobOptions('poll').attempts as number;
    await scriptFaults(rig.harness, {
      failNext: attempts + 1,
      status: 429,
      endpoint: STATS,
      retryAfterSeconds: 1,
    });
    const job = await rig.queue.add('poll', { campaignId: created.id }, defaultJobOptions('poll'));
    startWorker(rig, (id) => rig!.harness.client.getStats(id));

    const done = await waitFinished(rig.queue, job.id!, 25_000);
    expect(await done.getState()).toBe('completed');
    // Completion counts as the one attempt made; the rate-limited runs counted only as starts.
    expect(done.attemptsMade).toBe(1);
    expect(done.attemptsStarted).toBeGreaterThan(attempts);
    const counters = await rig.harness.counters();
    expect(counters[STATS]?.faults).toBe(attempts + 1);
    expect(counters[STATS]?.byStatus['200']).toBe(1);
  }, 40_000);

  it('a 5xx storm ends in success once it passes, retrying with jittered backoff', async () => {
    rig = await setup();
    const created = await rig.harness.client.createCampaign(campaignBody());
    await scriptFaults(rig.harness, { failNext: 3, status: 503, endpoint: STATS });
    const job = await rig.queue.add(
      'poll',
      { campaignId: created.id },
      { ...defaultJobOptions('poll'), attempts: 5 },
    );
    startWorker(rig, (id) => rig!.harness.client.getStats(id), {
      settings: { backoffStrategy: makeBackoffStrategy({ baseMs: 50, capMs: 200 }) },
    });

    const done = await waitFinished(rig.queue, job.id!);
    expect(await done.getState()).toBe('completed');
    expect(done.attemptsMade).toBe(4);
    expect((await rig.harness.counters())[STATS]?.faults).toBe(3);
  }, 30_000);

  it('a permanent 4xx fails once, with what to fix, and is never retried', async () => {
    rig = await setup();
    const job = await rig.queue.add('poll', { campaignId: 'no-such-campaign' }, defaultJobOptions('poll'));
    startWorker(rig, (id) => rig!.harness.client.getCampaign(id));

    const done = await waitFinished(rig.queue, job.id!);
    expect(await done.getState()).toBe('failed');
    expect(done.attemptsMade).toBe(1);
    expect(done.failedReason).toMatch(/no-such-campaign.*no longer exists on CXone or the id is wrong/);
    await sleep(300);
    expect((await rig.harness.counters())[GET_CAMPAIGN]?.requests).toBe(1);
    // It stays in the failed set (bounded retention), visible in Bull Board.
    expect((await rig.queue.getFailed()).map((j) => j.id)).toContain(job.id);
  });

  it('closeWorkers waits for active jobs up to the bound, then forces', async () => {
    rig = await setup();
    const job = await rig.queue.add('poll', { campaignId: 'slow' }, defaultJobOptions('poll'));
    let started = false;
    const worker = startWorker(rig, async () => {
      started = true;
      await sleep(10_000);
    });
    while (!started) await sleep(20);
    const t0 = Date.now();
    const { forced } = await closeWorkers([worker], 300);
    expect(forced).toBe(true);
    expect(Date.now() - t0).toBeLessThan(5_000);
    rig.worker = undefined;
    expect(await (await rig.queue.getJob(job.id!))!.getState()).toBe('active');
  });

  it('closeWorkers returns without forcing when jobs finish in time', async () => {
    rig = await setup();
    await rig.queue.add('poll', { campaignId: 'quick' }, defaultJobOptions('poll'));
    let started = false;
    const worker = startWorker(rig, async () => {
      started = true;
      await sleep(200);
      return 'ok';
    });
    while (!started) await sleep(20);
    const { forced } = await closeWorkers([worker], 5_000);
    rig.worker = undefined;
    expect(forced).toBe(false);
  });
});
