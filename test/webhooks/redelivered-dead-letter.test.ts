import { describe, expect, it } from 'vitest';
import { listDeadLetters } from '../../src/shared/webhooks/store.js';
import { cleanupsAfterEach, Receiver, startHarness, waitFor } from './harness.js';

/**
 * A worker that dies after it dead-lettered an event, before BullMQ recorded the job's failure, has
 * its job run again (the stalled job is redelivered). The event is dead: the run must not send it
 * again, nor dead-letter it (and record its failure) a second time.
 */
const cleanups = cleanupsAfterEach();

describe('a dead-lettered event whose job runs again', () => {
  it('is neither resent nor dead-lettered and recorded a second time', async () => {
    const receiver = await new Receiver().start();
    receiver.respond = () => ({ status: 400, body: 'bad' });
    const h = await startHarness(receiver.url, { retrySchedule: [0] });
    cleanups.push(
      () => receiver.stop(),
      () => h.close(),
    );
    const e = await h.events.publish('campaign.state.changed', 'camp-redeliver', { to: 'paused' });
    await waitFor(async () => (await h.queue.getJob(e.id).then((j) => j?.getState())) === 'failed');
    expect(await listDeadLetters(h)).toHaveLength(1);
    // What a redelivered job looks like after a worker died between the dead letter and the failure.
    await (await h.queue.getJob(e.id))!.remove();
    const again = await h.queue.add('campaign.state.changed', { eventId: e.id }, { jobId: e.id });
    await waitFor(async () => ['completed', 'failed'].includes(await again.getState()), 10_000, 'second run');
    expect(receiver.received).toHaveLength(1);
    expect(await listDeadLetters(h)).toHaveLength(1);
    const failures = (await h.audit.list('camp-redeliver')).filter((r) => r.action === 'webhook_failure');
    expect(failures).toHaveLength(1);
  });
});
