import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { buildOpenApiDocument } from '../../src/producers/openapi.js';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignConfigBaseSchema } from '../../src/shared/campaign-config.js';
import type { AppContext } from '../../src/shared/context.js';
import type { FastifyInstance } from 'fastify';
import type { CxoneClient } from '../../src/shared/cxone/client.js';
import { toCreateCampaignRequest } from '../../src/shared/cxone/to-wire.js';
import { createAuditTrail, type AuditTrailStore } from '../../src/shared/audit/trail.js';
import { ManualClock } from '../../src/shared/clock.js';
import { silentLogger } from '../../src/shared/logger.js';
import { importCxoneHistory } from '../../src/shared/audit/history-import.js';
import { processHistoryJob } from '../../src/shared/audit/history-sync.js';
import { CampaignStore } from '../../src/shared/campaign-store.js';
import type { Keys } from '../../src/shared/keys.js';
import type { EventPublisherStore } from '../../src/shared/events/publisher.js';
import type { RunningSandbox } from '../../src/sandbox/server.js';
import { startAuditHarness, type AuditHarness } from './cxone-harness.js';
import { knownCampaign } from './redis-helpers.js';

let harness: AuditHarness;
let sandbox: RunningSandbox;
let client: CxoneClient;
let redis: Redis;
let keys: Keys;
let trail: AuditTrailStore;
let ctx: AppContext;
let app: FastifyInstance;
let campaignId: string;

beforeAll(async () => {
  harness = await startAuditHarness({ sandbox: { seed: 7 } });
  ({ sandbox, client, redis, keys, trail, ctx, app } = harness);

  const example = campaignConfigBaseSchema.parse(
    JSON.parse(readFileSync(new URL('../../examples/campaign.json', import.meta.url), 'utf8')),
  );
  const created = await client.createCampaign(toCreateCampaignRequest(example));
  campaignId = created.id;
  let version = created.version;
  for (let i = 1; i <= 4; i++) {
    version = (await client.updateCampaign(campaignId, version, { name: `renamed ${i}` })).version;
  }
});

afterAll(async () => {
  await harness?.close();
});

describe('CXone history import', () => {
  it('imports every history page once; a re-import adds nothing new', async () => {
    const first = await importCxoneHistory(ctx, campaignId, { pageSize: 2 });
    expect(first.imported).toBeGreaterThanOrEqual(5);
    expect(first.skipped).toBe(0);
    expect(first.pages).toBeGreaterThanOrEqual(3);
    const records = await trail.list(campaignId);
    expect(records).toHaveLength(first.imported);
    expect(records.every((r) => r.action === 'cxone_history' && r.actor.startsWith('cxone:'))).toBe(true);
    expect(new Set(records.map((r) => r.details.historyId)).size).toBe(records.length);
    expect(records.map((r) => r.cxoneVersion)).toContain(5);

    const again = await importCxoneHistory(ctx, campaignId, { pageSize: 3 });
    expect(again).toMatchObject({ imported: 0, skipped: first.imported });
    expect(await trail.list(campaignId)).toHaveLength(first.imported);
    expect(await trail.verify(campaignId)).toMatchObject({ ok: true });
  });

  it('imports only what is new after more changes', async () => {
    const before = (await trail.list(campaignId)).length;
    const current = await client.getCampaign(campaignId);
    await client.updateCampaign(campaignId, current.version, { name: 'renamed again' });
    const res = await app.inject({ method: 'POST', url: `/v1/campaigns/${campaignId}/audit/import-history` });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ campaignId, imported: 1, skipped: before });
  });

  it('the import job for a campaign changed in CXone brings in who did it, once per version it covers', async () => {
    const store = new CampaignStore(ctx);
    await store.syncFromCxone(await client.getCampaign(campaignId));
    // Someone edits the campaign in CXone's console.
    const consoleChange = await fetch(`${sandbox.url}/__sandbox/campaigns/${campaignId}/console`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ dialerSettings: { callRate: 0.9 } }),
    });
    const changed = (await consoleChange.json()) as { version: number };

    const job = { data: { campaignId, version: changed.version } };
    const first = await processHistoryJob(ctx, job);
    expect(first).toMatchObject({
      outcome: 'imported',
      result: { imported: 1, lastVersion: changed.version },
    });
    const trailNow = await trail.list(campaignId);
    expect(trailNow.at(-1)).toMatchObject({
      action: 'cxone_history',
      actor: 'cxone:console-operator',
      cxoneVersion: changed.version,
      details: { changes: { 'dialerSettings.callRate': { from: 0.6, to: 0.9 } } },
    });
    expect((await store.get(campaignId))?.historyImportedVersion).toBe(changed.version);
    // The same version seen again (another reader, a burst of jobs), or an older one: nothing to walk.
    expect(await processHistoryJob(ctx, job)).toEqual({ outcome: 'covered' });
    expect(await processHistoryJob(ctx, { data: { campaignId, version: changed.version - 1 } })).toEqual({
      outcome: 'covered',
    });
    expect(await trail.list(campaignId)).toHaveLength(trailNow.length);
  });

  it('retries an import whose history does not hold the version that prompted it yet', async () => {
    const latest = await client.getCampaign(campaignId);
    // A version CXone's history does not (yet) have: the job fails, to be retried with backoff.
    await expect(
      processHistoryJob(ctx, { data: { campaignId, version: latest.version + 1 } }),
    ).rejects.toThrow(`holds versions up to ${latest.version}, not yet ${latest.version + 1}`);
    // What it did walk is noted, so the retry and later jobs do not walk it for nothing.
    expect((await new CampaignStore(ctx).get(campaignId))?.historyImportedVersion).toBe(latest.version);
  });

  it('answers 404 for a campaign CXone does not know', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/campaigns/no-such-campaign/audit/import-history',
    });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ error: 'not_found' });
  });
});

