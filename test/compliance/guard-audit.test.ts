import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import { cancelWindowEnforcement } from '../../src/shared/compliance/enforcement.js';
import {
  applyAbandonmentGuard,
  endAbandonmentMeasurement,
  recordGuardPauseLifted,
} from '../../src/shared/compliance/guard-actions.js';
import { buildComplianceReport } from '../../src/shared/compliance/report.js';
import { getGuardState } from '../../src/shared/compliance/state-store.js';
import { createCommandStore } from '../../src/shared/lifecycle/commands.js';
import { createCommandOrder } from '../../src/shared/lifecycle/order.js';
import { config, guardStats } from './fixtures.js';
import { createTestContext, withLogBlip, type TestContext } from './redis-context.js';

/*
 * The abandonment guard as the poll worker runs it, on real Redis with H4's audit trail: the
 * throttle and the pause happen at the right thresholds and the trail says why, with the figures.
 */
const ID = 'cmp-guard-1';
const c = config({ startDateTime: '2026-03-02T09:00:00-05:00' });

let tc: TestContext;
beforeEach(async () => {
  tc = await createTestContext('2026-03-03T15:00:00Z');
  await tc.putCampaign(ID, c, 'active', 3);
});
afterEach(async () => tc.close());

async function guardRecords() {
  return (await tc.audit.list(ID))
    .filter((r) => r.action === 'compliance_action')
    .map((r) => ({ actor: r.actor, version: r.cxoneVersion, ...r.details }) as Record<string, unknown>);
}

async function adjustCommands() {
  const jobs = await tc.ctx.queues.adjust.getJobs(['waiting', 'prioritized', 'delayed']);
  return jobs.map((j) => j.data as Record<string, unknown>);
}

