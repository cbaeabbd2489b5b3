import { buildComplianceReport } from '../../src/shared/compliance/report.js';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import { applyAbandonmentGuard } from '../../src/shared/compliance/guard-actions.js';
import { buildApiApp } from '../../src/producers/app.js';
import { config } from './fixtures.js';
import { createTestContext, type TestContext } from './redis-context.js';

const ID = 'cmp-report-1';
const c = config({
  recipientStates: ['FL', 'AL'],
  allowedCallTimes: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '20:00' }],
});

let tc: TestContext;
let app: FastifyInstance;
const auth = { authorization: 'Bearer dev-token' };

beforeEach(async () => {
  tc = await createTestContext('2026-03-03T15:00:00Z');
  app = await buildApiApp(tc.ctx);
  await tc.putCampaign(ID, c, 'active', 2);
});
afterEach(async () => {
  await app.close();
  await tc.close();
});

describe('GET /v1/campaigns/:id/compliance', () => {
  it('reports rules, window state, abandonment, violations and guard actions', async () => {
    const stats = {
      version: 2,
      status: 'active' as const,
      totalCalls: 2400,
      answeredCalls: 800,
      abandonedCalls: 21,
      complianceViolations: 3,
      agentUtilization: 80,
    };
    await createCampaignStore(tc.ctx).recordStats(ID, stats, null);
    await applyAbandonmentGuard(tc.ctx, { campaignId: ID, config: c, stats });

    const res = await app.inject({ method: 'GET', url: `/v1/campaigns/${ID}/compliance`, headers: auth });
    expect(res.statusCode).toBe(200);
    const report = res.json();
    expect(report).toMatchObject({
      campaignId: ID,
      regime: 'TCPA',
      timeZone: 'America/New_York',
      window: {
        open: true,
        localTime: '2026-03-03T10:00:00-05:00',
        currentClose: '2026-03-03T20:00:00-05:00',
        cxoneComplianceViolations: 3,
        adherent: false,
      },
      abandonment: {
        target: 0.025,
        cap: 0.03,
        measurement: '30-day period',
        current: { answeredCalls: 800, abandonedCalls: 21, withinCap: true },
      },
      violations: { total: 3, totalCalls: 2400, frequency: 3 / 2400 },
      guardActions: [expect.objectContaining({ kind: 'guard_throttle' })],
      doNotCall: { checked: true },
    });
    expect(report.rules.recipientStates).toEqual([
      expect.objectContaining({ code: 'FL', encoded: true, source: expect.stringMatching(/501\.616/) }),
      expect.objectContaining({ code: 'AL', encoded: false }),
    ]);
    // This fixture declares Alabama (Central time) on New York time: the report says so.
    expect(report.rules.settingsProblems).toEqual([
      { path: 'recipientStates.1', message: expect.stringMatching(/^AL recipients keep America\/Chicago/) },
    ]);
  });

  it('names the rules settings changed in CXone break', () => {
    const widened = { ...c, allowedCallTimes: [{ days: ['mon' as const], start: '06:00', end: '23:00' }] };
    const report = buildComplianceReport({
      campaignId: ID,
      status: 'paused',
      config: widened,
      window: {},
      actions: [],
      nowMs: Date.parse('2026-03-03T15:00:00Z'),
    });
    expect(report.rules.settingsProblems.map((p: { path: string }) => p.path)).toEqual(
      expect.arrayContaining(['allowedCallTimes.0.start', 'allowedCallTimes.0.end']),
    );
  });

  it('cites the calling hours as the orchestrator policy, not US law, for an OFCOM campaign', () => {
    const reportFor = (cfg: typeof c) =>
      buildComplianceReport({
        campaignId: ID,
        status: 'active',
        config: cfg,
        window: {},
        actions: [],
        nowMs: Date.parse('2026-03-03T15:00:00Z'),
      }).rules.callingHours;
    expect(reportFor(c).source).toMatch(/^TCPA 47 CFR 64\.1200\(c\)\(1\)/);
    const uk = config({
      complianceTimeZone: 'Europe/London',
      compliance: { regime: 'OFCOM', doNotCallCheck: true },
    });
    expect(reportFor(uk)).toEqual({
      start: '08:00',
      end: '21:00',
      source: 'orchestrator policy for the OFCOM regime (same hours as TCPA 47 CFR 64.1200(c)(1))',
    });
  });

  it("lists an operator's lift of the guard's pause among the guard actions, after the pause", () => {
    const actions = [
      {
        at: '2026-03-03T14:00:00.000Z',
        kind: 'guard_pause' as const,
        details: { rule: 'abandonment-guard', rate: 0.031, answeredCalls: 1000, abandonedCalls: 31 },
      },
      {
        at: '2026-03-03T14:30:00.000Z',
        kind: 'guard_pause_lifted' as const,
        details: {
          requestedBy: 'api:ops',
          commandId: 'cmd_1',
          period: 0,
          answeredCalls: 1000,
          abandonedCalls: 31,
        },
      },
    ];
    const report = buildComplianceReport({
      campaignId: ID,
      status: 'active',
      config: c,
      window: {},
      actions,
      nowMs: Date.parse('2026-03-03T15:00:00Z'),
    });
    expect(report.guardActions.map((a) => a.kind)).toEqual(['guard_pause', 'guard_pause_lifted']);
    expect(report.guardActions[1]).toMatchObject({ details: { requestedBy: 'api:ops' } });
  });

  it('is not adherent when a window pause went through after the close it was due by', () => {
    const stats = {
      version: 3,
      status: 'paused' as const,
      totalCalls: 1000,
      answeredCalls: 400,
      abandonedCalls: 4,
      complianceViolations: 0,
      agentUtilization: 0,
    };
    const landed = (lateByMs: number, i: number) => ({
      at: '2026-03-03T01:00:00.000Z',
      kind: 'window_pause_landed' as const,
      details: { commandId: `cmd_${i}`, dueAt: '2026-03-03T01:00:00.000Z', lateByMs },
    });
    const reportWith = (lateByMs: number[]) =>
      buildComplianceReport({
        campaignId: ID,
        status: 'paused',
        config: c,
        lastStats: stats,
        window: {},
        // The last pause's record twice, as a retried firing leaves it in the compliance log.
        actions: [...lateByMs.map(landed), landed(lateByMs.at(-1) ?? 0, lateByMs.length - 1)],
        nowMs: Date.parse('2026-03-03T15:00:00Z'),
      }).window;
    expect(reportWith([0, 0])).toMatchObject({
      adherent: true,
      enforcement: { pausesLanded: 2, pausesLandedLate: 0, maxPauseLandingLatenessMs: 0 },
    });
    // Issued on time, but it waited its turn in the rate budget and landed 12 s after the close.
    expect(reportWith([0, 12_000])).toMatchObject({
      adherent: false,
      enforcement: { pausesLanded: 2, pausesLandedLate: 1, maxPauseLandingLatenessMs: 12_000, latePauses: 0 },
    });
  });

  it('never writes to the audit trail on a read, even when the live counts changed in between', async () => {
    const stats = {
      version: 2,
      status: 'active' as const,
      totalCalls: 1000,
      answeredCalls: 400,
      abandonedCalls: 4,
      complianceViolations: 0,
      agentUtilization: 70,
    };
    const store = createCampaignStore(tc.ctx);
    await store.recordStats(ID, stats, null);
    await applyAbandonmentGuard(tc.ctx, { campaignId: ID, config: c, stats });
    const before = await tc.audit.list(ID);

    const read = async () => {
      const res = await app.inject({ method: 'GET', url: `/v1/campaigns/${ID}/compliance`, headers: auth });
      expect(res.statusCode).toBe(200);
      return res.json();
    };
    expect((await read()).abandonment.current).toMatchObject({ answeredCalls: 400, abandonedCalls: 4 });
    for (let i = 1; i <= 3; i++) {
      await store.recordStats(
        ID,
        { ...stats, totalCalls: 1000 + 100 * i, answeredCalls: 400 + 40 * i },
        null,
      );
      expect((await read()).abandonment.current).toMatchObject({ answeredCalls: 400 + 40 * i });
    }
    expect(await tc.audit.list(ID)).toEqual(before);
    expect(before.some((r) => r.details.kind === 'report')).toBe(false);
  });

  it('records each closed measurement period once in the trail, at its rollover, not on reads', async () => {
    const stats = {
      version: 2,
      status: 'active' as const,
      totalCalls: 1000,
      answeredCalls: 400,
      abandonedCalls: 4,
      complianceViolations: 0,
      agentUtilization: 70,
    };
    const store = createCampaignStore(tc.ctx);
    await store.recordStats(ID, stats, null);
    await applyAbandonmentGuard(tc.ctx, { campaignId: ID, config: c, stats });
    // Past the end of the first 30-day TCPA period (periods count from startDateTime).
    tc.clock.advance(31 * 86_400_000);
    const later = { ...stats, totalCalls: 2000, answeredCalls: 800, abandonedCalls: 8 };
    await store.recordStats(ID, later, null);
    await applyAbandonmentGuard(tc.ctx, { campaignId: ID, config: c, stats: later });
    await applyAbandonmentGuard(tc.ctx, { campaignId: ID, config: c, stats: later });
    for (let i = 0; i < 3; i++) {
      await app.inject({ method: 'GET', url: `/v1/campaigns/${ID}/compliance`, headers: auth });
    }
    const closed = (await tc.audit.list(ID)).filter((r) => r.details.kind === 'period_closed');
    expect(closed).toHaveLength(1);
    expect(closed[0]?.details).toMatchObject({ period: { index: 0 }, rate: expect.any(Number) });
  });

  it('answers 404 JSON for an unknown campaign and 401 without the token', async () => {
    const missing = await app.inject({ method: 'GET', url: '/v1/campaigns/nope/compliance', headers: auth });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: 'not_found' });
    const anonymous = await app.inject({ method: 'GET', url: `/v1/campaigns/${ID}/compliance` });
    expect(anonymous.statusCode).toBe(401);
  });

  it('refuses doNotCallCheck:false at submit unless the deployment allows it', async () => {
    const body = { ...config(), compliance: { regime: 'TCPA', doNotCallCheck: false } };
    const res = await app.inject({
      method: 'POST',
      url: '/v1/campaigns/validate',
      headers: auth,
      payload: body,
    });
    expect(res.json()).toEqual({
      valid: false,
      issues: [
        {
          path: 'compliance.doNotCallCheck',
          message: expect.stringMatching(/not allowed by this deployment/),
        },
      ],
    });
    const submit = await app.inject({ method: 'POST', url: '/v1/campaigns', headers: auth, payload: body });
    expect(submit.statusCode).toBe(400);
    expect(submit.json()).toMatchObject({ error: 'validation_failed' });
    expect(await tc.ctx.queues.launch.count()).toBe(0);
  });
});
