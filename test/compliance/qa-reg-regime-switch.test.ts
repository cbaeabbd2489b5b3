import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyAbandonmentGuard } from '../../src/shared/compliance/guard-actions.js';
import { getGuardState } from '../../src/shared/compliance/state-store.js';
import { config, guardStats } from './fixtures.js';
import { createTestContext, type TestContext } from './redis-context.js';

/*
 * CXone's console can switch a running campaign's regulatoryCompliance (TCPA ↔ OFCOM), and the
 * orchestrator adopts it: the guard then measures in the new regime's periods. The period the old
 * regime was measuring must not vanish with it: it is closed at the switch and recorded like any
 * other (period_closed, under the old regime), and the closed periods stay in the state the report
 * reads.
 */
const ID = 'cmp-guard-regime-switch';
const tcpa = config({ startDateTime: '2026-03-02T09:00:00-05:00' });
const ofcom = config({
  startDateTime: '2026-03-02T09:00:00-05:00',
  compliance: { regime: 'OFCOM', doNotCallCheck: true },
});

let tc: TestContext;
beforeEach(async () => {
  tc = await createTestContext('2026-03-03T15:00:00Z');
  await tc.putCampaign(ID, tcpa, 'active', 3);
});
afterEach(async () => tc.close());

async function periodRecords() {
  return (await tc.audit.list(ID))
    .filter((r) => r.action === 'compliance_action' && r.details['kind'] === 'period_closed')
    .map((r) => r.details);
}

describe('a regime switched in CXone while the campaign runs', () => {
  it("closes and records the old regime's period at the switch", async () => {
    await applyAbandonmentGuard(tc.ctx, { campaignId: ID, config: tcpa, stats: guardStats(500, 10) });
    tc.clock.advance(3_600_000);
    await applyAbandonmentGuard(tc.ctx, { campaignId: ID, config: tcpa, stats: guardStats(800, 20) });

    tc.clock.advance(15_000);
    const switched = await applyAbandonmentGuard(tc.ctx, {
      campaignId: ID,
      config: ofcom,
      stats: guardStats(810, 20),
    });
    expect(switched.regime).toBe('OFCOM');
    const records = await periodRecords();
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      regime: 'TCPA',
      period: { index: 0, start: '2026-03-02T14:00:00.000Z', end: '2026-03-03T16:00:15.000Z' },
      answeredCalls: 800,
      abandonedCalls: 20,
    });
    const state = await getGuardState(tc.ctx, ID);
    expect(state?.regime).toBe('OFCOM');
    expect(state?.periods.map((p) => [p.answeredCalls, p.abandonedCalls])).toEqual([[800, 20]]);
  });

  it('measures the new regime from the switch, not from the campaign’s first call', async () => {
    // Two days at 1% under TCPA; then, switched to OFCOM, 10 of the next 100 answered calls abandoned.
    await applyAbandonmentGuard(tc.ctx, { campaignId: ID, config: tcpa, stats: guardStats(10_000, 100) });
    tc.clock.advance(15_000);
    const switched = await applyAbandonmentGuard(tc.ctx, {
      campaignId: ID,
      config: ofcom,
      stats: guardStats(10_000, 100),
    });
    expect(switched.figures).toMatchObject({ answeredCalls: 0, abandonedCalls: 0 });
    tc.clock.advance(15_000);
    const after = await applyAbandonmentGuard(tc.ctx, {
      campaignId: ID,
      config: ofcom,
      stats: guardStats(10_100, 110),
    });
    // The counters are CXone's since the campaign began: taken whole, the TCPA stretch's calls would
    // count again in the new regime's period (110 of 10 100, 1.1%) and hide its 10% from the guard.
    expect(after.figures).toMatchObject({ answeredCalls: 100, abandonedCalls: 10 });
    expect(after.action).not.toBe('none');
  });
});
