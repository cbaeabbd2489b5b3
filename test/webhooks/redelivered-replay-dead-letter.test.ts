import { describe, expect, it } from 'vitest';
import { listDeadLetters, replayEvent } from '../../src/shared/webhooks/store.js';
import { webhookJobOptions } from '../../src/shared/webhooks/schedule.js';
import { cleanupsAfterEach, Receiver, startHarness, waitFor } from './harness.js';

/**
 * A replay's job that dead-letters its event again, and whose worker dies before BullMQ records the
 * failure, is redelivered: the same job (its creation time kept), still a replay. It must not send
 * the dead event once more, nor dead-letter it (and record the one failure) a second time; a new
 * replay, a job of its own, still sends.
 */
const cleanups = cleanupsAfterEach();

describe("a replay's job that runs again after it dead-lettered the event", () => {
  it('is neither resent nor recorded twice; a new replay still sends', async () => {
    const receiver = await new Receiver().start();
    receiver.respond = () => ({ status: 400, body: 'bad' });
    const schedule = [0];
    const h = await startHarness(receiver.url, { retrySchedule: schedule });
    cleanups.push(
      () => receiver.stop(),
      () => h.close(),
    );
    const failures = async () =>
      (await h.audit.list('camp-replay-redeliver')).filter((r) => r.action === 'webhook_failure');
    const failed = async (id: string) => (await h.queue.getJob(id).then((j) => j?.getState())) === 'failed';
    const e = await h.events.publish('campaign.state.changed', 'camp-replay-redeliver', { to: 'paused' });
    await waitFor(() => failed(e.id));
    expect(await replayEvent({ redis: h.redis, keys: h.keys, queue: h.queue, schedule }, e.id)).toBe(
      'queued',
    );
    await waitFor(async () => (await failed(e.id)) && (await failures()).length === 2, 10_000, 'the replay');
    expect(receiver.received).toHaveLength(2);

    // The replay's job as BullMQ hands it out again after its worker died: same job, same creation time.
    const replayJob = (await h.queue.getJob(e.id))!;
    const timestamp = replayJob.timestamp;
    await replayJob.remove();
    const again = await h.queue.add(
      'campaign.state.changed',
      { eventId: e.id, replay: true },
      { ...webhookJobOptions(e.id, schedule), timestamp },
    );
    await waitFor(async () => ['completed', 'failed'].includes(await again.getState()), 10_000, 'second run');
    expect(receiver.received).toHaveLength(2);
    expect(await failures()).toHaveLength(2);
    expect(await listDeadLetters(h)).toHaveLength(1);

    // Another replay is a new job: it sends.
    await again.remove();
    expect(await replayEvent({ redis: h.redis, keys: h.keys, queue: h.queue, schedule }, e.id)).toBe(
      'queued',
    );
    await waitFor(async () => receiver.received.length === 3, 10_000, 'the new replay');
  });
});
