import { describe, expect, it } from 'vitest';
import { webhookJobOptions } from '../../src/shared/webhooks/schedule.js';
import { listDeadLetters } from '../../src/shared/webhooks/store.js';
import { connect } from '../audit/redis-helpers.js';
import { Receiver, startHarness, type Harness, cleanupsAfterEach, publishOrphan } from './harness.js';

/**
 * A webhook job that fails for good just before the worker closes: the worker's `failed` fallback
 * dead-letters its event, and close() waits for it, so the dead letter (and its audit record) is
 * written when close() resolves, and nothing is written after.
 */

const cleanups = cleanupsAfterEach();

/** An event stored as `pending` whose job was never added (the publisher's enqueue failed). */
const orphan = (h: Harness, campaignId: string) => publishOrphan(h, campaignId, { to: 'paused' });

describe('closing the webhook worker', () => {
  it('waits for the failed fallback of a job that failed for good, and writes nothing after', async () => {
    const receiver = await new Receiver().start();
    const h = await startHarness(receiver.url, { retrySchedule: [0] });
    cleanups.push(
      () => receiver.stop(),
      () => h.close(),
    );
    const e = await orphan(h, 'camp-closing');

    // The seam: the fallback's dead-letter script waits until BullMQ's own close() is done.
    let entered!: () => void;
    const fallbackEntered = new Promise<void>((resolve) => (entered = resolve));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    h.worker.once('closed', () => release());
    const redis = h.redis as unknown as {
      evalsha: (...args: unknown[]) => Promise<unknown>;
      sendCommand: (...args: unknown[]) => unknown;
    };
    const evalsha = redis.evalsha.bind(redis);
    redis.evalsha = async (...args: unknown[]) => {
      if (args[1] === 4 && args[2] === h.keys.webhookDeadLetters()) {
        entered();
        await gate;
      }
      return evalsha(...args);
    };

    // What BullMQ 6 leaves on a job past its stall limit: a deferred failure, applied by the next
    // worker that takes the job without running the processor. Paused, so the job is whole when taken.
    await h.worker.pause();
    await h.queue.add(e.type, { eventId: e.id }, webhookJobOptions(e.id, [0]));
    await h.redis.hset(h.queue.toKey(e.id), 'defa', 'job stalled more than allowable limit');
    h.worker.resume();
    await fallbackEntered;
    expect(await h.queue.getJob(e.id).then((j) => j?.getState())).toBe('failed');

    // The fallback's last writes are its audit record (owed with the dead letter: appended by its
    // dedupe key) and the owed entry's removal.
    let audited = false;
    const appendWithOutcome = h.audit.appendWithOutcome.bind(h.audit);
    h.audit.appendWithOutcome = async (input) => {
      const outcome = await appendWithOutcome(input);
      audited = true;
      return outcome;
    };

    await h.worker.close();
    expect(audited).toBe(true);
    // Whatever reaches Redis through the worker's connection from now on was written after close().
    const sentAfterClose: string[] = [];
    const sendCommand = redis.sendCommand.bind(redis);
    redis.sendCommand = (...args: unknown[]) => {
      sentAfterClose.push((args[0] as { name: string }).name);
      return sendCommand(...args);
    };
    const admin = connect();
    cleanups.push(async () => admin.disconnect());
    const read = { redis: admin, keys: h.keys };
    expect(await listDeadLetters(read)).toEqual([
      expect.objectContaining({
        eventId: e.id,
        reason: 'exhausted',
        error: 'job stalled more than allowable limit',
      }),
    ]);
    expect(await admin.hget(h.keys.webhookEvent(e.id), 'state')).toBe('dead');
    expect(sentAfterClose).toEqual([]);
  });
});
