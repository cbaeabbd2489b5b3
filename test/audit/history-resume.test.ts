import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processHistoryJob } from '../../src/shared/audit/history-sync.js';
import type { AuditTrailStore } from '../../src/shared/audit/trail.js';
import { campaignConfigBaseSchema } from '../../src/shared/campaign-config.js';
import { CampaignStore } from '../../src/shared/campaign-store.js';
import type { AppContext } from '../../src/shared/context.js';
import type { CxoneClient } from '../../src/shared/cxone/client.js';
import { toCreateCampaignRequest } from '../../src/shared/cxone/to-wire.js';
import { CXONE_ENDPOINTS } from '../../src/shared/cxone/wire.js';
import { CxoneNotFoundError } from '../../src/shared/errors.js';
import type { RunningSandbox } from '../../src/sandbox/server.js';
import { startAuditHarness, type AuditHarness } from './cxone-harness.js';

// The sandbox's default page: 50 records.
const PAGE = 50;

let harness: AuditHarness;
let sandbox: RunningSandbox;
let client: CxoneClient;
let trail: AuditTrailStore;
let store: CampaignStore;
let ctx: AppContext;
let app: FastifyInstance;
/** Pages of history CXone was asked for, per campaign. */
const historyPages = new Map<string, number>();
/** When set, CXone answers this status to a walk started from a stored cursor (it expired, say). */
let refuseCursorWith: number | null = null;

beforeAll(async () => {
  harness = await startAuditHarness({
    // Building histories of a hundred versions takes more PATCHes than CXone's default minute allows.
    sandbox: { seed: 11, rateLimit: { perWindow: 5000, windowMs: 60_000 } },
    // The imports' CXone client counts the history pages it is asked for.
    wrapCxone: (inner) => ({
      ...inner,
      async *history(id, opts) {
        if (opts?.from !== undefined && refuseCursorWith === 404) {
          throw new CxoneNotFoundError({ endpoint: CXONE_ENDPOINTS.getHistory, status: 404, campaignId: id });
        }
        for await (const page of inner.history(id, opts)) {
          historyPages.set(id, (historyPages.get(id) ?? 0) + 1);
          yield page;
        }
      },
    }),
  });
  ({ sandbox, client, trail, ctx, app } = harness);
  store = new CampaignStore(ctx);
});

afterAll(async () => {
  await harness?.close();
});

/** A campaign with `changes` versions after its creation, known to the orchestrator at the last. */
async function campaignWithHistory(changes: number): Promise<string> {
  const example = campaignConfigBaseSchema.parse(
    JSON.parse(readFileSync(new URL('../../examples/campaign.json', import.meta.url), 'utf8')),
  );
  const created = await client.createCampaign(toCreateCampaignRequest(example));
  let version = created.version;
  for (let i = 1; i <= changes; i++) {
    version = (await client.updateCampaign(created.id, version, { name: `paced ${i}` })).version;
  }
  await store.syncFromCxone(await client.getCampaign(created.id));
  return created.id;
}

/** An edit in CXone's console; returns the version it made. */
async function consoleEdit(campaignId: string, callRate: number): Promise<number> {
  const res = await fetch(`${sandbox.url}/__sandbox/campaigns/${campaignId}/console`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ dialerSettings: { callRate } }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { version: number }).version;
}

async function historyIds(campaignId: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const page of client.history(campaignId, { pageSize: 500 })) {
    for (const record of page.records) ids.push(record.id);
  }
  return ids;
}

describe('CXone history imports after an outside change', () => {
  it('start where the last one ended instead of walking the whole history again', async () => {
    const campaignId = await campaignWithHistory(2 * PAGE + 10);
    const first = await consoleEdit(campaignId, 0.7);
    historyPages.set(campaignId, 0);
    expect(await processHistoryJob(ctx, { data: { campaignId, version: first } })).toMatchObject({
      outcome: 'imported',
      result: { imported: first, pages: 3, lastVersion: first },
    });
    expect(historyPages.get(campaignId)).toBe(3);

    // A second console edit: only the page the last walk ended on is read again, and only what is new
    // is appended.
    const second = await consoleEdit(campaignId, 0.8);
    historyPages.set(campaignId, 0);
    expect(await processHistoryJob(ctx, { data: { campaignId, version: second } })).toMatchObject({
      outcome: 'imported',
      result: { imported: 1, skipped: first - 2 * PAGE, pages: 1, lastVersion: second },
    });
    expect(historyPages.get(campaignId)).toBe(1);

    // Every CXone record is in the trail exactly once, in a chain that verifies.
    const imported = (await trail.list(campaignId)).map((r) => r.details.historyId);
    expect(imported).toEqual(await historyIds(campaignId));
    expect(await trail.verify(campaignId)).toMatchObject({ ok: true });
  });

  it('walk the whole history when CXone refuses the cursor the last one ended on', async () => {
    const campaignId = await campaignWithHistory(PAGE + 5);
    const first = await consoleEdit(campaignId, 0.7);
    await processHistoryJob(ctx, { data: { campaignId, version: first } });
    // CXone no longer honours the cursor (expired, say).
    await store.patch(campaignId, { historyResumeCursor: 'expired-cursor' });

    const second = await consoleEdit(campaignId, 0.8);
    historyPages.set(campaignId, 0);
    expect(await processHistoryJob(ctx, { data: { campaignId, version: second } })).toMatchObject({
      outcome: 'imported',
      result: { imported: 1, skipped: first, pages: 2, lastVersion: second, restarted: true },
    });
    // The refused cursor is replaced by where the whole walk ended, so the next import is short again.
    const cursor = (await store.get(campaignId))?.historyResumeCursor;
    expect(cursor).toEqual(expect.any(String));
    expect(cursor).not.toBe('expired-cursor');
    const third = await consoleEdit(campaignId, 0.9);
    historyPages.set(campaignId, 0);
    await processHistoryJob(ctx, { data: { campaignId, version: third } });
    expect(historyPages.get(campaignId)).toBe(1);
    expect((await trail.list(campaignId)).map((r) => r.details.historyId)).toEqual(
      await historyIds(campaignId),
    );
  });

  it('walk the whole history when CXone answers 404 to the cursor (the campaign was just read)', async () => {
    const campaignId = await campaignWithHistory(PAGE + 5);
    const first = await consoleEdit(campaignId, 0.7);
    await processHistoryJob(ctx, { data: { campaignId, version: first } });
    const second = await consoleEdit(campaignId, 0.8);
    refuseCursorWith = 404;
    try {
      expect(await processHistoryJob(ctx, { data: { campaignId, version: second } })).toMatchObject({
        outcome: 'imported',
        result: { imported: 1, skipped: first, pages: 2, lastVersion: second, restarted: true },
      });
    } finally {
      refuseCursorWith = null;
    }
    expect((await store.get(campaignId))?.historyImportedVersion).toBe(second);
  });

  it('by hand (the API), still walk the whole history and answer only the counts', async () => {
    const campaignId = await campaignWithHistory(PAGE + 5);
    const edit = await consoleEdit(campaignId, 0.7);
    await processHistoryJob(ctx, { data: { campaignId, version: edit } });
    historyPages.set(campaignId, 0);
    const res = await app.inject({ method: 'POST', url: `/v1/campaigns/${campaignId}/audit/import-history` });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ campaignId, imported: 0, skipped: edit, pages: 2, lastVersion: edit });
    expect(historyPages.get(campaignId)).toBe(2);
  });
});
