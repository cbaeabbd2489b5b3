import type { Worker } from 'bullmq';
import { describe, expect, it } from 'vitest';
import type { AppContext } from '../../src/shared/context.js';
import { destinationBackoffKeys, destinationRef } from '../../src/shared/webhooks/backoff.js';
import { countSend, freeHoldsSpent, jobInstance, spendFreeHold } from '../../src/shared/webhooks/store.js';
import type { WebhookWorkerOptions } from '../../src/workers/webhook-worker.js';
import { recordingLogger } from '../support/log-capture.js';
import { harnessWithoutWorker, webhookWorkerProcess } from '../support/webhook-worker-process.js';
import { cleanupsAfterEach, Receiver, waitFor, type Harness } from './harness.js';

/**
 * An event's free holds (a put-back without spending an attempt, 10 per job) are spent only by a
 * send whose own answer met a destination hold (408/429/503), counted on the event's hash: never by
 * the put-backs of a send that was only waiting (a worker paused or closing while another send
 * probes, a job fetched as a hold began), which BullMQ's attemptsStarted counts all the same.
 * Real Redis, a real HTTP receiver.
 */

const cleanups = cleanupsAfterEach();

const workerProcess = (h: Harness, logger: AppContext['logger'], opts: WebhookWorkerOptions) =>
  webhookWorkerProcess(h, cleanups, opts, { logger });

const NOT_SPENT =
  'webhook attempt found the receiver overloaded; the event waits for the hold, its attempt not spent';

async function jobOf(h: Harness, eventId: string) {
  const job = await h.queue.getJob(eventId);
  if (!job) throw new Error(`no job for ${eventId}`);
  return job;
}

