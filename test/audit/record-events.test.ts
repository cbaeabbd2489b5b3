import { Writable } from 'node:stream';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { auditRecordPublisher } from '../../src/shared/audit/record-events.js';
import { auditStoreFor, createAuditTrail } from '../../src/shared/audit/trail.js';
import type { AuditInput, AuditRecord } from '../../src/shared/audit/types.js';
import { loadConfig } from '../../src/shared/config.js';
import type { AppContext } from '../../src/shared/context.js';
import { createContext, type ClosableContext } from '../../src/shared/context-factory.js';
import type { EventPublisherStore } from '../../src/shared/events/publisher.js';
import type { EventEnvelope, EventPublisher } from '../../src/shared/events/types.js';
import { createKeys } from '../../src/shared/keys.js';
import { silentLogger } from '../../src/shared/logger.js';
import { connect, deletePrefix, REDIS_URL, testPrefix } from './redis-helpers.js';

/**
 * WEBHOOK_AUDIT_RECORDS: every appended audit record is published as `audit.record.appended`, built
 * by the real context factory (the wiring from config to trail is what is tested), on real Redis.
 * Nothing delivers here: the webhook jobs stay queued under the test's prefix and are deleted with it.
 */

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
/** Nothing listens there; no worker runs in this file, so nothing is ever sent. */
const UNUSED_URL = 'http://127.0.0.1:9/hook';

let admin: Redis;
const prefixes: string[] = [];
const contexts: ClosableContext[] = [];

beforeAll(() => {
  admin = connect();
});
afterEach(async () => {
  for (const ctx of contexts.splice(0)) await ctx.close();
});
afterAll(async () => {
  for (const prefix of prefixes) await deletePrefix(admin, prefix);
  admin.disconnect();
});

async function context(env: Record<string, string>): Promise<ClosableContext> {
  const prefix = testPrefix('audit-events');
  prefixes.push(prefix);
  const ctx = await createContext(loadConfig({ REDIS_URL, KEY_PREFIX: prefix, ...env }), silentLogger, {
    // Never called: appends and publishes do not touch CXone (and no limiter is built).
    cxone: {} as AppContext['cxone'],
  });
  contexts.push(ctx);
  // Each queue writes its metadata once when it connects; let that land before anything is measured.
  await Promise.all(Object.values(ctx.queues).map((q) => q.waitUntilReady()));
  return ctx;
}

const WEBHOOKS = { WEBHOOK_URL: UNUSED_URL, WEBHOOK_SECRET: SECRET };

const input = (campaignId: string, extra: Partial<AuditInput> = {}): AuditInput => ({
  campaignId,
  action: 'state_changed',
  actor: 'worker:test',
  cxoneVersion: 3,
  details: { from: 'active', to: 'paused', reason: 'operator' },
  ...extra,
});

async function auditEvents(ctx: AppContext, campaignId: string): Promise<EventEnvelope[]> {
  return (await (ctx.events as EventPublisherStore).recent(100, campaignId)).filter(
    (e) => e.type === 'audit.record.appended',
  );
}

/** The campaign's records exactly as the main stream holds them (field `r`), oldest first. */
async function storedRecords(ctx: AppContext, campaignId: string): Promise<AuditRecord[]> {
  const entries = (await admin.xrange(ctx.keys.auditStream(), '-', '+')) as [string, string[]][];
  return entries
    .filter(([, fields]) => fields[fields.indexOf('c') + 1] === campaignId)
    .map(([, fields]) => JSON.parse(fields[fields.indexOf('r') + 1]!) as AuditRecord);
}

/** A pino logger whose lines are kept, parsed. */
function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({}, stream), lines };
}

/** The Redis commands `ctx.redis` sends while `run` runs (the spy calls through). */
async function commandsDuring(ctx: AppContext, run: () => Promise<unknown>): Promise<string[]> {
  const spy = vi.spyOn(ctx.redis, 'sendCommand');
  try {
    await run();
    return spy.mock.calls.map(([command]) => command.name);
  } finally {
    spy.mockRestore();
  }
}

