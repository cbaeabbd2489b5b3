import type { Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditTrailStore } from '../../src/shared/audit/trail.js';
import { createEventPublisher } from '../../src/shared/events/publisher.js';
import type { EventEnvelope } from '../../src/shared/events/types.js';
import { silentLogger } from '../../src/shared/logger.js';
import { verifyWebhook } from '../../src/shared/webhooks/sign.js';
import { createWebhookWorker } from '../../src/workers/webhook-worker.js';
import { api, campaignConfig, startStack, waitForLaunch, type Stack } from '../e2e/stack.js';
import { FAST_SCHEDULE, Receiver, SECRET, waitFor } from './harness.js';

/**
 * The end-to-end promise: a launch through the API produces at least one delivered,
 * verifiable event naming the campaign, and audit records for it. Real sandbox, real Redis, real
 * API, the real launch and webhook workers, and a real HTTP receiver.
 */
describe('launch → signed webhook + audit trail', () => {
  let stack: Stack;
  let receiver: Receiver;
  let webhookWorker: Worker;

  beforeAll(async () => {
    receiver = await new Receiver().start();
    stack = await startStack({
      launchWorker: true,
      ctxOverrides: (base) => {
        const config = { ...base.config, webhook: { url: receiver.url, secret: SECRET } };
        return {
          config,
          events: createEventPublisher({
            redis: base.redis,
            keys: base.keys,
            logger: silentLogger,
            webhookQueue: base.queues.webhook,
            enabled: true,
            clock: base.clock,
            retrySchedule: FAST_SCHEDULE,
          }),
        };
      },
    });
    webhookWorker = createWebhookWorker(stack.ctx, { retrySchedule: FAST_SCHEDULE, timeoutMs: 3_000 });
    await webhookWorker.waitUntilReady();
  });

  afterAll(async () => {
    await webhookWorker?.close(true);
    await stack?.close();
    await receiver?.stop();
  });

  it('delivers a verifiable event naming the launched campaign and records its audit trail', async () => {
    const reply = await api(stack, 'POST', '/v1/campaigns', {
      body: campaignConfig({ name: 'Webhook e2e' }),
    });
    expect(reply.status).toBe(202);
    const launch = await waitForLaunch(stack, String(reply.body.launchId));
    expect(launch.status).toBe('succeeded');
    const campaignId = String(launch.campaignId);

    const mine = () =>
      receiver.successes().filter((r) => (JSON.parse(r.body) as EventEnvelope).campaignId === campaignId);
    // Fails by timing out unless the launch's own event is delivered and every event naming the
    // campaign is marked delivered. Both are waited for, not checked once: the event comes after
    // the launch record says succeeded, and the worker marks an event delivered only once the
    // receiver's 2xx is back.
    let delivered: ReturnType<typeof mine> = [];
    await waitFor(
      async () => {
        const received = mine();
        if (
          !received.some((r) => (JSON.parse(r.body) as EventEnvelope).type === 'campaign.launch.succeeded')
        ) {
          return false;
        }
        for (const r of received) {
          if ((await stack.redis.zscore(stack.ctx.keys.webhookDelivered(), r.id)) === null) return false;
        }
        delivered = received;
        return true;
      },
      15_000,
      'the launch event delivered, and every event naming the campaign marked delivered',
    );
    for (const r of delivered) {
      expect(r.signatureValid).toBe(true);
      expect(() =>
        verifyWebhook({
          secret: SECRET,
          headers: { 'webhook-id': r.id, 'webhook-timestamp': r.timestamp, 'webhook-signature': r.signature },
          body: r.body,
        }),
      ).not.toThrow();
      const envelope = JSON.parse(r.body) as EventEnvelope;
      expect(envelope).toMatchObject({ id: r.id, version: 1, campaignId });
    }

    const page = await api(stack, 'GET', `/v1/campaigns/${campaignId}/audit?limit=500`);
    expect(page.status).toBe(200);
    const records = page.body.records as { action: string; campaignId: string }[];
    expect(records.length).toBeGreaterThanOrEqual(1);
    expect(records.every((r) => r.campaignId === campaignId)).toBe(true);
    expect(await (stack.ctx.audit as AuditTrailStore).verify(campaignId)).toMatchObject({ ok: true });
  });
});
