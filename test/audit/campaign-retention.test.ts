import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runAuditCli } from '../../src/cli/audit.js';
import { toErrorResponse } from '../../src/producers/errors.js';
import { registerCampaignRoutes } from '../../src/producers/routes/campaigns.js';
import type { Redis } from 'ioredis';
import { AuditTrimLockLostError, createAuditTrail } from '../../src/shared/audit/trail.js';
import { isPastRetention } from '../../src/shared/campaign-retention.js';
import { noteMissingOnCxone } from '../../src/shared/campaign-missing.js';
import { CampaignStore, UnknownCampaignError } from '../../src/shared/campaign-store.js';
import { ManualClock } from '../../src/shared/clock.js';
import { enforceWindow } from '../../src/shared/compliance/enforcement.js';
import { appendAction, complianceKeys, setWindowState } from '../../src/shared/compliance/state-store.js';
import type { CampaignStatus } from '../../src/shared/cxone/wire.js';
import { createKeys, type Keys } from '../../src/shared/keys.js';
import { LAUNCH_FAILED_REASON, launchAuditId } from '../../src/shared/launch-store.js';
import { createCommandEffects } from '../../src/shared/lifecycle/effects.js';
import { silentLogger } from '../../src/shared/logger.js';
import { campaignConfig, resource, statsOf } from '../lifecycle/fixtures.js';
import { startAuditHarness, type AuditHarness } from './cxone-harness.js';
import {
  deletePrefix,
  knownCampaign,
  loseTrimLockOn,
  REDIS_URL,
  testPrefix,
  trimCliEnv,
} from './redis-helpers.js';

/**
 * The audit retention trim also removes what Redis keeps of campaigns that ended before the
 * retention (docs/operations.md, "What Redis keeps"): real Redis under the harness's own prefix, the
 * campaign view route over Fastify.
 */

const DAY = 86_400_000;
let harness: AuditHarness;
let app: FastifyInstance;
const now = Date.now();

beforeAll(async () => {
  harness = await startAuditHarness();
  app = Fastify();
  app.setErrorHandler((err, _req, reply) => {
    const r = toErrorResponse(err);
    void reply.code(r.status).send(r.body);
  });
  await registerCampaignRoutes(app, harness.ctx);
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await harness?.close();
});

/** A campaign record last written at `at`, with compliance state and a logged action. */
async function campaign(id: string, status: CampaignStatus, at: number): Promise<void> {
  const store = new CampaignStore({ ...harness.ctx, clock: new ManualClock(at) });
  await store.syncFromCxone(resource({ id, status }), { config: campaignConfig(), launchId: `launch-${id}` });
  await setWindowState(harness.ctx, id, { resumeAttempts: 1 });
  await appendAction(harness.ctx, id, { at: new Date(at).toISOString(), kind: 'window_pause', details: {} });
}

/** What Redis keeps of the campaign: its record and index entry (true if there), its compliance keys (how many). */
async function kept(id: string) {
  const { redis, keys } = harness;
  const c = complianceKeys(keys, id);
  return {
    record: (await redis.exists(keys.campaign(id))) === 1,
    indexed: (await redis.sismember(keys.campaignIndex(), id)) === 1,
    compliance: await redis.exists(c.state, c.log),
  };
}
const all = { record: true, indexed: true, compliance: 2 };
const none = { record: false, indexed: false, compliance: 0 };

/** What Redis keeps of an audit chain: each of its keys and entries, true if there. */
async function chainKept(id: string, keys: Keys = harness.keys) {
  const { redis } = harness;
  return {
    head: (await redis.exists(keys.auditChainHead(id))) === 1,
    index: (await redis.exists(keys.auditCampaignIndex(id))) === 1,
    dedupe: (await redis.exists(keys.custom('audit-dedupe', id))) === 1,
    anchor: (await redis.hexists(keys.custom('audit-anchor'), id)) === 1,
    audited: (await redis.sismember(keys.custom('audit-campaigns'), id)) === 1,
  };
}
const noChain = { head: false, index: false, dedupe: false, anchor: false, audited: false };

function trail(opts: { retentionDays: number; at: number }) {
  return createAuditTrail({
    redis: harness.redis,
    keys: harness.keys,
    logger: silentLogger,
    clock: new ManualClock(opts.at),
    retentionDays: opts.retentionDays,
  });
}