describe('audit records to the webhook destination (WEBHOOK_AUDIT_RECORDS=true)', () => {
  it('publishes one audit.record.appended per append, the stored record as data, with a webhook job', async () => {
    const ctx = await context({ ...WEBHOOKS, WEBHOOK_AUDIT_RECORDS: 'true' });
    expect(ctx.config.webhookAuditRecords).toBe(true);
    const store = auditStoreFor(ctx);

    const outcome = await store.appendWithOutcome(input('c-on'));
    expect(outcome.duplicate).toBe(false);

    const events = await auditEvents(ctx, 'c-on');
    expect(events).toHaveLength(1);
    const [event] = events;
    const [stored] = await storedRecords(ctx, 'c-on');
    // The record exactly as stored, chain links included: the receiver's copy anchors the chain.
    expect(event!.data).toEqual(stored);
    expect(event!.data).toEqual(outcome.record);
    expect(event!.data).toMatchObject({ prevHash: '', hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(event!.campaignId).toBe('c-on');
    // Stored for delivery and queued for the webhook worker, like every other event.
    expect(await (ctx.events as EventPublisherStore).get(event!.id)).not.toBeNull();
    const job = await ctx.queues.webhook.getJob(event!.id);
    expect(job?.data).toEqual({ eventId: event!.id });

    // The next record's event links to the first one's hash.
    await ctx.audit.append(input('c-on', { cxoneVersion: 4 }));
    const second = (await auditEvents(ctx, 'c-on')).find((e) => e.id !== event!.id);
    expect(second?.data).toMatchObject({ prevHash: stored!.hash, cxoneVersion: 4 });
    expect(await storedRecords(ctx, 'c-on')).toEqual([event!.data, second!.data]);
  });

  it('publishes nothing for an append the dedupe key skips', async () => {
    const ctx = await context({ ...WEBHOOKS, WEBHOOK_AUDIT_RECORDS: 'true' });
    const store = auditStoreFor(ctx);
    const record = input('c-dup', { action: 'cxone_history', dedupeKey: 'hist-1' });

    expect((await store.appendWithOutcome(record)).duplicate).toBe(false);
    expect((await store.appendWithOutcome(record)).duplicate).toBe(true);
    await ctx.audit.append(record);

    const events = await auditEvents(ctx, 'c-dup');
    expect(events).toHaveLength(1);
    expect(events[0]!.data).toEqual((await storedRecords(ctx, 'c-dup'))[0]);
    expect(await ctx.queues.webhook.getJobCounts('waiting', 'delayed', 'prioritized')).toMatchObject({
      waiting: 1,
    });
  });

  it('keeps the append when publishing fails, and logs the failure', async () => {
    const { logger, lines } = capture();
    const failing: EventPublisher = { publish: () => Promise.reject(new Error('Redis went away')) };
    const config = loadConfig({ ...WEBHOOKS, WEBHOOK_AUDIT_RECORDS: 'true' });
    const prefix = testPrefix('audit-events');
    prefixes.push(prefix);
    const trail = createAuditTrail({
      redis: admin,
      keys: createKeys(prefix),
      logger,
      onAppended: auditRecordPublisher(config, { events: failing, logger }),
    });

    const outcome = await trail.appendWithOutcome(input('c-fail'));
    expect(outcome.duplicate).toBe(false);
    expect(await trail.list('c-fail')).toEqual([outcome.record]);
    expect((await trail.verify('c-fail')).ok).toBe(true);
    expect(lines).toEqual([
      expect.objectContaining({
        level: 50,
        msg: 'event publish failed',
        type: 'audit.record.appended',
        campaignId: 'c-fail',
        auditId: outcome.record!.auditId,
        err: expect.objectContaining({ message: 'Redis went away' }),
      }),
    ]);
    expect(JSON.stringify(lines)).not.toContain(SECRET);
  });

  it('keeps the append when the after-append hook itself throws, and logs it', async () => {
    const prefix = testPrefix('audit-events');
    prefixes.push(prefix);
    const { logger, lines } = capture();
    const seen: AuditRecord[] = [];
    const trail = createAuditTrail({
      redis: admin,
      keys: createKeys(prefix),
      logger,
      onAppended: (record) => {
        seen.push(record);
        return Promise.reject(new Error('hook broke'));
      },
    });
    const outcome = await trail.appendWithOutcome(input('c-hook'));
    expect(outcome.duplicate).toBe(false);
    expect(seen).toEqual([outcome.record]);
    expect(await trail.list('c-hook')).toEqual([outcome.record]);
    expect(lines).toEqual([
      expect.objectContaining({
        level: 50,
        msg: 'audit record appended, but its after-append hook failed',
        campaignId: 'c-hook',
        auditId: outcome.record!.auditId,
      }),
    ]);
  });
});

describe('audit records to the webhook destination, off', () => {
  it.each([
    ['WEBHOOK_AUDIT_RECORDS unset', WEBHOOKS, false],
    ['WEBHOOK_AUDIT_RECORDS=false', { ...WEBHOOKS, WEBHOOK_AUDIT_RECORDS: 'false' }, false],
    ['no WEBHOOK_URL', { WEBHOOK_AUDIT_RECORDS: 'true' }, true],
  ] as const)('publishes nothing and adds no Redis work to the append (%s)', async (_name, env, flag) => {
    const ctx = await context(env);
    expect(ctx.config.webhookAuditRecords).toBe(flag);
    expect(auditRecordPublisher(ctx.config, { events: ctx.events, logger: silentLogger })).toBeUndefined();
    // The first append may load the script (NOSCRIPT, then EVAL); the one measured runs as it always will.
    await ctx.audit.append(input('c-off'));
    const commands = await commandsDuring(ctx, () => ctx.audit.append(input('c-off')));
    expect(commands).toEqual(['evalsha']);
    expect(await auditEvents(ctx, 'c-off')).toEqual([]);
    expect(await storedRecords(ctx, 'c-off')).toHaveLength(2);
  });
});
