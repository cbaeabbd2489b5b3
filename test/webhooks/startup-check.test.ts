import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { harnessWithoutWorker, webhookWorkerProcess } from '../support/webhook-worker-process.js';
import { cleanupsAfterEach, Receiver, waitFor, type Harness } from './harness.js';

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

async function stalledWorker(
  h: Harness,
  startupCheckMs: number,
): Promise<{ worker: Worker; answer: () => void; stalled: () => boolean; errors: Error[] }> {
  let stall!: ReturnType<typeof stallFirstScript>;
  const errors: Error[] = [];
  const worker = await webhookWorkerProcess(
    h,
    cleanups,
    { startupCheckMs },
    {
      errors,
      connection: (redis) => {
        stall = stallFirstScript(redis);
        return stall.answer;
      },
    },
  );
  return { worker, ...stall, errors };
}

describe('the webhook worker start-up check of a foreign hold', () => {
  it('starts delivering after its bound when the check gets no answer', async () => {
    const receiver = await new Receiver().start();
    const h = await harnessWithoutWorker(receiver, cleanups);
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
    const h = await harnessWithoutWorker(receiver, cleanups);
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
    const h = await harnessWithoutWorker(receiver, cleanups);
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
