import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runAuditCli } from '../../src/cli/audit.js';
import { toErrorResponse } from '../../src/producers/errors.js';
import { registerCampaignRoutes } from '../../src/producers/routes/campaigns.js';
import { createAuditTrail } from '../../src/shared/audit/trail.js';
import { isPastRetention } from '../../src/shared/campaign-retention.js';
import { noteMissingOnCxone } from '../../src/shared/campaign-missing.js';
import { CampaignStore, UnknownCampaignError } from '../../src/shared/campaign-store.js';
import { ManualClock } from '../../src/shared/clock.js';
import { enforceWindow } from '../../src/shared/compliance/enforcement.js';
import { appendAction, complianceKeys, setWindowState } from '../../src/shared/compliance/state-store.js';
import type { CampaignStatus } from '../../src/shared/cxone/wire.js';
import { LAUNCH_FAILED_REASON } from '../../src/shared/launch-store.js';
import { createCommandEffects } from '../../src/shared/lifecycle/effects.js';
import { silentLogger } from '../../src/shared/logger.js';
import { campaignConfig, resource, statsOf } from '../lifecycle/fixtures.js';
import { startAuditHarness, type AuditHarness } from './cxone-harness.js';
import { REDIS_URL } from './redis-helpers.js';

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
      const env = {
        REDIS_URL,
        KEY_PREFIX: harness.keys.prefix,
        LOG_LEVEL: 'silent' as const,
        AUDIT_RETENTION_DAYS: '1',
      };
      expect(await runAuditCli(['trim'], env)).toBe(0);
      expect(log).toHaveBeenCalledWith(
        expect.stringMatching(
          /^trimmed 0 record\(s\) older than 1 day\(s\) \(before stream id \d+-0\); removed 1 campaign\(s\) completed or cancelled before then \(record and campaigns-index entry; 2 compliance key\(s\) with them\)$/,
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
    expect(result).toMatchObject({ applied: true, removedCampaigns: 3, removedComplianceKeys: 6 });
    expect(await redis.xlen(keys.auditCampaignIndex('cut-done'))).toBe(0);
    for (const id of ['cut-done', 'old-audited', 'new-done']) {
      expect({ id, ...(await kept(id)) }).toEqual({ id, ...none });
    }
    for (const id of ['old-active', 'old-paused', 'old-scheduled']) {
      expect({ id, ...(await kept(id)) }).toEqual({ id, ...all });
    }
    // The cut chain still verifies from its anchor.
    expect(await harness.trail.verify('cut-done')).toMatchObject({ ok: true });
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