describe('isPastRetention', () => {
  const at = (iso: string) => Date.parse(iso);
  it('is final and last written before the cutoff, nothing else', () => {
    const cutoff = at('2026-11-01T00:00:00.000Z');
    const old = '2026-10-31T23:59:59.999Z';
    expect(isPastRetention({ status: 'completed', updatedAt: old }, cutoff)).toBe(true);
    expect(isPastRetention({ status: 'cancelled', updatedAt: old }, cutoff)).toBe(true);
    expect(isPastRetention({ status: 'completed', updatedAt: '2026-11-01T00:00:00.000Z' }, cutoff)).toBe(
      false,
    );
    for (const status of ['draft', 'scheduled', 'active', 'paused'] as const) {
      expect(isPastRetention({ status, updatedAt: old }, cutoff)).toBe(false);
    }
    expect(isPastRetention({ status: 'completed', updatedAt: 'not a time' }, cutoff)).toBe(false);
  });
});

describe('audit retention trim and finished campaigns', () => {
  it('keeps every campaign while the retention is 0', async () => {
    await campaign('ret0-done', 'completed', now - 400 * DAY);
    const result = await trail({ retentionDays: 0, at: now + 400 * DAY }).applyRetention();
    expect(result).toMatchObject({ applied: false, removedCampaigns: 0, removedComplianceKeys: 0 });
    expect(await kept('ret0-done')).toEqual(all);
  });

  it('removes a final campaign last written before the retention, with its compliance keys and index entry; keeps newer and unfinished ones', async () => {
    const { redis, keys } = harness;
    await campaign('old-done', 'completed', now - 3 * DAY);
    await campaign('old-cancelled', 'cancelled', now - 3 * DAY);
    // Its chain still has a record inside the retention (appended now): the campaign stays.
    await campaign('old-audited', 'cancelled', now - 3 * DAY);
    await harness.trail.append({
      campaignId: 'old-audited',
      action: 'state_changed',
      actor: 'api:ops',
      details: {},
    });
    await campaign('new-done', 'completed', now - DAY / 2);
    for (const status of ['active', 'paused', 'scheduled'] as const) {
      await campaign(`old-${status}`, status, now - 3 * DAY);
    }

    const result = await trail({ retentionDays: 1, at: now }).applyRetention();
    // ret0-done too: it ended 400 days ago.
    expect(result).toMatchObject({ applied: true, removedCampaigns: 3, removedComplianceKeys: 6 });
    for (const id of ['old-done', 'old-cancelled', 'ret0-done']) {
      expect({ id, ...(await kept(id)) }).toEqual({ id, ...none });
    }
    for (const id of ['old-audited', 'new-done', 'old-active', 'old-paused', 'old-scheduled']) {
      expect({ id, ...(await kept(id)) }).toEqual({ id, ...all });
    }
    expect(await redis.exists(keys.custom('audit-trim-lock'))).toBe(0);

    // The view answers the documented 404 for a removed campaign.
    const view = await app.inject({ method: 'GET', url: '/v1/campaigns/old-done' });
    expect(view.statusCode).toBe(404);
    expect(view.json()).toMatchObject({
      error: 'not_found',
      message: 'campaign old-done is not known to this orchestrator',
    });
    expect((await app.inject({ method: 'GET', url: '/v1/campaigns/new-done' })).statusCode).toBe(200);

    // A late poll or a view refresh that read the record before it went brings back no half record.
    const store = new CampaignStore(harness.ctx);
    await expect(store.recordStats('old-done', statsOf({ status: 'completed' }), null)).rejects.toThrow(
      UnknownCampaignError,
    );
    expect(
      await store.syncFromCxone(resource({ id: 'old-done', status: 'completed' }), {}, { onlyIfKnown: true }),
    ).toBe(false);
    expect(await kept('old-done')).toEqual({ ...none });
    await store.clear('old-done', ['polling']);
    // A calling-window job left behind stops, and writes no compliance state back.
    const window = await enforceWindow(harness.ctx, { campaignId: 'old-done', kind: 'open', atMs: now });
    expect(window).toEqual({ outcome: 'stopped', next: null });
    expect(await kept('old-done')).toEqual(none);
  });

  it("keeps a command's sync from recreating a removed campaign, but records what a failed launch's stop cancelled", async () => {
    const store = new CampaignStore(harness.ctx);
    const effects = (campaignId: string, reason: string) =>
      createCommandEffects(
        { audit: harness.ctx.audit, events: harness.ctx.events, store, logger: silentLogger },
        { campaignId, commandId: `cmd-${campaignId}`, actor: 'api:test', reason },
      );
    // An operator's pause answered after the trim removed the campaign: no half record comes back.
    await effects('gone-cmd', 'operator').sync(resource({ id: 'gone-cmd', status: 'paused' }));
    expect((await kept('gone-cmd')).record).toBe(false);
    // The stop a failed launch queued, for a campaign that never had a record: what it cancelled is kept,
    // as the launch's own direct cancel keeps it.
    await effects('failed-launch-cmp', LAUNCH_FAILED_REASON).sync(
      resource({ id: 'failed-launch-cmp', status: 'cancelled' }),
    );
    expect((await store.get('failed-launch-cmp'))?.status).toBe('cancelled');
    // Out of the later trims' counts.
    await store.delete('failed-launch-cmp');
  });

  it('says what went in what `trim` prints', async () => {
    await campaign('cli-done', 'cancelled', now - 3 * DAY);
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      const env = trimCliEnv(harness.keys.prefix);
      expect(await runAuditCli(['trim'], env)).toBe(0);
      expect(log).toHaveBeenCalledWith(
        expect.stringMatching(
          /^trimmed 0 record\(s\) older than 1 day\(s\) \(before stream id \d+-0\); removed 1 campaign\(s\) completed or cancelled before then \(record and campaigns-index entry; 2 compliance key\(s\) with them\); removed 0 audit chain\(s\) left empty by the retention \(of those campaigns, of launches whose record has expired, and of ids with no campaign record\)$/,
        ),
      );
    } finally {
      log.mockRestore();
    }
    expect(await kept('cli-done')).toEqual(none);
    expect(await kept('new-done')).toEqual(all);
  });

  it('removes a campaign whose chain the same trim cut whole', async () => {
    const { redis, keys } = harness;
    await campaign('cut-done', 'completed', now - 3 * DAY);
    await harness.trail.append({
      campaignId: 'cut-done',
      action: 'state_changed',
      actor: 'api:ops',
      details: {},
    });
    // Two days on, with a retention of one: today's records are cut, and the campaigns that ended
    // before then go, the one with the record of today among them; unfinished ones stay.
    const result = await trail({ retentionDays: 1, at: now + 2 * DAY }).applyRetention();
    // Their chains go with them: cut-done's, old-audited's, and new-done's (its view above met the
    // sandbox's 404 and recorded campaign_missing).
    expect(result).toMatchObject({
      applied: true,
      removedCampaigns: 3,
      removedComplianceKeys: 6,
      removedChains: 3,
    });
    for (const id of ['cut-done', 'old-audited', 'new-done']) {
      expect({ id, ...(await kept(id)) }).toEqual({ id, ...none });
      expect({ id, ...(await chainKept(id)) }).toEqual({ id, ...noChain });
    }
    for (const id of ['old-active', 'old-paused', 'old-scheduled']) {
      expect({ id, ...(await kept(id)) }).toEqual({ id, ...all });
    }
    // Nothing of the chain is left to verify: answered as for any id without records, not as broken.
    expect(await harness.trail.verify('cut-done')).toEqual({
      ok: true,
      checked: 0,
      campaigns: 1,
      broken: [],
    });
    expect(await harness.trail.verify()).toMatchObject({ ok: true, broken: [] });
    expect(await redis.exists(keys.auditChainHead('cut-done'), keys.auditCampaignIndex('cut-done'))).toBe(0);
  });
});

