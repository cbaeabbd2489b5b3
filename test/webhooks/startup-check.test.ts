import { Queue, type Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { AppContext } from '../../src/shared/context.js';
import { QUEUES, type QueueName } from '../../src/shared/keys.js';
import { createRedis } from '../../src/shared/redis.js';
import { createWebhookWorker } from '../../src/workers/webhook-worker.js';
import { REDIS_URL } from '../audit/redis-helpers.js';
import {
  cleanupsAfterEach,
  FAST_SCHEDULE,
  Receiver,
  startHarness,
  waitFor,
  type Harness,
} from './harness.js';

/**
 * The webhook worker starts fetching only after it has dropped a hold of another destination
 * (webhook-worker.ts, startup). That check goes through the context's connection, whose commands
 * wait without limit while Redis does not answer (maxRetriesPerRequest: null): it must neither keep
 * the worker from ever starting, nor keep a graceful close() waiting on it, nor race a resume().
 */

const cleanups = cleanupsAfterEach();

/**
 * A connection whose first script call (the startup check: the first evalScript the worker makes)
 * gets no answer until `answer()`: what a Redis that stopped answering looks like to that one
 * command. BullMQ's own scripts go through sendCommand, not this method, and are left alone.
 */
function stallFirstScript(redis: Redis): { answer: () => void; stalled: () => boolean } {
  const evalsha = redis.evalsha.bind(redis) as (...args: unknown[]) => Promise<unknown>;
  let first = true;
  let stalled = false;
  let answer = () => undefined as void;
  const gate = new Promise<void>((resolve) => {
    answer = () => resolve();
  });
  (redis as unknown as { evalsha: (...args: unknown[]) => Promise<unknown> }).evalsha = async (
    ...args: unknown[]
  ) => {
    if (first) {
      first = false;
      stalled = true;
      await gate;
      stalled = false;
    }
    return evalsha(...args);
  };
  return { answer, stalled: () => stalled };
}

async function setup(receiver: Receiver): Promise<Harness> {
  const h = await startHarness(receiver.url, { sweepIntervalMs: 0 });
  cleanups.push(
    () => receiver.stop(),
    () => h.close(),
  );
  await h.worker.close();
  return h;
}

async function stalledWorker(
  h: Harness,
  startupCheckMs: number,
): Promise<{ worker: Worker; answer: () => void; stalled: () => boolean; errors: Error[] }> {
  const redis = createRedis(REDIS_URL);
  const queue = new Queue(QUEUES.webhook, { connection: redis, prefix: h.keys.prefix });
  const stall = stallFirstScript(redis);
  const ctx: AppContext = {
    ...h.ctx,
    redis,
    queues: { [QUEUES.webhook]: queue } as Record<QueueName, Queue>,
  };
  const worker = createWebhookWorker(ctx, {
    timeoutMs: 2_000,
    sweepIntervalMs: 0,
    retrySchedule: FAST_SCHEDULE,
    startupCheckMs,
  });
  const errors: Error[] = [];
  worker.on('error', (err) => errors.push(err));
  cleanups.push(async () => {
    stall.answer();
    await worker.close(true);
    await queue.close();
    redis.disconnect();
  });
  await worker.waitUntilReady();
  return { worker, ...stall, errors };
}

describe('the webhook worker start-up check of a foreign hold', () => {
  it('starts delivering after its bound when the check gets no answer', async () => {
    const receiver = await new Receiver().start();
    const h = await setup(receiver);
    const w = await stalledWorker(h, 200);
    const e = await h.events.publish('campaign.state.changed', 'camp-stall', {});
    await waitFor(
      async () => (await h.redis.zscore(h.keys.webhookDelivered(), e.id)) !== null,
      5_000,
      'the delivery, while the start-up check still has no answer',
    );
    expect(w.stalled()).toBe(true);
    expect(w.errors).toEqual([]);
  });

  it('closes gracefully within the bound while the check gets no answer', async () => {
    const receiver = await new Receiver().start();
    const h = await setup(receiver);
    const w = await stalledWorker(h, 300);
    const started = Date.now();
    const closed = await Promise.race([
      w.worker.close().then(() => 'closed' as const),
      new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 3_000)),
    ]);
    expect(closed).toBe('closed');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('a resume() while the check is under way neither starts the worker twice nor before the check', async () => {
    const receiver = await new Receiver().start();
    const h = await setup(receiver);
    const w = await stalledWorker(h, 60_000);
    // What src/process/run.ts does when a contest of the fleet's prefix begins and settles.
    await w.worker.pause(true);
    const resumed = w.worker.resume();
    await new Promise((r) => setTimeout(r, 100));
    expect(w.worker.isRunning()).toBe(false);
    w.answer();
    await resumed;
    const e = await h.events.publish('campaign.state.changed', 'camp-resume', {});
    await waitFor(
      async () => (await h.redis.zscore(h.keys.webhookDelivered(), e.id)) !== null,
      5_000,
      'the delivery after resume',
    );
    expect(w.worker.isRunning()).toBe(true);
    expect(w.errors.map((err) => err.message)).toEqual([]);
  });
});
