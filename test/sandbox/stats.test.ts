import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/sandbox/server.js';
import { ManualClock } from '../../src/shared/clock.js';
import { campaignStatsSchema, type CampaignStats } from '../../src/shared/cxone/wire.js';
import { SANDBOX_FRESH_LIST_ID, SANDBOX_STALE_LIST_ID } from '../../src/sandbox/directory.js';
import {
  activeCampaign,
  call,
  campaignStats,
  createBody,
  createCampaign,
  patch,
  start,
  tokenFor,
} from './helpers.js';

const ALL_DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

describe('sandbox statistics driven by the dialer simulation', () => {
  let sandbox: RunningSandbox | undefined;
  afterEach(async () => {
    await sandbox?.close();
    sandbox = undefined;
  });

  const activate = activeCampaign;
  const stats = campaignStats;

  it('reports zeros before activation and grows as simulated time passes (large timeScale)', async () => {
    sandbox = await start({ timeScale: 3600 });
    const token = await tokenFor(sandbox);
    const draft = (await createCampaign(sandbox, token)).body.id as string;
    expect(await stats(sandbox, token, draft)).toEqual({
      version: 1,
      status: 'draft',
      totalCalls: 0,
      answeredCalls: 0,
      abandonedCalls: 0,
      complianceViolations: 0,
      agentUtilization: 0,
    });

    const { id, version } = await activate(sandbox, token);
    await sleep(300); // ≈ 18 simulated minutes
    const early = await stats(sandbox, token, id);
    expect(early).toMatchObject({ version, status: 'active' });
    expect(early.totalCalls).toBeGreaterThan(0);
    expect(early.answeredCalls).toBeGreaterThan(0);
    expect(early.answeredCalls).toBeLessThanOrEqual(early.totalCalls);
    expect(early.agentUtilization).toBeGreaterThan(0);
    await sleep(200);
    const later = await stats(sandbox, token, id);
    expect(later.totalCalls).toBeGreaterThan(early.totalCalls);
  });

  it('stops dialing while paused and counts dials outside the calling windows as violations', async () => {
    // Wednesday 2 Dec 2026, 10:00 in New York.
    const clock = new ManualClock(Date.parse('2026-12-02T15:00:00Z'));
    sandbox = await start({ clock, rateLimit: { perWindow: 1000, windowMs: 60_000 } });
    const token = await tokenFor(sandbox);
    const open = createBody();
    open.complianceSettings.allowedCallTimes = [{ days: [...ALL_DAYS], start: '08:00', end: '21:00' }];
    const closed = createBody();
    closed.complianceSettings.allowedCallTimes = [{ days: ['mon'], start: '08:00', end: '09:00' }];
    const inside = await activate(sandbox, token, open);
    const outside = await activate(sandbox, token, closed);

    clock.advance(20 * 60_000);
    const a = await stats(sandbox, token, inside.id);
    const b = await stats(sandbox, token, outside.id);
    expect(a.totalCalls).toBeGreaterThan(0);
    expect(a.complianceViolations).toBe(0);
    expect(b.totalCalls).toBeGreaterThan(0);
    expect(b.complianceViolations).toBe(b.totalCalls);

    const paused = await patch(sandbox, token, inside.id, inside.version, { status: 'paused' });
    expect(paused.status).toBe(200);
    const atPause = await stats(sandbox, token, inside.id);
    clock.advance(30 * 60_000);
    const afterPause = await stats(sandbox, token, inside.id);
    expect(afterPause.status).toBe('paused');
    expect(afterPause.totalCalls).toBe(atPause.totalCalls);

    // Simulated time can also be skipped through the control surface.
    await patch(sandbox, token, inside.id, paused.body.version as number, { status: 'active' });
    const skipped = await call(sandbox, 'POST', '/__sandbox/time/skip', { body: { ms: 10 * 60_000 } });
    expect(skipped.status).toBe(200);
    expect((await stats(sandbox, token, inside.id)).totalCalls).toBeGreaterThan(afterPause.totalCalls);
    const state = sandbox.getCampaignState(inside.id) as {
      dialer: { totalCalls: number } | null;
      historyLength: number;
    };
    expect(state.dialer?.totalCalls).toBeGreaterThan(0);
    expect(state.historyLength).toBe(5);
  });

  it("judges a sped-up dialer's dials by the real clock, which the orchestrator enforces windows by", async () => {
    // Wednesday 2 Dec 2026, 10:00 in New York; the window closes at 11:00; an hour of dialing per real minute.
    const clock = new ManualClock(Date.parse('2026-12-02T15:00:00Z'));
    sandbox = await start({ clock, timeScale: 60, rateLimit: { perWindow: 1000, windowMs: 60_000 } });
    const token = await tokenFor(sandbox);
    const body = createBody();
    body.complianceSettings.allowedCallTimes = [{ days: [...ALL_DAYS], start: '08:00', end: '11:00' }];
    // (The window is the campaign's only limit: New York's legal hours run to 21:00.)
    const campaign = await activate(sandbox, token, body);

    // Two real minutes: two simulated hours of dials, up to 12:00 simulated, all made before 10:02 real.
    clock.advance(2 * 60_000);
    const inside = await stats(sandbox, token, campaign.id);
    expect(inside.totalCalls).toBeGreaterThan(0);
    expect(inside.complianceViolations).toBe(0);

    // Past 11:00 real, every dial is outside the window, whatever the simulated clock says.
    clock.advance(60 * 60_000);
    const after = await stats(sandbox, await tokenFor(sandbox), campaign.id); // the first token expired
    expect(after.totalCalls).toBeGreaterThan(inside.totalCalls);
    expect(after.complianceViolations).toBeGreaterThan(0);
  });

  it('counts dials outside the federal legal hours as violations, whatever the windows say (TCPA, not OFCOM)', async () => {
    // Wednesday 2 Dec 2026, 20:15 in New York: inside a window widened to 06:00–23:00, and inside the
    // federal 08:00–21:00. (A recipient state's narrower hours are the orchestrator's to keep: CXone
    // is never told which states a campaign calls.)
    const clock = new ManualClock(Date.parse('2026-12-03T01:15:00Z'));
    sandbox = await start({ clock, rateLimit: { perWindow: 1000, windowMs: 60_000 } });
    let token = await tokenFor(sandbox);
    const body = (regime: 'TCPA' | 'OFCOM') => {
      const b = createBody();
      b.complianceSettings.allowedCallTimes = [{ days: [...ALL_DAYS], start: '06:00', end: '23:00' }];
      b.complianceSettings.regulatoryCompliance = regime;
      return b;
    };
    const federal = await activate(sandbox, token, body('TCPA'));
    clock.advance(30 * 60_000); // to 20:45
    const a = await stats(sandbox, token, federal.id);
    expect(a.totalCalls).toBeGreaterThan(0);
    expect(a.complianceViolations).toBe(0);

    // Past 21:00 every TCPA dial breaks the law; under OFCOM only the windows count.
    const uk = await activate(sandbox, token, body('OFCOM'));
    clock.advance(15 * 60_000); // to 21:00
    const beforeNight = await stats(sandbox, token, federal.id);
    expect(beforeNight.complianceViolations).toBe(0);
    clock.advance(15 * 60_000); // to 21:15
    token = await tokenFor(sandbox); // an hour has passed: the first token expired
    const night = await stats(sandbox, token, federal.id);
    expect(night.totalCalls).toBeGreaterThan(beforeNight.totalCalls);
    expect(night.complianceViolations).toBe(night.totalCalls - beforeNight.totalCalls);
    const ofcom = await stats(sandbox, token, uk.id);
    expect(ofcom.totalCalls).toBeGreaterThan(0);
    expect(ofcom.complianceViolations).toBe(0);
  });

  it('dials harder at a higher callRate (same seed, same scenario)', async () => {
    const totals: number[] = [];
    for (const callRate of [0.2, 1.0]) {
      const clock = new ManualClock(Date.parse('2026-12-02T15:00:00Z'));
      const s = await start({ clock, seed: 11 });
      const token = await tokenFor(s);
      const body = createBody();
      body.dialerSettings.callRate = callRate;
      const { id } = await activate(s, token, body);
      clock.advance(30 * 60_000);
      totals.push((await stats(s, token, id)).totalCalls);
      await s.close();
    }
    expect(totals[1]).toBeGreaterThan(totals[0] as number);
  });
});

