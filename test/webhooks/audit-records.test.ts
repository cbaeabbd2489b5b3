import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { hashRecord } from '../../src/shared/audit/canonical.js';
import { auditStoreFor } from '../../src/shared/audit/trail.js';
import type { AuditRecord } from '../../src/shared/audit/types.js';
import { loadConfig } from '../../src/shared/config.js';
import type { AppContext } from '../../src/shared/context.js';
import { createContext, type ClosableContext } from '../../src/shared/context-factory.js';
import type { EventEnvelope } from '../../src/shared/events/types.js';
import { silentLogger } from '../../src/shared/logger.js';
import { listDeadLetters } from '../../src/shared/webhooks/store.js';
import { createWebhookWorker } from '../../src/workers/webhook-worker.js';
import { connect, deletePrefix, REDIS_URL, testPrefix } from '../audit/redis-helpers.js';
import { FAST_SCHEDULE, Receiver, SECRET, waitFor } from './harness.js';

/**
 * WEBHOOK_AUDIT_RECORDS end to end: the context the fleet builds, the real webhook worker, a real
 * receiver verifying signatures.
 */

interface Stack {
  ctx: ClosableContext;
  worker: Worker;
  receiver: Receiver;
  admin: Redis;
  prefix: string;
}

let stack: Stack | undefined;

afterEach(async () => {
  if (!stack) return;
  const { ctx, worker, receiver, admin, prefix } = stack;
  stack = undefined;
  await worker.close(true);
  await ctx.close();
  await receiver.stop();
  await deletePrefix(admin, prefix);
  admin.disconnect();
});

async function start(respond: Receiver['respond']): Promise<Stack> {
  const receiver = await new Receiver().start();
  receiver.respond = respond;
  const prefix = testPrefix('audit-hooks');
  const ctx = await createContext(
    loadConfig({
      REDIS_URL,
      KEY_PREFIX: prefix,
      WEBHOOK_URL: receiver.url,
      WEBHOOK_SECRET: SECRET,
      WEBHOOK_AUDIT_RECORDS: 'true',
    }),
    silentLogger,
    { cxone: {} as AppContext['cxone'] },
  );
  const worker = createWebhookWorker(ctx, { timeoutMs: 2_000, retrySchedule: FAST_SCHEDULE });
  await worker.waitUntilReady();
  stack = { ctx, worker, receiver, admin: connect(), prefix };
  return stack;
}

describe('audit.record.appended delivery', () => {
  it('delivers each record, signed, so the receiver can check its hash and its link', async () => {
    const { ctx, receiver } = await start(() => ({ status: 200 }));
    const store = auditStoreFor(ctx);
    const first = (
      await store.appendWithOutcome({
        campaignId: 'c-hook',
        action: 'campaign_created',
        actor: 'worker:launch',
        cxoneVersion: 1,
        details: { launchId: 'l-1' },
      })
    ).record!;
    const second = (
      await store.appendWithOutcome({
        campaignId: 'c-hook',
        action: 'campaign_launched',
        actor: 'worker:launch',
        cxoneVersion: 2,
        details: { launchId: 'l-1' },
      })
    ).record!;

    await waitFor(() => receiver.successes().length >= 2, 10_000, 'both records delivered');
    const received = receiver.successes().map((r) => JSON.parse(r.body) as EventEnvelope);
    expect(receiver.received.every((r) => r.signatureValid)).toBe(true);
    expect(received.map((e) => e.type)).toEqual(['audit.record.appended', 'audit.record.appended']);
    // Ordered by the records' own links, not by arrival.
    const byAuditId = new Map(received.map((e) => [e.data.auditId, e.data as unknown as AuditRecord]));
    const [a, b] = [byAuditId.get(first.auditId)!, byAuditId.get(second.auditId)!];
    expect([a, b]).toEqual([first, second]);
    expect(hashRecord(a)).toBe(a.hash);
    expect(hashRecord(b)).toBe(b.hash);
    expect(b.prevHash).toBe(a.hash);
  });

  it('does not audit a failed delivery of an audit record (which would be published, fail, be audited…)', async () => {
    const { ctx, receiver } = await start(() => ({ status: 400, body: 'unknown event type' }));
    await ctx.audit.append({
      campaignId: 'c-reject',
      action: 'state_changed',
      actor: 'api:test',
      details: { from: 'active', to: 'paused' },
    });

    const deps = { redis: ctx.redis, keys: ctx.keys };
    await waitFor(async () => (await listDeadLetters(deps)).length >= 1, 10_000, 'the dead letter');
    // Long enough for a loop to show: each turn is one local HTTP exchange and a few Redis round trips.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(receiver.received).toHaveLength(1);
    expect(await listDeadLetters(deps)).toEqual([
      expect.objectContaining({ reason: 'rejected', status: 400 }),
    ]);
    expect((await auditStoreFor(ctx).list('c-reject')).map((r) => r.action)).toEqual(['state_changed']);
  });
});