describe('a removed campaign noted missing on CXone', () => {
  it('takes its missing-on-CXone note with it: nothing else clears that note once the record is gone', async () => {
    const { redis, keys } = harness;
    const at = now - 5 * DAY;
    await campaign('gone-done', 'completed', at);
    // Deleted on CXone after it ended: the note has no expiry, clearMissingOnCxone clears it, and that
    // needs the record. (Its trail record, appended now, is cut by a trim three days on.)
    const since = await noteMissingOnCxone(
      { ...harness.ctx, clock: new ManualClock(at) },
      'gone-done',
      'api',
    );
    expect(since).toBe(new Date(at).toISOString());
    const marker = keys.custom('missing-on-cxone', 'gone-done');
    expect(await redis.ttl(marker)).toBe(-1);

    const result = await trail({ retentionDays: 1, at: now + 3 * DAY }).applyRetention();
    expect(result.removedCampaigns).toBeGreaterThanOrEqual(1);
    expect(await kept('gone-done')).toEqual(none);
    expect(await redis.exists(marker)).toBe(0);
  });
});

describe('a calling-window job racing the trim', () => {
  it('writes no compliance state back when the trim removes its final campaign between its read and its write', async () => {
    await campaign('win-race', 'completed', now - 5 * DAY);
    // The job reads the record (final), then the trim removes the campaign, then the job ends its claim.
    const read = CampaignStore.prototype.get;
    let trimmed = false;
    const spy = vi.spyOn(CampaignStore.prototype, 'get').mockImplementation(async function (
      this: CampaignStore,
      id: string,
    ) {
      const record = await read.call(this, id);
      if (id === 'win-race' && !trimmed) {
        trimmed = true;
        spy.mockRestore();
        await trail({ retentionDays: 1, at: now }).applyRetention();
      }
      return record;
    });
    try {
      const window = await enforceWindow(harness.ctx, { campaignId: 'win-race', kind: 'open', atMs: now });
      expect(window).toEqual({ outcome: 'stopped', next: null });
    } finally {
      spy.mockRestore();
    }
    expect(trimmed).toBe(true);
    expect(await kept('win-race')).toEqual(none);
  });
});