describe('abandonment guard with audit', () => {
  it('stays quiet under the target, throttles at 2.5%, pauses at 3%, and records why', async () => {
    const quiet = await applyAbandonmentGuard(tc.ctx, {
      campaignId: ID,
      config: c,
      stats: guardStats(400, 9),
    });
    expect(quiet.action).toBe('none');
    expect(await guardRecords()).toEqual([]);

    tc.clock.advance(15_000);
    const throttle = await applyAbandonmentGuard(tc.ctx, {
      campaignId: ID,
      config: c,
      stats: guardStats(800, 20),
    });
    expect(throttle.action).toBe('throttle');
    expect(throttle.throttle).toMatchObject({ strategy: 'progressive', maxCallRate: 0.8 });
    // Another poll with the same decision does not repeat the record.
    tc.clock.advance(15_000);
    await applyAbandonmentGuard(tc.ctx, { campaignId: ID, config: c, stats: guardStats(810, 21) });

    tc.clock.advance(15_000);
    const pause = await applyAbandonmentGuard(tc.ctx, {
      campaignId: ID,
      config: c,
      stats: guardStats(1000, 31),
    });
    expect(pause.action).toBe('pause');

    const records = await guardRecords();
    expect(records).toEqual([
      expect.objectContaining({
        kind: 'guard_throttle',
        actor: 'worker:compliance',
        version: 3,
        rate: 0.025,
        answeredCalls: 800,
        abandonedCalls: 20,
        target: 0.025,
        cap: 0.03,
        reason: expect.stringMatching(/2\.50% \(20 of 800 live answers\).*reached the 2\.50% target/),
      }),
      expect.objectContaining({
        kind: 'guard_pause',
        rate: 0.031,
        answeredCalls: 1000,
        abandonedCalls: 31,
        commandId: expect.stringMatching(/^cmd_/),
        reason: expect.stringMatching(/3\.10% \(31 of 1000 live answers\).*reached the 3\.00% cap/),
        period: expect.objectContaining({
          index: 0,
          label: '30-day period',
          start: '2026-03-02T14:00:00.000Z',
        }),
      }),
    ]);
    // The pause, then the drop to the minimum call rate, so a resume does not dial at the rate that
    // broke the cap.
    const order = await createCommandOrder(tc.ctx).pending(ID);
    const commands = (await adjustCommands()).sort(
      (a, b) => order.indexOf(String(a['commandId'])) - order.indexOf(String(b['commandId'])),
    );
    expect(commands).toEqual([
      expect.objectContaining({
        campaignId: ID,
        action: 'pause',
        reason: 'abandonment-guard',
        actor: 'worker:compliance',
      }),
      expect.objectContaining({
        campaignId: ID,
        patch: { dialerStrategy: { callRate: 0.1 } },
        reason: 'abandonment-guard',
        actor: 'worker:compliance',
      }),
    ]);
    expect((await tc.events.recent(10, ID)).map((e) => e.type)).toEqual(['campaign.compliance.paused']);
    expect((await tc.audit.verify(ID)).ok).toBe(true);
  });

  it("carries the campaign's efficiency from the statistics it decided on, as the seed's records do", async () => {
    const metrics = {
      efficiencyScore: 12.5,
      answerRate: 0.3,
      abandonmentRate: 0.04,
      complianceViolationFrequency: 0,
      totalCalls: 3000,
    };
    const pause = await applyAbandonmentGuard(tc.ctx, {
      campaignId: ID,
      config: c,
      stats: guardStats(1000, 40),
      metrics,
    });
    expect(pause.action).toBe('pause');
    const records = (await tc.audit.list(ID)).filter((r) => r.action === 'compliance_action');
    expect(records.map((r) => r.metrics)).toEqual([metrics]);
  });

  it('pauses again when its pause failed for good and the campaign kept dialing over the cap', async () => {
    const first = await applyAbandonmentGuard(tc.ctx, {
      campaignId: ID,
      config: c,
      stats: guardStats(1000, 31),
    });
    expect(first.action).toBe('pause');
    const pauseId = (await adjustCommands()).find((j) => j['action'] === 'pause')?.['commandId'];
    expect(pauseId).toMatch(/^cmd_/);
    // CXone refused the pause to the end: the campaign is still active, still over the cap.
    await createCommandStore(tc.ctx).update(
      String(pauseId),
      { status: 'failed', error: { message: 'upstream 503 after 10 attempts' } },
      new Date(tc.clock.now()),
    );
    tc.clock.advance(15_000);
    const again = await applyAbandonmentGuard(tc.ctx, {
      campaignId: ID,
      config: c,
      stats: guardStats(1100, 36),
    });
    expect(again.action).toBe('pause');
    const pauses = (await adjustCommands()).filter((j) => j['action'] === 'pause');
    expect(pauses).toHaveLength(2);
    const records = (await guardRecords()).filter((r) => r.kind === 'guard_pause');
    expect(records).toHaveLength(2);
    expect(records[1]).toMatchObject({ reissued: true, failedCommandId: pauseId, answeredCalls: 1100 });

    // Once a pause went through, a campaign dialing again in the period (an operator lifted it) is
    // throttled, not paused again.
    const secondId = pauses.map((j) => String(j['commandId'])).find((id) => id !== pauseId) as string;
    await createCommandStore(tc.ctx).update(secondId, { status: 'succeeded' }, new Date(tc.clock.now()));
    tc.clock.advance(15_000);
    const lifted = await applyAbandonmentGuard(tc.ctx, {
      campaignId: ID,
      config: c,
      stats: guardStats(1200, 40),
    });
    expect(lifted.action).toBe('throttle');
    expect((await adjustCommands()).filter((j) => j['action'] === 'pause')).toHaveLength(2);
  });

  it('keeps its pause standing while the pause is on its way, so the resume after it lifts it', async () => {
    const pause = await applyAbandonmentGuard(tc.ctx, {
      campaignId: ID,
      config: c,
      stats: guardStats(1000, 31),
    });
    expect(pause.action).toBe('pause');
    // Polled still dialing before the pause (queued behind the fleet's budget) reached CXone.
    tc.clock.advance(15_000);
    const pending = await applyAbandonmentGuard(tc.ctx, {
      campaignId: ID,
      config: c,
      stats: guardStats(1010, 32),
    });
    expect(pending.throttle?.maxCallRate).toBe(0.1);
    expect(pending.changed).toBe(false);
    expect(await getGuardState(tc.ctx, ID)).toMatchObject({ lastAction: 'pause', pausedInPeriod: 0 });
    expect((await guardRecords()).map((r) => r.kind)).toEqual(['guard_pause']);

    // The pause landed; an operator resumed the campaign: that is a lift of the guard's pause.
    const pauseId = (await adjustCommands()).find((j) => j['action'] === 'pause')?.['commandId'];
    await createCommandStore(tc.ctx).update(
      String(pauseId),
      { status: 'succeeded' },
      new Date(tc.clock.now()),
    );
    tc.clock.advance(60_000);
    await recordGuardPauseLifted(tc.ctx, ID, {
      actor: 'api:alice',
      reason: 'operator',
      commandId: 'cmd_resume',
      version: 4,
    });
    expect((await guardRecords()).map((r) => r.kind)).toEqual(['guard_pause', 'guard_pause_lifted']);

    // Polled dialing after the lift: throttled at the minimum rate, and that is recorded.
    tc.clock.advance(15_000);
    const after = await applyAbandonmentGuard(tc.ctx, {
      campaignId: ID,
      config: c,
      stats: guardStats(1020, 32),
    });
    expect(after).toMatchObject({ action: 'throttle', changed: true, throttle: { maxCallRate: 0.1 } });
    expect((await guardRecords()).map((r) => r.kind)).toEqual([
      'guard_pause',
      'guard_pause_lifted',
      'guard_throttle',
    ]);
  });

  it('records a throttle again when it escalates to the cap or carries into a new period', async () => {
    // Paused at the cap, then lifted by an operator: the guard throttles for the rest of the period.
    await applyAbandonmentGuard(tc.ctx, { campaignId: ID, config: c, stats: guardStats(1000, 31) });
    const pauseId = (await adjustCommands()).find((j) => j['action'] === 'pause')?.['commandId'];
    await createCommandStore(tc.ctx).update(
      String(pauseId),
      { status: 'succeeded' },
      new Date(tc.clock.now()),
    );
    tc.clock.advance(3_600_000);
    const atTarget = await applyAbandonmentGuard(tc.ctx, {
      campaignId: ID,
      config: c,
      stats: guardStats(1300, 35),
    });
    expect(atTarget.action).toBe('throttle');
    expect(atTarget.throttle?.maxCallRate).toBeGreaterThan(0.1);
    // Back over the cap in the same period: no second pause, the minimum rate. A decision of its own.
    tc.clock.advance(3_600_000);
    const overCap = await applyAbandonmentGuard(tc.ctx, {
      campaignId: ID,
      config: c,
      stats: guardStats(1400, 45),
    });
    expect(overCap.action).toBe('throttle');
    expect(overCap.throttle?.maxCallRate).toBe(0.1);
    // A new period whose first answers are over the cap: a throttle on that period's figures.
    tc.clock.set(Date.parse('2026-04-01T15:00:00Z'));
    const nextPeriod = await applyAbandonmentGuard(tc.ctx, {
      campaignId: ID,
      config: c,
      stats: guardStats(1410, 46),
    });
    expect(nextPeriod.period.index).toBe(1);
    expect(nextPeriod.action).toBe('throttle');

    const throttles = (await guardRecords()).filter((r) => r.kind === 'guard_throttle');
    expect(
      throttles.map((r) => [r.answeredCalls, r.abandonedCalls, (r.period as { index: number }).index]),
    ).toEqual([
      [1300, 35, 0],
      [1400, 45, 0],
      [10, 1, 1],
    ]);
    expect(throttles[1]).toMatchObject({
      throttle: { maxCallRate: 0.1 },
      reason: expect.stringMatching(/cap/),
    });
  });

  it('records the last period when the campaign ends, with the calls counted up to its end', async () => {
    // A campaign shorter than a period: no rollover ever closes its only period.
    await applyAbandonmentGuard(tc.ctx, { campaignId: ID, config: c, stats: guardStats(500, 10) });
    tc.clock.advance(2 * 86_400_000);
    await applyAbandonmentGuard(tc.ctx, { campaignId: ID, config: c, stats: guardStats(900, 27) });
    // Stopped; its final statistics (the calls in flight at the last poll settled since) are stored.
    tc.clock.advance(60_000);
    const final = { ...guardStats(910, 30), status: 'completed' as const, agentUtilization: 0 };
    await createCampaignStore(tc.ctx).recordStats(ID, final, null);
    await cancelWindowEnforcement(tc.ctx, ID);
    await cancelWindowEnforcement(tc.ctx, ID); // the poll and the lifecycle both see it end

    const closed = (await guardRecords()).filter((r) => r.kind === 'period_closed');
    expect(closed).toEqual([
      expect.objectContaining({
        rule: 'abandonment-period',
        final: true,
        period: { index: 0, start: '2026-03-02T14:00:00.000Z', end: '2026-03-05T15:01:00.000Z' },
        answeredCalls: 910,
        abandonedCalls: 30,
        withinCap: false,
      }),
    ]);
    const report = buildComplianceReport({
      campaignId: ID,
      status: 'completed',
      config: c,
      lastStats: final,
      guard: await getGuardState(tc.ctx, ID),
      window: {},
      actions: [],
      nowMs: tc.clock.now(),
    });
    expect(report.abandonment.periods).toEqual([expect.objectContaining({ index: 0, withinCap: false })]);
    expect(report.abandonment.current).toBeNull();
    expect(report.violations.periodsOverCap).toBe(1);
  });

  it('reports a period that ended while nothing polled it as closed, not as the current one', async () => {
    // Paused by the guard on day 2; still paused on day 45: no active poll has rolled period 0 over.
    await applyAbandonmentGuard(tc.ctx, { campaignId: ID, config: c, stats: guardStats(1000, 31) });
    tc.clock.set(Date.parse('2026-04-16T15:00:00Z'));
    const last = { ...guardStats(1000, 31), status: 'paused' as const, agentUtilization: 0 };
    const report = buildComplianceReport({
      campaignId: ID,
      status: 'paused',
      config: c,
      lastStats: last,
      guard: await getGuardState(tc.ctx, ID),
      window: {},
      actions: [],
      nowMs: tc.clock.now(),
    });
    expect(report.abandonment.periods).toEqual([
      expect.objectContaining({ index: 0, end: '2026-04-01T14:00:00.000Z', rate: 0.031, withinCap: false }),
    ]);
    expect(report.abandonment.current).toMatchObject({
      index: 1,
      start: '2026-04-01T14:00:00.000Z',
      answeredCalls: 0,
      rate: null,
    });
    expect(report.violations.periodsOverCap).toBe(1);
    // A read writes nothing: the guard's state is the one the poll left.
    expect((await getGuardState(tc.ctx, ID))?.periodIndex).toBe(0);
  });

  it('records a closed period with its rate and whether it stayed under the cap', async () => {
    await applyAbandonmentGuard(tc.ctx, { campaignId: ID, config: c, stats: guardStats(5000, 100) });
    tc.clock.set(Date.parse('2026-04-01T14:00:00Z')); // start + 30 days
    const d = await applyAbandonmentGuard(tc.ctx, {
      campaignId: ID,
      config: c,
      stats: guardStats(5010, 100),
    });
    expect(d.period.index).toBe(1);
    const closed = (await guardRecords()).find((r) => r.kind === 'period_closed');
    expect(closed).toMatchObject({ rate: 0.02, answeredCalls: 5000, abandonedCalls: 100, withinCap: true });
  });

  it('records a closed period on the retry when recording it failed at the rollover', async () => {
    await applyAbandonmentGuard(tc.ctx, { campaignId: ID, config: c, stats: guardStats(5000, 100) });
    tc.clock.set(Date.parse('2026-04-01T14:00:00Z')); // start + 30 days
    await expect(
      applyAbandonmentGuard(withLogBlip(tc.ctx), { campaignId: ID, config: c, stats: guardStats(5010, 100) }),
    ).rejects.toThrow('redis blip');
    // The poll is retried.
    tc.clock.advance(15_000);
    await applyAbandonmentGuard(tc.ctx, { campaignId: ID, config: c, stats: guardStats(5010, 100) });

    const closed = (await guardRecords()).filter((r) => r.kind === 'period_closed');
    expect(closed).toEqual([expect.objectContaining({ period: expect.objectContaining({ index: 0 }) })]);
    expect((await getGuardState(tc.ctx, ID))?.periods.map((p) => p.index)).toEqual([0]);
  });

  it("records the last period on the retry when recording it failed at the campaign's end", async () => {
    await applyAbandonmentGuard(tc.ctx, { campaignId: ID, config: c, stats: guardStats(500, 10) });
    tc.clock.advance(60_000);
    await expect(cancelWindowEnforcement(withLogBlip(tc.ctx), ID)).rejects.toThrow('redis blip');
    await cancelWindowEnforcement(tc.ctx, ID);

    const closed = (await guardRecords()).filter((r) => r.kind === 'period_closed');
    expect(closed).toEqual([expect.objectContaining({ final: true, answeredCalls: 500 })]);
    expect(await getGuardState(tc.ctx, ID)).toMatchObject({ endedAtMs: tc.clock.now() });
  });

  it('keeps the end of the measurement that came while a poll was deciding', async () => {
    await applyAbandonmentGuard(tc.ctx, { campaignId: ID, config: c, stats: guardStats(500, 10) });
    tc.clock.advance(15_000);
    // The campaign is stopped (its end closes the last period) right after this poll read the state.
    let ended = false;
    const racing = {
      ...tc.ctx,
      redis: new Proxy(tc.ctx.redis, {
        get(target, prop) {
          if (prop === 'hget') {
            return async (key: string, field: string) => {
              const value = await target.hget(key, field);
              if (field === 'guard' && !ended) {
                ended = true;
                await endAbandonmentMeasurement(tc.ctx, ID);
              }
              return value;
            };
          }
          const value: unknown = Reflect.get(target, prop, target);
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      }),
    };
    await applyAbandonmentGuard(racing, { campaignId: ID, config: c, stats: guardStats(510, 10) });

    const state = await getGuardState(tc.ctx, ID);
    expect(state?.endedAtMs).toBe(tc.clock.now());
    expect(state?.periods.map((p) => p.index)).toEqual([0]);
  });

  it('neither records nor pauses anything for a campaign whose measurement ended', async () => {
    await applyAbandonmentGuard(tc.ctx, { campaignId: ID, config: c, stats: guardStats(500, 10) });
    await endAbandonmentMeasurement(tc.ctx, ID);
    const before = await guardRecords();
    // A poll that was in flight when the campaign was stopped, over the cap since the end.
    tc.clock.advance(15_000);
    await applyAbandonmentGuard(tc.ctx, { campaignId: ID, config: c, stats: guardStats(600, 20) });

    expect(await guardRecords()).toEqual(before);
    expect((await adjustCommands()).filter((j) => j['action'] === 'pause')).toEqual([]);
  });
});