describe("sandbox answers at the target list's true contact rate, not the declared answerRate", () => {
  const sandboxes: RunningSandbox[] = [];
  afterEach(async () => {
    await Promise.all(sandboxes.splice(0).map((s) => s.close()));
  });

  /** One campaign (the first, so the same dialer seed) in a fresh sandbox with seed 5, 6 simulated hours of dialing. */
  async function observe(
    declared: number,
    targetListId?: string,
    during?: (s: RunningSandbox, token: string, id: string, version: number) => Promise<void>,
  ): Promise<CampaignStats> {
    const clock = new ManualClock(Date.parse('2026-12-02T15:00:00Z'));
    const s = await start({
      clock,
      seed: 5,
      tokenTtlSeconds: 86_400,
      timeScale: 4, // 90 real minutes: 6 simulated hours of dialing
      rateLimit: { perWindow: 1000, windowMs: 60_000 },
    });
    sandboxes.push(s);
    const token = await tokenFor(s);
    const body = createBody(targetListId === undefined ? {} : { targetListId });
    body.dialerSettings.answerRate = declared;
    body.dialerSettings.callRate = 0.3;
    const id = (await createCampaign(s, token, body)).body.id as string;
    await patch(s, token, id, 1, { status: 'scheduled' });
    const active = await patch(s, token, id, 2, { status: 'active' });
    expect(active.status).toBe(200);
    clock.advance(45 * 60_000);
    await during?.(s, token, id, active.body.version as number);
    clock.advance(45 * 60_000);
    const res = await call(s, 'GET', `/api/v2/outbound/campaigns/${id}/stats`, { token });
    expect(res.status).toBe(200);
    return campaignStatsSchema.parse(res.body);
  }

  const ratio = (s: CampaignStats) => s.answeredCalls / s.totalCalls;

  it('two campaigns on the same list declaring 0.2 and 0.6 observe the same calls, at the list rate', async () => {
    const low = await observe(0.2);
    const high = await observe(0.6);
    expect(low.totalCalls).toBeGreaterThan(4000);
    // Same seed, same list, same settings but the declaration: the same day, call for call.
    expect(high).toEqual(low);
    // The default list's true rate is 0.35; the declarations are far outside the tolerance.
    expect(Math.abs(ratio(low) - 0.35)).toBeLessThan(0.03);
  });

  it('a campaign declaring 0.35 on the stale list observes ≈0.15, on the fresh list ≈0.55', async () => {
    const stale = await observe(0.35, SANDBOX_STALE_LIST_ID);
    expect(stale.totalCalls).toBeGreaterThan(8000);
    expect(Math.abs(ratio(stale) - 0.15)).toBeLessThan(0.02);
    const fresh = await observe(0.35, SANDBOX_FRESH_LIST_ID);
    expect(fresh.totalCalls).toBeGreaterThan(3000);
    expect(Math.abs(ratio(fresh) - 0.55)).toBeLessThan(0.03);
  });

  it('a PATCH of answerRate mid-run changes the resource, not the answers', async () => {
    const steady = await observe(0.35, SANDBOX_STALE_LIST_ID);
    const patched = await observe(0.35, SANDBOX_STALE_LIST_ID, async (s, token, id, version) => {
      const res = await patch(s, token, id, version, { dialerSettings: { answerRate: 0.9 } });
      expect(res.status).toBe(200);
      expect(res.body.dialerSettings).toMatchObject({ answerRate: 0.9 });
    });
    expect(patched).toEqual({ ...steady, version: steady.version + 1 });
  });

  it('a PATCH of wrapUpTime mid-run reaches the dialer: longer after-call work, fewer calls from then on', async () => {
    const steady = await observe(0.35);
    const patched = await observe(0.35, undefined, async (s, token, id, version) => {
      const res = await patch(s, token, id, version, { dialerSettings: { wrapUpTime: 3600 } });
      expect(res.status).toBe(200);
    });
    // Same seed, same first 3 simulated hours; the last 3 hold each agent an hour after every call.
    expect(patched.totalCalls).toBeLessThan(steady.totalCalls * 0.8);
  });

  it('dials for fewer agents once its skill group shrinks below its agentCapacity mid-run', async () => {
    const steady = await observe(0.35);
    const shrunk = await observe(0.35, undefined, async (s) => {
      const group = createBody().dialerSettings;
      const res = await call(s, 'POST', '/__sandbox/directory', {
        body: { skillGroups: [{ id: group.skillGroupId, name: 'Outbound sales', agents: 5 }] },
      });
      expect(res.status).toBe(200);
    });
    // Same seed, same first 3 simulated hours with 20 agents; the last 3 with the 5 still logged in.
    expect(shrunk.totalCalls).toBeLessThan(steady.totalCalls * 0.75);
  });

  it("follows a list's contact rate changed through POST /__sandbox/directory, from then on", async () => {
    let beforeChange: CampaignStats | undefined;
    const after = await observe(0.35, undefined, async (s, token, id) => {
      const res = await call(s, 'GET', `/api/v2/outbound/campaigns/${id}/stats`, { token });
      beforeChange = campaignStatsSchema.parse(res.body);
      const changed = await call(s, 'POST', '/__sandbox/directory', {
        body: { targetLists: [{ id: createBody().targetListId, name: 'Spring renewals', contactRate: 0.1 }] },
      });
      expect(changed.status).toBe(200);
    });
    const b = beforeChange!;
    expect(Math.abs(ratio(b) - 0.35)).toBeLessThan(0.04);
    const later = (after.answeredCalls - b.answeredCalls) / (after.totalCalls - b.totalCalls);
    expect(Math.abs(later - 0.1)).toBeLessThan(0.02);
  });
});