describe('a removed campaign takes its audit chain with it', () => {
  /** Three records on `id`'s chain now (one with a dedupe key, as an imported CXone history record has). */
  async function records(id: string): Promise<void> {
    for (let i = 0; i < 3; i++) {
      await harness.trail.append({
        campaignId: id,
        action: i === 0 ? 'cxone_history' : 'state_changed',
        actor: 'api:ops',
        details: { i },
        ...(i === 0 ? { dedupeKey: `hist-${id}` } : {}),
      });
    }
  }

  it('removes its head, index, dedupe entries, anchor and audited entry; verify, the API and a late append then answer as for a new id', async () => {
    const { redis, keys } = harness;
    await campaign('chain-done', 'completed', now - 5 * DAY);
    await records('chain-done');
    // Unfinished: kept, its chain cut whole and anchored, as before.
    await campaign('chain-active', 'active', now - 5 * DAY);
    await records('chain-active');
    expect(await chainKept('chain-done')).toEqual({
      head: true,
      index: true,
      dedupe: true,
      anchor: false,
      audited: true,
    });

    const result = await trail({ retentionDays: 1, at: now + 3 * DAY }).applyRetention();
    expect(result.removedChains).toBeGreaterThanOrEqual(1);
    expect(await kept('chain-done')).toEqual(none);
    expect(await chainKept('chain-done')).toEqual(noChain);
    expect(await kept('chain-active')).toEqual(all);
    expect(await chainKept('chain-active')).toEqual({
      head: true,
      index: true,
      dedupe: true,
      anchor: true,
      audited: true,
    });
    expect((await harness.trail.verify('chain-active')).retentionCuts).toHaveLength(1);

    // Nothing of the chain left: no cut to name, no broken link; the whole trail verifies.
    expect(await harness.trail.verify('chain-done')).toEqual({
      ok: true,
      checked: 0,
      campaigns: 1,
      broken: [],
    });
    expect(await harness.trail.verify()).toMatchObject({ ok: true, broken: [] });
    const verified = await harness.app.inject({
      method: 'GET',
      url: '/v1/campaigns/chain-done/audit/verify',
    });
    expect(verified.statusCode).toBe(404);
    expect(verified.json()).toMatchObject({
      error: 'not_found',
      message: 'no audit records for campaign chain-done',
    });
    const paged = await harness.app.inject({ method: 'GET', url: '/v1/campaigns/chain-done/audit' });
    expect(paged.statusCode).toBe(200);
    expect(paged.json()).toEqual({ records: [], nextCursor: null });
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const env = { REDIS_URL, KEY_PREFIX: keys.prefix, LOG_LEVEL: 'silent' as const };
      expect(await runAuditCli(['verify', 'chain-done'], env)).toBe(1);
      expect(error).toHaveBeenCalledWith(
        expect.stringMatching(
          new RegExp(`^no audit records for campaign chain-done under KEY_PREFIX \\${keys.prefix}`),
        ),
      );
    } finally {
      error.mockRestore();
    }

    // A record appended after all (the trail remembers the removed head) starts a new chain that verifies.
    await harness.trail.append({
      campaignId: 'chain-done',
      action: 'state_changed',
      actor: 'api:ops',
      details: {},
    });
    expect(await harness.trail.verify('chain-done')).toMatchObject({ ok: true, checked: 1, broken: [] });
    expect(await redis.hexists(keys.custom('audit-anchor'), 'chain-done')).toBe(0);
    await redis.del(keys.auditChainHead('chain-done'), keys.auditCampaignIndex('chain-done'));
    await redis.srem(keys.custom('audit-campaigns'), 'chain-done');
  });

  it('keeps the campaign and its chain while a writer is queued to append to it', async () => {
    const { redis, keys } = harness;
    await campaign('chain-queued', 'cancelled', now - 5 * DAY);
    await records('chain-queued');
    const queue = keys.custom('audit-queue', 'chain-queued');
    await redis.zadd(queue, 1, 'aud_waiting');
    await trail({ retentionDays: 1, at: now + 3 * DAY }).applyRetention();
    expect(await kept('chain-queued')).toEqual(all);
    expect(await chainKept('chain-queued')).toMatchObject({ head: true, anchor: true, audited: true });
    await redis.del(queue);
    await trail({ retentionDays: 1, at: now + 3 * DAY }).applyRetention();
    expect(await kept('chain-queued')).toEqual(none);
    expect(await chainKept('chain-queued')).toEqual(noChain);
  });

  it('leaves a chain with a key of another type whole (no script error), and still removes the campaign', async () => {
    const { redis, keys } = harness;
    await campaign('chain-damaged', 'completed', now - 5 * DAY);
    await records('chain-damaged');
    const dedupe = keys.custom('audit-dedupe', 'chain-damaged');
    await redis.del(dedupe);
    await redis.set(dedupe, 'not a hash');
    const result = await trail({ retentionDays: 1, at: now + 3 * DAY }).applyRetention();
    expect(result.removedCampaigns).toBeGreaterThanOrEqual(1);
    expect(await kept('chain-damaged')).toEqual(none);
    expect(await chainKept('chain-damaged')).toEqual({
      head: true,
      index: true,
      dedupe: true,
      anchor: true,
      audited: true,
    });
    expect(await redis.get(dedupe)).toBe('not a hash');
    await redis.del(dedupe, keys.auditChainHead('chain-damaged'), keys.auditCampaignIndex('chain-damaged'));
    await redis.srem(keys.custom('audit-campaigns'), 'chain-damaged');
    await redis.hdel(keys.custom('audit-anchor'), 'chain-damaged');
  });

  it('verify reading a chain the trim removes meanwhile reports no break', async () => {
    const { redis, keys } = harness;
    // Its records cut by a first trim while it is not past the retention yet: kept, anchored.
    await records('chain-race');
    await campaign('chain-race', 'completed', now + 1.5 * DAY);
    await trail({ retentionDays: 1, at: now + 2 * DAY }).applyRetention();
    expect(await chainKept('chain-race')).toMatchObject({ head: true, anchor: true, audited: true });
    // Then verify reads its anchor, and the next trim removes it before verify reads its head.
    let trimmed = false;
    const racing = new Proxy(redis, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target) as unknown;
        if (typeof value !== 'function') return value;
        const call = value as (...a: unknown[]) => Promise<unknown>;
        if (prop !== 'get') return call.bind(target);
        return async (...a: unknown[]) => {
          if (!trimmed && a[0] === keys.auditChainHead('chain-race')) {
            trimmed = true;
            await trail({ retentionDays: 1, at: now + 3 * DAY }).applyRetention();
          }
          return call.apply(target, a);
        };
      },
    });
    const reader = createAuditTrail({ redis: racing, keys, logger: silentLogger });
    expect(await reader.verify('chain-race')).toEqual({ ok: true, checked: 0, campaigns: 1, broken: [] });
    expect(trimmed).toBe(true);
    expect(await chainKept('chain-race')).toEqual(noChain);
  });
});