describe('free holds of a webhook event', () => {
  it('counts them per job of the event, only for the run that owns the send', async () => {
    const receiver = await new Receiver().start();
    const h = await harnessWithoutWorker(receiver, cleanups);
    const e = await h.events.publish('campaign.state.changed', 'camp-count', {});

    expect(await spendFreeHold(h, e.id, { job: 'a', free: 2 })).toEqual({ kind: 'free', spent: 1 });
    expect(await spendFreeHold(h, e.id, { job: 'a', free: 2 })).toEqual({ kind: 'free', spent: 2 });
    expect(await spendFreeHold(h, e.id, { job: 'a', free: 2 })).toEqual({ kind: 'none_left' });
    expect(await freeHoldsSpent(h, e.id, 'a')).toBe(2);
    // A new job of the event (a replay, the sweep) starts with every free hold again.
    expect(await freeHoldsSpent(h, e.id, 'b')).toBe(0);
    expect(await spendFreeHold(h, e.id, { job: 'b', free: 2 })).toEqual({ kind: 'free', spent: 1 });

    // A send that is no longer the run's counts nothing.
    await countSend(h, e.id, Date.now(), 'run-1');
    expect(await spendFreeHold(h, e.id, { run: 'run-2', job: 'b', free: 2 })).toEqual({ kind: 'superseded' });
    expect(await freeHoldsSpent(h, e.id, 'b')).toBe(1);
    expect(await spendFreeHold(h, e.id, { run: 'run-1', job: 'b', free: 2 })).toEqual({
      kind: 'free',
      spent: 2,
    });

    // An event no longer stored is not brought back as a hash of counters.
    expect(await spendFreeHold(h, 'evt_gone', { job: 'a', free: 2 })).toEqual({ kind: 'missing' });
    expect(await h.redis.exists(h.keys.webhookEvent('evt_gone'))).toBe(0);
  });

  it('an event put back 11 times while it only waited still has every attempt and free hold', async () => {
    const receiver = await new Receiver().start();
    // After the waiting, one overload answer, then the delivery.
    receiver.respond = () => (receiver.received.length === 0 ? { status: 503 } : { status: 200 });
    const h = await harnessWithoutWorker(receiver, cleanups);
    const keys = destinationBackoffKeys(h.keys);
    const self = destinationRef(receiver.url);
    // A backoff episode whose probe is another send's, still under way: every send waits for it.
    await h.redis.hset(keys.ownerKey, { id: self.id, label: self.label });
    await h.redis.set(keys.streakKey, '1', 'PX', 60_000);
    await h.redis.set(keys.probeKey, 'another-run', 'PX', 60_000);

    const log = recordingLogger('debug');
    const worker: Worker = await workerProcess(h, log.logger, {
      concurrency: 1,
      probePollMs: 10,
      destinationBackoff: { minMs: 20, maxMs: 40 },
    });
    const e = await h.events.publish('campaign.state.changed', 'camp-wait', {});

    const putBacks = 11;
    for (let n = 1; n <= putBacks; n++) {
      await waitFor(
        async () =>
          (await jobOf(h, e.id)).attemptsStarted === n && (await h.queue.getJobState(e.id)) === 'active',
        10_000,
        `start ${n}`,
      );
      // The fleet's prefix contested (or a shutdown): the waiting send goes back to the queue unsent.
      await worker.pause();
      expect(await h.queue.getJobState(e.id)).toBe('waiting');
      await worker.resume();
    }
    // Started once more, it waits for the probe again: nothing was sent, nothing spent.
    await waitFor(
      async () =>
        (await jobOf(h, e.id)).attemptsStarted === putBacks + 1 &&
        (await h.queue.getJobState(e.id)) === 'active',
      10_000,
      'the start after the last put-back',
    );
    expect(receiver.received).toEqual([]);
    const waited = await jobOf(h, e.id);
    expect([waited.attemptsMade, waited.attemptsStarted]).toEqual([0, putBacks + 1]);
    expect(await freeHoldsSpent(h, e.id, jobInstance(waited))).toBe(0);

    // The probe under way ends (its lease lapses): the waiting send probes, meets a new hold, and
    // that hold is free (with BullMQ's counters alone it would have spent an attempt); the next
    // start probes again and delivers.
    await h.redis.del(keys.probeKey);
    await waitFor(async () => (await h.queue.getJobState(e.id)) === 'completed', 10_000, 'the delivery');
    expect(receiver.received.map((r) => [r.id, r.status])).toEqual([
      [e.id, 503],
      [e.id, 200],
    ]);
    const done = await jobOf(h, e.id);
    // One attempt, the delivery's (BullMQ counts it as it completes the job).
    expect(done.attemptsMade).toBe(1);
    expect(done.attemptsStarted).toBe(putBacks + 2);
    expect(await freeHoldsSpent(h, e.id, jobInstance(done))).toBe(1);
    expect(log.lines.filter((l) => l.msg === NOT_SPENT)).toEqual([
      expect.objectContaining({ eventId: e.id, status: 503, freeHold: 1, freeHolds: 10 }),
    ]);
    expect(log.lines.filter((l) => l.msg === 'webhook attempt failed; will retry')).toEqual([]);
  }, 30_000);

  it('an event meeting 11 real holds spends an attempt on the 11th, as before', async () => {
    const receiver = await new Receiver().start();
    receiver.respond = () => (receiver.received.length < 11 ? { status: 503 } : { status: 200 });
    const h = await harnessWithoutWorker(receiver, cleanups);
    const log = recordingLogger('debug');
    await workerProcess(h, log.logger, {
      concurrency: 1,
      probePollMs: 10,
      destinationBackoff: { minMs: 20, maxMs: 40 },
    });
    const e = await h.events.publish('campaign.state.changed', 'camp-holds', {});
    await waitFor(async () => (await h.queue.getJobState(e.id)) === 'completed', 15_000, 'the delivery');

    expect(receiver.received.map((r) => r.status)).toEqual([...Array<number>(11).fill(503), 200]);
    const done = await jobOf(h, e.id);
    // The 11th overload answer spent an attempt; the delivery counts the second.
    expect(done.attemptsMade).toBe(2);
    expect(await freeHoldsSpent(h, e.id, jobInstance(done))).toBe(10);
    const free = log.lines.filter((l) => l.msg === NOT_SPENT);
    expect(free.map((l) => l.freeHold)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(log.lines.filter((l) => l.msg === 'webhook attempt failed; will retry')).toEqual([
      expect.objectContaining({ eventId: e.id, status: 503, attempt: 1 }),
    ]);
  }, 30_000);
});
