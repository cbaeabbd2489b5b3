import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { toErrorResponse } from '../../src/producers/errors.js';
import { registerWebhookRoutes } from '../../src/producers/routes/webhooks.js';
import { deliverOnce, describeNetworkError } from '../../src/shared/webhooks/deliver.js';
import { destinationRef } from '../../src/shared/webhooks/backoff.js';
import { listDeadLetters } from '../../src/shared/webhooks/store.js';
import { Receiver, SECRET, startHarness, waitFor, cleanupsAfterEach } from './harness.js';

/**
 * A WEBHOOK_URL with credentials is refused at start (test/shared/config.test.ts); should one reach
 * the worker or the API anyway, its password is never stored, logged, audited or shown.
 */

const cleanups = cleanupsAfterEach();

const WITH_PASSWORD = 'http://hook:hunter2@127.0.0.1:9/hook';

describe('webhook URL credentials', () => {
  it('never puts URL credentials in a delivery error', async () => {
    const attempt = await deliverOnce({
      url: WITH_PASSWORD,
      secret: SECRET,
      eventId: 'evt_cred',
      body: '{}',
      nowMs: Date.now(),
    });
    expect(attempt.status).toBeUndefined();
    expect(attempt.error).toBeTruthy();
    expect(attempt.error).not.toContain('hunter2');
    // A URL the error quotes is shown as the destination is (its origin and digest): no
    // credentials, and no path or query either, where receivers keep tokens.
    expect(describeNetworkError(new TypeError(`fetch failed for ${WITH_PASSWORD}`))).toBe(
      `fetch failed for ${destinationRef(WITH_PASSWORD).label}`,
    );
    expect(destinationRef(WITH_PASSWORD).label).toMatch(/^http:\/\/127\.0\.0\.1:9 \(#[0-9a-f]{8}\)$/);
  });

  it('keeps the password out of the dead letter, the event and the audit trail, and out of the destination route', async () => {
    const receiver = await new Receiver().start();
    const h = await startHarness(receiver.url, { retrySchedule: [0] });
    const app = Fastify();
    app.setErrorHandler((err, _req, reply) => {
      const r = toErrorResponse(err);
      void reply.code(r.status).send(r.body);
    });
    cleanups.push(
      () => receiver.stop(),
      () => h.close(),
      () => app.close(),
    );
    h.ctx.config.webhook = { url: `http://hook:hunter2@127.0.0.1:${receiver.port}/hook`, secret: SECRET };
    await registerWebhookRoutes(app, h.ctx);
    const e = await h.events.publish('campaign.state.changed', 'camp-cred', {});
    await waitFor(async () => (await listDeadLetters(h)).length === 1, 10_000, 'dead letter');
    await waitFor(async () => (await h.audit.list('camp-cred')).length === 1, 10_000, 'audit record');
    const stored = JSON.stringify(await h.redis.hgetall(h.keys.webhookEvent(e.id)));
    expect(stored).toContain('credentials');
    expect(stored).not.toContain('hunter2');
    expect(JSON.stringify(await h.audit.list('camp-cred'))).not.toContain('hunter2');

    const destination = await app.inject({ method: 'GET', url: '/admin/webhooks/destination' });
    expect(destination.json()).toMatchObject({ configured: true, enabled: true });
    expect(destination.body).not.toContain('hunter2');
    const enable = await app.inject({ method: 'POST', url: '/admin/webhooks/destination/enable' });
    expect(enable.statusCode).toBe(200);
    expect(enable.body).not.toContain('hunter2');
    expect(receiver.received).toHaveLength(0);
  });
});
