import type { Queue } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { createEventPublisher } from '../../src/shared/events/publisher.js';
import { silentLogger } from '../../src/shared/logger.js';
import { webhookOutcomes } from '../../src/shared/metrics.js';
import { deliverOnce } from '../../src/shared/webhooks/deliver.js';
import { webhookJobOptions } from '../../src/shared/webhooks/schedule.js';
import { listDeadLetters } from '../../src/shared/webhooks/store.js';
import { Receiver, startHarness, waitFor, type Harness } from './harness.js';

/**
 * Every delivery job ends with an outcome on its event: delivered or dead-lettered, never `pending`
 * with no job left to change it, whatever failed it.
 */

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function setup(schedule: number[]): Promise<{ h: Harness; receiver: Receiver }> {
  const receiver = await new Receiver().start();
  const h = await startHarness(receiver.url, { retrySchedule: schedule });
  cleanups.push(
    () => receiver.stop(),
    () => h.close(),
  );
  return { h, receiver };
}

async function outcomeCount(outcome: string): Promise<number> {
  return (await webhookOutcomes.get()).values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
}

/** An event stored as `pending` whose job was never added (the publisher's enqueue failed). */
async function orphan(h: Harness, campaignId: string) {
  const failing = createEventPublisher({
    redis: h.redis,
    keys: h.keys,
    logger: silentLogger,
    webhookQueue: {
      add: () => Promise.reject(new Error('connection lost')),
    } as unknown as Queue,
    enabled: true,
  });
  await expect(failing.publish('campaign.state.changed', campaignId, { to: 'paused' })).rejects.toThrow(
    'connection lost',
  );
  const [entry] = await h.events.recent(1, campaignId);
  return entry!;
}

describe('webhook jobs that fail unexpectedly', () => {
  it('returns a secret that cannot sign as a failed attempt instead of throwing', async () => {
    const attempt = await deliverOnce({
      url: 'http://127.0.0.1:9/hook',
      secret: 'whsec_',
      eventId: 'evt_nosign',
      body: '{}',
      nowMs: Date.now(),
    });
    expect(attempt).toMatchObject({ error: expect.stringContaining('empty key') });
    expect(attempt.status).toBeUndefined();
  });

  it('dead-letters the event on the last attempt of any error, audits it and counts every run', async () => {
    const { h, receiver } = await setup([0, 20]);
    const errorsBefore = await outcomeCount('error');
    // Any error the worker did not decide on: here reading the destination throws on every run.
    Object.defineProperty(h.ctx.config, 'webhook', {
      get() {
        throw new Error('configuration exploded');
      },
    });
    const e = await h.events.publish('campaign.state.changed', 'camp-err', { to: 'paused' });
    await waitFor(async () => (await listDeadLetters(h)).length === 1, 10_000, 'dead letter');
    const [letter] = await listDeadLetters(h);
    expect(letter).toMatchObject({
      eventId: e.id,
      reason: 'exhausted',
      attempts: 3,
      error: 'configuration exploded',
    });
    expect(await h.redis.hget(h.keys.webhookEvent(e.id), 'state')).toBe('dead');
    await waitFor(async () => (await h.audit.list('camp-err')).length > 0, 10_000, 'audit record');
    expect(await h.audit.list('camp-err')).toEqual([
      expect.objectContaining({
        action: 'webhook_failure',
        details: expect.objectContaining({ eventId: e.id, reason: 'exhausted' }),
      }),
    ]);
    await waitFor(
      async () => (await outcomeCount('error')) - errorsBefore === 3,
      5_000,
      'three runs counted',
    );
    expect(await h.queue.getJob(e.id).then((j) => j?.getState())).toBe('failed');
    expect(receiver.received).toHaveLength(0);
  });

  it('dead-letters an event whose job BullMQ fails for its stall limit, without running the processor', async () => {
    const { h, receiver } = await setup([0]);
    const e = await orphan(h, 'camp-stall');
    const errorsBefore = await outcomeCount('error');
    // What BullMQ 6 leaves on a job that stalled more than maxStalledCount times: a deferred failure,
    // applied by the next worker that takes the job, which fails it without calling the processor.
    await h.queue.add(e.type, { eventId: e.id }, { ...webhookJobOptions(e.id, [0]), delay: 300 });
    await h.redis.hset(h.queue.toKey(e.id), 'defa', 'job stalled more than allowable limit');
    await waitFor(async () => (await listDeadLetters(h)).length === 1, 10_000, 'dead letter');
    expect(await listDeadLetters(h)).toEqual([
      expect.objectContaining({
        eventId: e.id,
        reason: 'exhausted',
        error: 'job stalled more than allowable limit',
      }),
    ]);
    expect(await h.redis.hget(h.keys.webhookEvent(e.id), 'state')).toBe('dead');
    await waitFor(async () => (await h.audit.list('camp-stall')).length > 0, 10_000, 'audit record');
    expect((await h.audit.list('camp-stall')).map((r) => r.action)).toEqual(['webhook_failure']);
    expect((await outcomeCount('error')) - errorsBefore).toBe(1);
    expect(receiver.received).toHaveLength(0);
  });
});