describe("a launch's own audit chain", () => {
  /** A launch's chain (`launch:<id>`) with two records appended now, and its launch record if `live`. */
  async function launchChain(launchId: string, live: boolean): Promise<string> {
    const id = launchAuditId(launchId);
    for (const action of ['launch_requested', 'launch_failed'] as const) {
      await harness.trail.append({ campaignId: id, action, actor: 'api:ops', details: { launchId } });
    }
    if (live) await harness.redis.hset(harness.keys.launch(launchId), 'status', 'failed');
    return id;
  }

  it('goes once every record is past the retention and its launch record has expired; kept otherwise', async () => {
    const { redis, keys } = harness;
    const expired = await launchChain('l-expired', false);
    const live = await launchChain('l-live', true);
    // Its records inside the retention: kept, launch record or not.
    await trail({ retentionDays: 1, at: now }).applyRetention();
    expect(await chainKept(expired)).toEqual({
      head: true,
      index: true,
      dedupe: false,
      anchor: true,
      audited: true,
    });
    expect(await redis.xlen(keys.auditCampaignIndex(expired))).toBe(2);

    const result = await trail({ retentionDays: 1, at: now + 3 * DAY }).applyRetention();
    expect(result.removedChains).toBeGreaterThanOrEqual(1);
    expect(await chainKept(expired)).toEqual(noChain);
    expect(await harness.trail.verify(expired)).toEqual({ ok: true, checked: 0, campaigns: 1, broken: [] });
    // Its launch record still there: kept, verifying at its cut.
    expect(await chainKept(live)).toMatchObject({ head: true, anchor: true, audited: true });
    expect((await harness.trail.verify(live)).retentionCuts).toHaveLength(1);
    await redis.del(keys.launch('l-live'));
    await trail({ retentionDays: 1, at: now + 3 * DAY }).applyRetention();
    expect(await chainKept(live)).toEqual(noChain);
    expect(await harness.trail.verify()).toMatchObject({ ok: true, broken: [] });
  });
});

