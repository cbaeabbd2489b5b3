import { describe, expect, it, vi } from 'vitest';
import type * as Deliver from '../../src/shared/webhooks/deliver.js';
import { destinationRef } from '../../src/shared/webhooks/backoff.js';
import { listDeadLetters } from '../../src/shared/webhooks/store.js';
import { cleanupsAfterEach, startHarness, waitFor } from './harness.js';

const URL_WITH_TOKEN = 'http://127.0.0.1:9/services/T0/B0/s3cr3tpath?token=s3cr3tquery';

// A failure the worker does not decide on (not a delivery's verdict) that quotes WEBHOOK_URL, as a
// library's error may: the send itself throws.
vi.mock('../../src/shared/webhooks/deliver.js', async (original) => ({
  ...(await original<typeof Deliver>()),
  deliverOnce: () => Promise.reject(new Error(`request to ${URL_WITH_TOKEN} failed`)),
}));

const cleanups = cleanupsAfterEach();

describe('a webhook delivery that fails unexpectedly', () => {
  it("dead-letters it on its last attempt with the URL's label, never its path or query", async () => {
    const h = await startHarness(URL_WITH_TOKEN, { retrySchedule: [] });
    cleanups.push(() => h.close());
    const e = await h.events.publish('campaign.state.changed', 'camp-unexpected', {});
    await waitFor(async () => (await listDeadLetters(h)).length === 1, 10_000, 'dead letter');
    const [letter] = await listDeadLetters(h);
    expect(letter).toMatchObject({ eventId: e.id, reason: 'exhausted' });
    expect(letter?.error).toBe(`request to ${destinationRef(URL_WITH_TOKEN).label} failed`);
    await waitFor(async () => (await h.audit.list('camp-unexpected')).length === 1, 10_000, 'audit');
    expect(JSON.stringify(await h.audit.list('camp-unexpected'))).not.toMatch(/s3cr3t/);
    expect(JSON.stringify(await h.redis.hgetall(h.keys.webhookEvent(e.id)))).not.toMatch(/s3cr3t/);
  });
});