describe('GET /v1/campaigns/:id/audit', () => {
  it('walks the trail page by page with nextCursor, without gaps or repeats', async () => {
    for (let i = 0; i < 7; i++) {
      await trail.append({
        campaignId: 'c-api',
        action: 'pacing_decision',
        actor: 'worker:poll',
        details: { i },
      });
    }
    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const url: string = `/v1/campaigns/c-api/audit?limit=3${cursor ? `&cursor=${cursor}` : ''}`;
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode).toBe(200);
      const body = res.json() as { records: { details: { i: number } }[]; nextCursor: string | null };
      seen.push(...body.records.map((r) => r.details.i));
      cursor = body.nextCursor;
      pages++;
    } while (cursor);
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(pages).toBe(3);
  });

  it('reports the records it cannot return as gaps (missing, unparseable), as its OpenAPI schema says', async () => {
    for (let i = 0; i < 4; i++) {
      await trail.append({
        campaignId: 'c-gaps',
        action: 'pacing_decision',
        actor: 'worker:poll',
        details: { i },
      });
    }
    const index = (await redis.xrange(keys.auditCampaignIndex('c-gaps'), '-', '+')) as [string, string[]][];
    const [, missing, damaged] = index;
    await redis.xdel(keys.auditStream(), missing![0]);
    // The stream rewritten with the same ids, one record's text replaced by text that is no record.
    const all = (await redis.xrange(keys.auditStream(), '-', '+')) as [string, string[]][];
    await redis.del(keys.auditStream());
    for (const [id, fields] of all) {
      await redis.xadd(
        keys.auditStream(),
        id,
        ...(id === damaged![0] ? ['c', 'c-gaps', 'r', '{"auditId":'] : fields),
      );
    }
    const res = await app.inject({ method: 'GET', url: '/v1/campaigns/c-gaps/audit?limit=3' });
    expect(res.statusCode).toBe(200);
    const body = res.json() as {
      records: { details: { i: number } }[];
      nextCursor: string | null;
      gaps?: unknown[];
    };
    expect(body.records.map((r) => r.details.i)).toEqual([0]);
    expect(body.gaps).toEqual([
      { streamId: missing![0], reason: 'missing', auditId: missing![1][1] },
      { streamId: damaged![0], reason: 'unparseable', auditId: damaged![1][1] },
    ]);
    // The cursor still moves past them; the next page has none.
    const next = await app.inject({
      method: 'GET',
      url: `/v1/campaigns/c-gaps/audit?cursor=${body.nextCursor}`,
    });
    expect(next.json()).toEqual({
      records: [expect.objectContaining({ details: { i: 3 } })],
      nextCursor: null,
    });
    // The generated OpenAPI document (from the zod schemas) accepts the page, gaps included.
    const doc = buildOpenApiDocument() as { components: Record<string, unknown> };
    const ajv = new Ajv2020({ strict: false });
    ajv.addSchema({ $id: 'doc', components: doc.components });
    expect(ajv.validate({ $ref: 'doc#/components/schemas/AuditPage' }, body), ajv.errorsText()).toBe(true);
    expect(
      ajv.validate(
        { $ref: 'doc#/components/schemas/AuditPage' },
        { ...body, gaps: [{ streamId: '1-1', reason: 'gone' }] },
      ),
    ).toBe(false);
  });

  it('defaults to 50 records and validates limit and cursor', async () => {
    for (let i = 0; i < 51; i++) {
      await trail.append({
        campaignId: 'c-default',
        action: 'pacing_decision',
        actor: 'worker:poll',
        details: { i },
      });
    }
    const res = await app.inject({ method: 'GET', url: '/v1/campaigns/c-default/audit' });
    const first = res.json() as { records: { details: { i: number } }[]; nextCursor: string | null };
    expect(first.records.map((r) => r.details.i)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    const rest = await app.inject({
      method: 'GET',
      url: `/v1/campaigns/c-default/audit?cursor=${first.nextCursor}`,
    });
    expect(rest.json()).toMatchObject({ records: [{ details: { i: 50 } }], nextCursor: null });
    // A cursor of the right shape whose numbers no stream id can hold (Redis refuses it) is as invalid
    // as one of the wrong shape: a 400 naming the field, not a server error.
    for (const query of [
      'limit=0',
      'limit=501',
      'limit=abc',
      'cursor=abc',
      'cursor=18446744073709551616-0',
      'cursor=1-99999999999999999999999',
    ]) {
      const bad = await app.inject({ method: 'GET', url: `/v1/campaigns/c-api/audit?${query}` });
      expect(bad.statusCode, query).toBe(400);
      expect(bad.json()).toMatchObject({ error: 'validation_failed' });
      if (query.startsWith('cursor')) expect(bad.json().issues, query).toMatchObject([{ path: 'cursor' }]);
    }
    // The largest stream id is a cursor like any other: past the end, an empty last page.
    const last = await app.inject({
      method: 'GET',
      url: '/v1/campaigns/c-api/audit?cursor=18446744073709551615-18446744073709551615',
    });
    expect(last.statusCode).toBe(200);
    expect(last.json()).toEqual({ records: [], nextCursor: null });
    const empty = await app.inject({ method: 'GET', url: '/v1/campaigns/never-audited/audit' });
    expect(empty.json()).toEqual({ records: [], nextCursor: null });
  });

  it('the OpenAPI cursor pattern admits exactly the cursors the route accepts, past 2^63 too', async () => {
    const doc = buildOpenApiDocument() as {
      paths: Record<string, { get: { parameters: { name: string; schema?: { pattern?: string } }[] } }>;
    };
    const param = doc.paths['/v1/campaigns/{campaignId}/audit']!.get.parameters.find(
      (p) => p.name === 'cursor',
    );
    const pattern = new RegExp(param!.schema!.pattern!, 'u');
    const cases: [string, boolean][] = [
      ['0-0', true],
      ['1700000000000-5', true],
      ['9223372036854775807-0', true], // 2^63 - 1
      ['9223372036854775808-0', true], // 2^63
      ['1-9223372036854775809', true],
      ['18446744073709551614-18446744073709551615', true],
      ['18446744073709551615-18446744073709551615', true], // 2^64 - 1, the largest stream id
      ['00000000000000000001-0', true], // leading zeros, 20 digits: Redis reads it as 1
      ['18446744073709551616-0', false], // 2^64
      ['1-18446744073709551616', false],
      ['18446744073709551620-0', false],
      ['19000000000000000000-0', false],
      ['99999999999999999999-0', false],
      ['000000000000000000001-0', false], // 21 digits
      ['1-99999999999999999999999', false],
      ['1-', false],
      ['-1', false],
      ['1', false],
      ['abc', false],
    ];
    for (const [cursor, accepted] of cases) {
      const res = await app.inject({ method: 'GET', url: `/v1/campaigns/c-pattern/audit?cursor=${cursor}` });
      expect(res.statusCode, cursor).toBe(accepted ? 200 : 400);
      expect(pattern.test(cursor), `OpenAPI pattern on ${cursor}`).toBe(accepted);
    }
  });

  it('treats empty cursor and limit (`?cursor=&limit=`, as CONTRACT.md spells it) as not given', async () => {
    for (let i = 0; i < 3; i++) {
      await trail.append({
        campaignId: 'c-empty-q',
        action: 'pacing_decision',
        actor: 'worker:poll',
        details: { i },
      });
    }
    for (const query of ['cursor=&limit=', 'cursor=', 'limit=', 'cursor=&limit=2']) {
      const res = await app.inject({ method: 'GET', url: `/v1/campaigns/c-empty-q/audit?${query}` });
      expect(res.statusCode, query).toBe(200);
      const body = res.json() as { records: { details: { i: number } }[]; nextCursor: string | null };
      const expected = query.endsWith('limit=2') ? [0, 1] : [0, 1, 2];
      expect(
        body.records.map((r) => r.details.i),
        query,
      ).toEqual(expected);
    }
  });

  it('verifies a chain over HTTP and names a broken link', async () => {
    const ok = await app.inject({ method: 'GET', url: '/v1/campaigns/c-api/audit/verify' });
    expect(ok.json()).toMatchObject({ ok: true, checked: 7 });
    // An id with no records at all is not a verified chain.
    const unknown = await app.inject({ method: 'GET', url: '/v1/campaigns/c-api-typo/audit/verify' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({
      error: 'not_found',
      message: expect.stringMatching(/no audit records/),
    });
    const [id] = (await redis.xrange(keys.auditCampaignIndex('c-api'), '-', '+', 'COUNT', 2)).slice(1);
    await redis.xdel(keys.auditStream(), id![0]);
    await redis.xdel(keys.auditCampaignIndex('c-api'), id![0]);
    const broken = await app.inject({ method: 'GET', url: '/v1/campaigns/c-api/audit/verify' });
    expect(broken.json()).toMatchObject({ ok: false, firstBroken: { index: 1, reason: 'missing_previous' } });
    // The alert went out as an event (recorded even though webhooks are off in this context).
    const events = await (ctx.events as EventPublisherStore).recent(5, 'c-api');
    expect(events.map((e) => e.type)).toEqual(['audit.chain.alert']);
  });
});

describe('GET /v1/campaigns/:id/audit/verify after retention trimmed every record', () => {
  // Last in this file: the trim removes every record of the harness's trail.
  it("answers a known campaign's intact chain with its cut and anchor, not 404; a chain of no campaign record it removed, as a removed campaign's", async () => {
    await knownCampaign(redis, keys, 'c-trimmed');
    await trail.append({ campaignId: 'c-trimmed', action: 'state_changed', actor: 'api:ops', details: {} });
    const head = await redis.get(keys.auditChainHead('c-trimmed'));
    // No campaign record: a console-made campaign whose history was imported by hand, say.
    await trail.append({ campaignId: 'c-orphan', action: 'cxone_history', actor: 'cxone:ops', details: {} });
    const clock = new ManualClock(Date.now() + 2 * 86_400_000);
    const trimmer = createAuditTrail({ redis, keys, logger: silentLogger, clock, retentionDays: 1 });
    expect((await trimmer.applyRetention()).removedChains).toBeGreaterThanOrEqual(1);
    const res = await app.inject({ method: 'GET', url: '/v1/campaigns/c-trimmed/audit/verify' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      ok: true,
      checked: 0,
      campaigns: 1,
      retentionCuts: [
        { campaignId: 'c-trimmed', before: new Date(clock.now() - 86_400_000).toISOString(), anchor: head },
      ],
    });
    // The chain of no campaign record is gone whole, answered as an id that never had a record.
    const orphan = await app.inject({ method: 'GET', url: '/v1/campaigns/c-orphan/audit/verify' });
    expect(orphan.statusCode).toBe(404);
    expect(orphan.json()).toMatchObject({
      error: 'not_found',
      message: 'no audit records for campaign c-orphan',
    });
    const paged = await app.inject({ method: 'GET', url: '/v1/campaigns/c-orphan/audit' });
    expect(paged.statusCode).toBe(200);
    expect(paged.json()).toEqual({ records: [], nextCursor: null });
    expect(await redis.exists(keys.auditChainHead('c-orphan'))).toBe(0);
    // An id that never had a record is still not found.
    const unknown = await app.inject({ method: 'GET', url: '/v1/campaigns/c-never/audit/verify' });
    expect(unknown.statusCode).toBe(404);
  });
});
