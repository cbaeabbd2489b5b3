import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { recordGuardPauseLifted } from '../../src/shared/compliance/guard-actions.js';
import type { GuardState } from '../../src/shared/compliance/guard.js';
import { buildComplianceReport } from '../../src/shared/compliance/report.js';
import { getGuardLiftRecorded, listActions, setGuardState } from '../../src/shared/compliance/state-store.js';
import { createLifecycleHooks } from '../../src/shared/lifecycle/hooks.js';
import { config } from './fixtures.js';
import { createTestContext, type TestContext } from './redis-context.js';

/*
 * An operator's resume of a campaign the abandonment guard paused, recorded against the measurement
 * period holding when it happened: the paused period's own when the resume came in it, the new one
 * when that period ended while the campaign stood paused.
 */
const ID = 'cmp-guard-lift-1';
const c = config({ startDateTime: '2026-03-02T09:00:00-05:00' });
const anchorMs = Date.parse('2026-03-02T14:00:00Z');
const DAY = 86_400_000;
const zero = { totalCalls: 0, answeredCalls: 0, abandonedCalls: 0, complianceViolations: 0 };
// The guard paused it in period 0 at 10 abandoned of 40 answered, at its last poll.
const pausedInPeriod0: GuardState = {
  version: 1,
  regime: 'TCPA',
  anchorMs,
  periodIndex: 0,
  baseline: zero,
  lastSeen: { ...zero, totalCalls: 120, answeredCalls: 40, abandonedCalls: 10, atMs: anchorMs + 29 * DAY },
  throttled: false,
  pausedInPeriod: 0,
  lastAction: 'pause',
  periods: [],
};
const by = { actor: 'api:alice', reason: 'operator', commandId: 'cmd_lift', version: 7 };

let tc: TestContext;
beforeEach(async () => {
  tc = await createTestContext(new Date(anchorMs + 29 * DAY + 3_600_000).toISOString());
  await tc.putCampaign(ID, c, 'active', 7);
  await setGuardState(tc.ctx, ID, pausedInPeriod0);
});
afterEach(async () => tc.close());

async function lifts() {
  return (await tc.audit.list(ID))
    .filter((r) => r.action === 'compliance_action' && r.details['kind'] === 'guard_pause_lifted')
    .map((r) => ({ actor: r.actor, ...r.details }) as Record<string, unknown>);
}

describe('a lift of the guard pause', () => {
  it('in the period of the pause is recorded against it, with its figures', async () => {
    await recordGuardPauseLifted(tc.ctx, ID, by);
    expect(await lifts()).toEqual([
      expect.objectContaining({
        actor: 'api:alice',
        requestedBy: 'api:alice',
        period: 0,
        periodStart: '2026-03-02T14:00:00.000Z',
        answeredCalls: 40,
        abandonedCalls: 10,
        note: expect.stringMatching(/throttles it for the rest of the period/),
      }),
    ]);
  });

  it('after that period ended while paused is recorded against the period holding at the resume', async () => {
    // Paused across the boundary: the guard did not evaluate it since, its state is still period 0's.
    tc.clock.advance(2 * DAY);
    await recordGuardPauseLifted(tc.ctx, ID, by);

    const [lift] = await lifts();
    expect(lift).toMatchObject({
      period: 1,
      periodStart: '2026-04-01T14:00:00.000Z',
      periodEnd: '2026-05-01T14:00:00.000Z',
      pausedInPeriod: 0,
      note: expect.stringMatching(/ended; the new period is measured afresh/),
    });
    // Period 0's figures are not the new period's.
    expect(lift).not.toHaveProperty('answeredCalls');
    expect(lift).not.toHaveProperty('abandonedCalls');

    // The report lists it against the period it shows as current.
    const report = buildComplianceReport({
      campaignId: ID,
      status: 'active',
      config: c,
      lastStats: {
        ...pausedInPeriod0.lastSeen!,
        status: 'active' as const,
        version: 7,
        agentUtilization: 0,
      },
      guard: pausedInPeriod0,
      window: {},
      actions: await listActions(tc.ctx, ID),
      nowMs: tc.clock.now(),
    });
    expect(report.abandonment.current?.index).toBe(1);
    expect(report.guardActions).toEqual([
      expect.objectContaining({
        kind: 'guard_pause_lifted',
        details: expect.objectContaining({ period: 1 }),
      }),
    ]);
  });

  it('after a rollover is recorded so by a resume that goes through the lifecycle', async () => {
    tc.clock.advance(2 * DAY);
    await createLifecycleHooks(tc.ctx).onStatusChanged?.(ID, 'paused', 'active', by);
    expect(await lifts()).toEqual([expect.objectContaining({ period: 1, pausedInPeriod: 0 })]);
  });

  it('is not recorded for the calling window’s or the blind pause’s own resume: they lift only their own pause', async () => {
    // The window resumes only a pause it made, the blind settle only one it wrote: a campaign dialing
    // when they paused it had its guard pause lifted before (in CXone's console, unseen by a poll),
    // and the poll after their resume records that lift as made outside (guard-actions.ts).
    const hooks = createLifecycleHooks(tc.ctx);
    for (const reason of ['compliance-window', 'abandonment-guard-blind']) {
      await hooks.onStatusChanged(ID, 'paused', 'active', {
        actor: 'worker:compliance',
        reason,
        commandId: `cmd_${reason}`,
        version: 8,
      });
    }
    expect(await lifts()).toEqual([]);
    expect(await getGuardLiftRecorded(tc.ctx, ID)).toBeNull();
  });

  it('is not recorded when the guard holds no pause', async () => {
    await setGuardState(tc.ctx, ID, { ...pausedInPeriod0, lastAction: 'throttle' });
    await recordGuardPauseLifted(tc.ctx, ID, by);
    expect(await lifts()).toEqual([]);
  });
});
