import { afterAll, beforeAll, expect, it } from 'vitest';
import { enqueueCommand } from '../../src/shared/lifecycle/enqueue.js';
import { createCommandOrder } from '../../src/shared/lifecycle/order.js';
import { createAdjustWorker } from '../../src/workers/adjust-worker.js';
import { startHarness, type Harness } from './harness.js';

/**
 * A command whose runs kept killing their workers: after its third stall BullMQ fails its job when
 * next taken, without running it, so no run records the outcome. The command read `queued` for the
 * week its record lives (`cxo` waiting on it) until another command of its campaign happened to find
 * it dead. Real parts: the sandbox over HTTP, Redis, the adjust worker.
 */
let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.close();
});

it('a command BullMQ gives up on for its stalls is recorded failed and leaves its campaign free', async () => {
  const campaign = await h.campaign('active');
  const { commandId } = await enqueueCommand(h.ctx, {
    campaignId: campaign.id,
    actor: 'api:dana',
    reason: 'operator',
    action: 'pause',
  });
  // The job as BullMQ's stalled check leaves it after a third stall: back in the queue, to be failed
  // when next taken (its deferred failure), not run.
  const jobKey = h.ctx.queues.adjust.toKey(commandId);
  await h.ctx.redis.hset(jobKey, 'stc', 3, 'defa', 'job stalled more than allowable limit');

  const worker = createAdjustWorker(h.ctx);
  try {
    const done = await h.waitForCommand(commandId, 10_000);
    expect(done).toMatchObject({ status: 'failed', error: { kind: 'lost' } });
    expect(done.error?.message).toMatch(/^job stalled more than allowable limit: its runs stalled/);
    expect(await createCommandOrder(h.ctx).head(campaign.id)).toBeNull();
    // Never run: the campaign was not paused.
    expect((await h.ctx.cxone.getCampaign(campaign.id)).status).toBe('active');
  } finally {
    await worker.close();
  }
});