describe('an audit chain of no campaign record', () => {
  // A prefix of its own: the counts of what a trim removes are exact here.
  const keys = createKeys(testPrefix());
  afterAll(async () => {
    await deletePrefix(harness.redis, keys.prefix);
  });
  const trailAt = (at: number, redis: Redis = harness.redis) =>
    createAuditTrail({ redis, keys, logger: silentLogger, clock: new ManualClock(at), retentionDays: 1 });
  /** `n` records on `id`'s chain appended now (the first with a dedupe key, as imported history has). */
  async function records(id: string, n: number): Promise<void> {
    const writer = trailAt(now);
    for (let i = 0; i < n; i++) {
      await writer.append({
        campaignId: id,
        action: 'cxone_history',
        actor: 'cxone:ops',
        details: { i },
        ...(i === 0 ? { dedupeKey: `hist-${id}` } : {}),
      });
    }
  }
  const whole = { head: true, index: true, dedupe: true, anchor: true, audited: true };

  it('goes whole once the trim has cut every record of it and no writer is queued on it; verify then answers as for a removed campaign', async () => {
    const { redis } = harness;
    // A console-made campaign whose CXone history was imported by hand: no campaign record.
    await records('orphan-old', 3);
    const queue = keys.custom('audit-queue', 'orphan-old');
    await redis.zadd(queue, 1, 'aud_waiting');
    // A writer queued on it: cut whole, anchored, kept.
    expect(await trailAt(now + 3 * DAY).applyRetention()).toMatchObject({
      applied: true,
      removedRecords: 3,
      removedCampaigns: 0,
      removedChains: 0,
    });
    expect(await chainKept('orphan-old', keys)).toEqual(whole);
    await redis.del(queue);

    // Then an emptied chain such as an earlier release left: the next trim removes it, and says so.
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      expect(await runAuditCli(['trim'], trimCliEnv(keys.prefix))).toBe(0);
      expect(log).toHaveBeenCalledWith(
        expect.stringMatching(
          /^trimmed 0 record\(s\) .*; removed 0 campaign\(s\) .*; removed 1 audit chain\(s\) left empty by the retention /,
        ),
      );
    } finally {
      log.mockRestore();
    }
    expect(await chainKept('orphan-old', keys)).toEqual(noChain);
    expect(await redis.exists(queue, keys.custom('audit-queue-seen', 'orphan-old'))).toBe(0);
    const reader = trailAt(now);
    expect(await reader.verify('orphan-old')).toEqual({ ok: true, checked: 0, campaigns: 1, broken: [] });
    expect(await reader.verify()).toEqual({ ok: true, checked: 0, campaigns: 0, broken: [] });
    // Imported again, its history starts a new chain (its dedupe entries went with the old one).
    await records('orphan-old', 1);
    expect(await reader.verify('orphan-old')).toMatchObject({ ok: true, checked: 1, broken: [] });
    expect((await reader.list('orphan-old'))[0]?.prevHash).toBe('');
    await trailAt(now + 3 * DAY).applyRetention();
    expect(await chainKept('orphan-old', keys)).toEqual(noChain);
  });

  it('is kept, anchored at its cut, while a record of it is inside the retention', async () => {
    await records('orphan-new', 1);
    // The cut falls between its two records (stream ids are Redis's real time).
    await sleep(20);
    const cut = Date.now();
    await sleep(20);
    await trailAt(now).append({
      campaignId: 'orphan-new',
      action: 'state_changed',
      actor: 'api:ops',
      details: {},
    });
    expect(await trailAt(cut + DAY).applyRetention()).toMatchObject({ removedRecords: 1, removedChains: 0 });
    expect(await chainKept('orphan-new', keys)).toEqual(whole);
    expect(await harness.redis.xlen(keys.auditCampaignIndex('orphan-new'))).toBe(1);
    const verified = await trailAt(now).verify('orphan-new');
    expect(verified).toMatchObject({ ok: true, checked: 1, broken: [] });
    expect(verified.retentionCuts).toHaveLength(1);
  });

  it('leaves the chain of a campaign the orchestrator knows to its campaign, every record of it cut', async () => {
    await knownCampaign(harness.redis, keys, 'known-cut');
    await records('known-cut', 2);
    const head = await harness.redis.get(keys.auditChainHead('known-cut'));
    // orphan-new's last record is cut too: its chain goes (the one chain removed).
    expect(await trailAt(now + 3 * DAY).applyRetention()).toMatchObject({
      removedRecords: 3,
      removedCampaigns: 0,
      removedChains: 1,
    });
    expect(await chainKept('orphan-new', keys)).toEqual(noChain);
    expect(await chainKept('known-cut', keys)).toEqual(whole);
    expect(await trailAt(now).verify('known-cut')).toMatchObject({
      ok: true,
      checked: 0,
      retentionCuts: [{ campaignId: 'known-cut', anchor: head }],
    });
  });

  it('keeps a chain that an append, or a campaign record, reaches between the cut and its removal', async () => {
    const { redis } = harness;
    await records('race-append', 2);
    await records('race-record', 2);
    // Just before the removal script of each chain (8 keys, its id last), after the cut.
    const racing: Record<string, () => Promise<void>> = {
      'race-append': () =>
        trailAt(now)
          .append({ campaignId: 'race-append', action: 'state_changed', actor: 'api:ops', details: {} })
          .then(() => undefined),
      'race-record': () => knownCampaign(redis, keys, 'race-record'),
    };
    const ran = new Set<string>();
    const hooked = new Proxy(redis, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target) as unknown;
        if (typeof value !== 'function') return value;
        const call = value as (...a: unknown[]) => Promise<unknown>;
        if (prop !== 'evalsha' && prop !== 'eval') return call.bind(target);
        return async (...a: unknown[]) => {
          const id = String(a[a.length - 1]);
          if (a[1] === 8 && racing[id] && !ran.has(id)) {
            ran.add(id);
            await racing[id]();
          }
          return call.apply(target, a);
        };
      },
    });
    expect(await trailAt(now + 3 * DAY, hooked).applyRetention()).toMatchObject({
      removedRecords: 4,
      removedChains: 0,
    });
    expect([...ran].sort()).toEqual(['race-append', 'race-record']);
    // The append made after the cut is kept, on its chain, linked to the anchor.
    expect(await chainKept('race-append', keys)).toEqual(whole);
    const appended = await trailAt(now).verify('race-append');
    expect(appended).toMatchObject({ ok: true, checked: 1, broken: [] });
    expect(appended.retentionCuts).toHaveLength(1);
    expect(await chainKept('race-record', keys)).toEqual(whole);
    expect(await trailAt(now).verify('race-record')).toMatchObject({ ok: true, checked: 0, broken: [] });
    // Once that record is cut as well, the next trim takes the chain; the known campaign's stays.
    expect(await trailAt(now + 3 * DAY).applyRetention()).toMatchObject({ removedChains: 1 });
    expect(await chainKept('race-append', keys)).toEqual(noChain);
    expect(await chainKept('race-record', keys)).toEqual(whole);
    expect(await trailAt(now).verify()).toMatchObject({ ok: true, broken: [] });
  });
});

