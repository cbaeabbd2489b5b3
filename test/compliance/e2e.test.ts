import { randomUUID } from 'node:crypto';
import type { Worker } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApiApp } from '../../src/producers/app.js';
import { createAuditTrail } from '../../src/shared/audit/trail.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server.js';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import { ManualClock } from '../../src/shared/clock.js';
import {
  scheduleWindowEnforcement,
  windowJobId,
  windowJobOf,
  type WindowJob,
} from '../../src/shared/compliance/enforcement.js';
import { getWindowState } from '../../src/shared/compliance/state-store.js';
import { loadConfig } from '../../src/shared/config.js';
import { createContext, type ClosableContext } from '../../src/shared/context-factory.js';
import { toCreateCampaignRequest } from '../../src/shared/cxone/to-wire.js';
import { getCommand } from '../../src/shared/lifecycle/enqueue.js';
import { silentLogger } from '../../src/shared/logger.js';
import { createAdjustWorker } from '../../src/workers/adjust-worker.js';
import { createComplianceWorker } from '../../src/workers/compliance-worker.js';
import { config } from './fixtures.js';
import { eventually, REDIS_URL } from './redis-context.js';
import { deletePrefix } from '../support/redis-prefix.js';

/*
 * The whole chain on real parts: the CXone sandbox over HTTP, the real context (limiter, client,
 * audit, events), the lifecycle's adjust worker and the compliance worker. A campaign active on the
 * sandbox is paused on CXone at its window's close and resumed at the next open; an operator's resume
 * in between is refused by the API with the reason. Time is a ManualClock; the window job is promoted
 * instead of waiting for its delay.
 */
const weekdays = config(); // America/New_York, Mon–Fri 09:00–17:00
const t = (iso: string) => Date.parse(iso);

let sandbox: RunningSandbox;
let ctx: ClosableContext;
let clock: ManualClock;
let workers: Worker[] = [];
let api: FastifyInstance;
let prefix: string;

beforeAll(async () => {
  sandbox = await startSandbox({ rateLimit: { perWindow: 100_000, windowMs: 60_000 } });
  prefix = `{cxo-test-${randomUUID().slice(0, 8)}}`;
  clock = new ManualClock(t('2026-03-06T21:30:00Z')); // Friday 16:30 EST
  const appConfig = loadConfig({
    REDIS_URL,
    CXONE_BASE_URL: sandbox.url,
    CXONE_CLIENT_ID: 'sandbox-client',
    CXONE_CLIENT_SECRET: 'sandbox-secret',
    API_TOKEN: 'compliance-test-token',
    KEY_PREFIX: prefix,
    CXONE_RATE_LIMIT_PER_MIN: '100000',
  });
  ctx = await createContext(appConfig, silentLogger, { clock });
  workers = [createAdjustWorker(ctx), createComplianceWorker(ctx)];
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  api = await buildApiApp(ctx);
});

afterAll(async () => {
  await api?.close();
  await Promise.all(workers.map((w) => w.close()));
  await ctx?.close();
  await sandbox?.close();
  const { Redis } = await import('ioredis');
  const redis = new Redis(REDIS_URL);
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

async function activeCampaign(): Promise<string> {
  const created = await ctx.cxone.createCampaign(toCreateCampaignRequest(weekdays));
  let resource = await ctx.cxone.getCampaign(created.id);
  for (const status of ['scheduled', 'active'] as const) {
    resource = await ctx.cxone.updateCampaign(created.id, resource.version, { status });
  }
  await createCampaignStore(ctx).syncFromCxone(resource, { config: weekdays });
  return created.id;
}

/** Moves the clock, fires the window job now and waits until it planned its next firing. */
async function fire(id: string, iso: string): Promise<WindowJob> {
  clock.set(t(iso));
  const job = await ctx.queues.compliance.getJob(windowJobId(id));
  if (!job) throw new Error('window job missing');
  const before = windowJobOf(job);
  await job.promote();
  return eventually(async () => {
    const current = await ctx.queues.compliance.getJob(windowJobId(id));
    if (!current || (await current.getState()) !== 'delayed') return undefined;
    const data = windowJobOf(current);
    return data.atMs !== before.atMs || data.kind !== before.kind ? data : undefined;
  }, 15_000);
}

const statusOnCxone = async (id: string) => (await ctx.cxone.getCampaign(id)).status;

describe('calling-window enforcement against the sandbox', () => {
  it('pauses on CXone at the close, refuses a manual resume, resumes on CXone at the open', async () => {
    const id = await activeCampaign();
    await scheduleWindowEnforcement(ctx, id);
    expect((await ctx.queues.compliance.getJob(windowJobId(id)))?.data).toMatchObject({
      kind: 'close',
      atMs: t('2026-03-06T22:00:00Z'),
    });

    await fire(id, '2026-03-06T22:00:00Z');
    await eventually(async () => ((await statusOnCxone(id)) === 'paused' ? true : undefined), 15_000);

    // Saturday: an operator's resume is refused with the reason, nothing changes on CXone.
    clock.set(t('2026-03-07T15:00:00Z'));
    const refused = await api.inject({
      method: 'POST',
      url: `/v1/campaigns/${id}/actions`,
      headers: { authorization: 'Bearer compliance-test-token' },
      payload: { action: 'resume' },
    });
    expect(refused.statusCode).toBe(409);
    expect(refused.body).toMatch(/outside the campaign's calling windows/);
    expect(refused.body).toMatch(/2026-03-09T09:00:00-04:00/);
    expect(await statusOnCxone(id)).toBe('paused');

    // Once the pause landed, the lifecycle re-planned enforcement but kept the pending 30 s re-check;
    // the re-check finds the pause holding and plans the open, Monday 09:00 EDT (after the
    // spring-forward weekend).
    const { pauseCommandId } = await getWindowState(ctx, id);
    await eventually(async () => {
      const command = await getCommand(ctx, pauseCommandId ?? '');
      return command?.status === 'succeeded' ? true : undefined;
    }, 15_000);
    const job = await ctx.queues.compliance.getJob(windowJobId(id));
    expect(job && windowJobOf(job)).toMatchObject({ kind: 'verify' });
    const open = await fire(id, '2026-03-07T15:00:00Z');
    expect(open).toMatchObject({ kind: 'open', atMs: t('2026-03-09T13:00:00Z') });

    await fire(id, '2026-03-09T13:00:00Z');
    await eventually(async () => ((await statusOnCxone(id)) === 'active' ? true : undefined), 15_000);

    const trail = createAuditTrail({ redis: ctx.redis, keys: ctx.keys, logger: silentLogger });
    const kinds = (await trail.list(id))
      .filter((r) => r.action === 'compliance_action')
      .map((r) => r.details.kind);
    expect(kinds).toEqual(['window_pause', 'window_resume']);
  });
});
