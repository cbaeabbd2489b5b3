import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyAbandonmentGuard, recordGuardPauseLifted } from '../../src/shared/compliance/guard-actions.js';
import { getGuardState } from '../../src/shared/compliance/state-store.js';
import { createCommandStore } from '../../src/shared/lifecycle/commands.js';
import { config, guardStats } from './fixtures.js';
import { createTestContext, type TestContext } from './redis-context.js';

/*
 * A poll's statistics are read before its guard decides, and the guard's pause can land in between
 * (the stats call waits its turn in the fleet's budget at poll priority, behind commands). Statistics
 * older than the pause still say "active": that is no resume, and the guard must not take it for a
 * lift of its pause — recording a throttle "after the guard's pause", and forgetting the pause, so
 * that the operator's real resume later is no guard_pause_lifted and the window's next open would
 * resume a campaign it paused too, over the cap, with nobody having decided so.
 */
const ID = 'cmp-guard-stale-poll';
const c = config({ startDateTime: '2026-03-02T09:00:00-05:00' });

let tc: TestContext;
beforeEach(async () => {
  tc = await createTestContext('2026-03-03T15:00:00Z');
  await tc.putCampaign(ID, c, 'active', 3);
});
afterEach(async () => tc.close());

async function guardKinds() {
  return (await tc.audit.list(ID))
    .filter((r) => r.action === 'compliance_action')
    .map((r) => r.details['kind']);
}

describe('statistics read before the guard pause landed', () => {
  it('leave the pause standing, so the resume after it is recorded as its lift', async () => {
    const paused = await applyAbandonmentGuard(tc.ctx, {
      campaignId: ID,
      config: c,
      stats: guardStats(1000, 31, 3),
    });
    expect(paused.action).toBe('pause');
    const pauseId = (await getGuardState(tc.ctx, ID))?.pauseCommandId as string;
    // The pause went through on CXone (version 4) ...
    await createCommandStore(tc.ctx).update(
      pauseId,
      {
        status: 'succeeded',
        result: { version: 4, status: 'paused', writes: [], alreadyApplied: [], rebases: 0 },
      },
      new Date(tc.clock.now()),
    );
    // ... after the next poll's statistics were read: version 3, still active.
    tc.clock.advance(15_000);
    const stale = await applyAbandonmentGuard(tc.ctx, {
      campaignId: ID,
      config: c,
      stats: guardStats(1005, 32, 3),
    });
    expect(stale.changed).toBe(false);
    expect(stale.throttle?.maxCallRate).toBe(0.1);
    expect(await getGuardState(tc.ctx, ID)).toMatchObject({ lastAction: 'pause', pausedInPeriod: 0 });
    expect(await guardKinds()).toEqual(['guard_pause']);

    // The operator's resume, later: a lift of the guard's pause, recorded as such.
    tc.clock.advance(600_000);
    await recordGuardPauseLifted(tc.ctx, ID, {
      actor: 'api:alice',
      reason: 'operator',
      commandId: 'cmd_resume',
      version: 5,
    });
    expect(await guardKinds()).toEqual(['guard_pause', 'guard_pause_lifted']);

    // Polled dialing at version 5: now it is lifted, and the guard throttles for the rest of the period.
    tc.clock.advance(15_000);
    const after = await applyAbandonmentGuard(tc.ctx, {
      campaignId: ID,
      config: c,
      stats: guardStats(1010, 32, 5),
    });
    expect(after).toMatchObject({ action: 'throttle', changed: true });
    expect(await guardKinds()).toEqual(['guard_pause', 'guard_pause_lifted', 'guard_throttle']);
  });
});