describe('a trim that stops midway through the purge', () => {
  /** Finished campaigns past the retention, each with a chain of one record appended now if `chains`. */
  async function finished(ids: string[], chains: boolean): Promise<void> {
    for (const id of ids) {
      await campaign(id, 'completed', now - 5 * DAY);
      if (!chains) continue;
      await harness.trail.append({ campaignId: id, action: 'state_changed', actor: 'api:ops', details: {} });
    }
  }
  /** Whether each campaign is all there or all gone (record, index entry, compliance keys, chain). */
  async function wholeOrGone(ids: string[]): Promise<{ gone: number; kept: number }> {
    let gone = 0;
    let keptWhole = 0;
    for (const id of ids) {
      const [campaignKept, chain] = [await kept(id), await chainKept(id)];
      if (
        JSON.stringify(campaignKept) === JSON.stringify(none) &&
        JSON.stringify(chain) === JSON.stringify(noChain)
      )
        gone++;
      else {
        expect({ id, ...campaignKept }).toEqual({ id, ...all });
        expect({ id, ...chain }).toEqual({
          id,
          head: true,
          index: true,
          dedupe: false,
          anchor: true,
          audited: true,
        });
        keptWhole++;
      }
    }
    return { gone, kept: keptWhole };
  }
  /** Counts the purge script's calls (its 12 keys) on `conn`, holding the `n`th until `gate` resolves. */
  function holdingPurge(conn: Redis, n: number, gate: Promise<void>) {
    let calls = 0;
    let reached!: () => void;
    const atCall = new Promise<void>((resolve) => (reached = resolve));
    const redis = new Proxy(conn, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target) as unknown;
        if (typeof value !== 'function') return value;
        const call = value as (...a: unknown[]) => Promise<unknown>;
        if (prop !== 'evalsha') return call.bind(target);
        return async (...a: unknown[]) => {
          if (a[1] === 12 && ++calls === n) {
            reached();
            await gate;
          }
          return call.apply(target, a);
        };
      },
    });
    return { redis, reached: atCall };
  }

  it('has removed whole campaigns (chains included) only, says how many, and the next trim goes on', async () => {
    const { redis, keys } = harness;
    const ids = ['mid-1', 'mid-2', 'mid-3', 'mid-4'];
    await finished(ids, true);
    let release!: () => void;
    const held = holdingPurge(redis, 3, new Promise<void>((resolve) => (release = resolve)));
    const progress = {
      trailTrimmed: false,
      removedRecords: 0,
      removedCampaigns: 0,
      removedComplianceKeys: 0,
      removedChains: 0,
    };
    const running = createAuditTrail({
      redis: held.redis,
      keys,
      logger: silentLogger,
      clock: new ManualClock(now + 3 * DAY),
      retentionDays: 1,
      // Short, so that the pause below outlasts it, yet past a loaded machine's stalls before the hold
      // (unrenewed for 80 % of it, the trim stops early, with fewer campaigns removed).
      trimLockLeaseMs: 600,
    }).applyRetention({ progress });
    running.catch(() => undefined);
    await held.reached;
    // Its lease ran out (a pause) and another trim took the lock: the held write goes on, then it stops.
    const lock = keys.custom('audit-trim-lock');
    await redis.set(
      lock,
      JSON.stringify({ host: 'other', pid: 1, since: new Date().toISOString(), token: 'x' }),
      'PX',
      60_000,
    );
    // Past the lease: a renewal has found the lock taken, or none was confirmed for 80 % of it.
    await new Promise((resolve) => setTimeout(resolve, 800));
    release();
    await expect(running).rejects.toThrow(AuditTrimLockLostError);
    expect(progress).toMatchObject({
      trailTrimmed: true,
      removedCampaigns: 3,
      removedComplianceKeys: 6,
      removedChains: 3,
    });
    expect(await wholeOrGone(ids)).toEqual({ gone: 3, kept: 1 });
    expect(await harness.trail.verify()).toMatchObject({ ok: true, broken: [] });

    await redis.del(lock);
    const next = await trail({ retentionDays: 1, at: now + 3 * DAY }).applyRetention();
    expect(next).toMatchObject({ removedCampaigns: 1, removedChains: 1 });
    expect(await wholeOrGone(ids)).toEqual({ gone: 4, kept: 0 });
  });

  it('`trim` prints what it had removed with its failure, and exits 1', async () => {
    // No chains: the CLI trims by the real clock, and a record of now is inside its retention.
    const ids = ['cli-mid-1', 'cli-mid-2', 'cli-mid-3'];
    await finished(ids, false);
    // The third campaign's purge fails as a trim that lost its lock does (its next write refused).
    let calls = 0;
    const spy = loseTrimLockOn('evalsha', (a) => a[1] === 12 && ++calls === 3);
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const env = trimCliEnv(harness.keys.prefix);
      expect(await runAuditCli(['trim'], env)).toBe(1);
      expect(error.mock.calls.map(([line]) => String(line))).toEqual([
        'audit trim failed: audit retention trim stopped: it no longer holds its lock the-lock (its lease ran out, and the lock is gone or another trim took it); run the trim again to finish it',
        expect.stringMatching(
          /^before it stopped, the trim had: trimmed \d+ record\(s\) older than 1 day\(s\) \(before stream id \d+-0\); removed 2 campaign\(s\) completed or cancelled before then \(record and campaigns-index entry; 4 compliance key\(s\) with them\); removed 0 audit chain\(s\) left empty/,
        ),
      ]);
    } finally {
      error.mockRestore();
      spy.mockRestore();
    }
    const left = [];
    for (const id of ids) left.push((await kept(id)).record);
    expect(left.filter(Boolean)).toHaveLength(1);
    await new CampaignStore(harness.ctx).delete(ids[left.indexOf(true)]!);
  });
});
