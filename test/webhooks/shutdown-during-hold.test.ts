import { describe, expect, it } from 'vitest';
import { destinationHoldLeftMs, webhookLimiterKey } from '../../src/shared/webhooks/backoff.js';
import { closeWorkers } from '../../src/workers/worker-options.js';
import { cleanupsAfterEach, Receiver, startHarness, waitFor } from './harness.js';

const cleanups = cleanupsAfterEach();

/**
 * A graceful shutdown (closeWorkers: pause(), then close) while the receiver holds every delivery
 * for 10 minutes. BullMQ's main loop sleeps through the hold in steps of maximumRateLimitDelay that
 * pause() cannot cut short: at 30 s, SIGTERM waited up to 30 s with no delivery running, and a
 * shutdown deadline shorter than that forced the close, its warning blaming jobs still running.
 */
describe('a graceful shutdown during a destination hold', () => {
  it('stops within a couple of seconds, not forced, and leaves the held events for the next process', async () => {
    const receiver = await new Receiver().start();
    cleanups.push(() => receiver.stop());
    receiver.respond = () => ({ status: 429, headers: { 'retry-after': '600' } });
    const h = await startHarness(receiver.url);
    cleanups.push(() => h.close());
    const first = await h.events.publish('campaign.state.changed', 'c1', { from: 'active', to: 'paused' });
    await waitFor(async () => (await destinationHoldLeftMs(h.redis, webhookLimiterKey(h.keys))) > 0);
    // Fetched during the hold: the worker's loop is now asleep on the queue's rate limit.
    const second = await h.events.publish('campaign.state.changed', 'c1', { from: 'paused', to: 'active' });
    await new Promise((resolve) => setTimeout(resolve, 300));

    const started = Date.now();
    const { forced } = await closeWorkers([h.worker], 10_000);
    const tookMs = Date.now() - started;

    expect(forced).toBe(false);
    expect(tookMs).toBeLessThan(3_000);
    expect(receiver.received.map((r) => r.id)).toEqual([first.id]);
    // Neither is settled: both wait, pending, for the hold to end in whichever process runs next.
    for (const id of [first.id, second.id]) {
      expect(await h.redis.hget(h.keys.webhookEvent(id), 'state')).toBe('pending');
    }
  }, 60_000);
});
