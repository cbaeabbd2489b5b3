import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AppContext } from '../../src/shared/context.js';
import { applyAbandonmentGuard } from '../../src/shared/compliance/guard-actions.js';
import { getGuardState } from '../../src/shared/compliance/state-store.js';
import { config, guardStats } from './fixtures.js';
import { createTestContext, type TestContext } from './redis-context.js';

/*
 * The guard's pause is decided, its state written, and only then queued. A worker that dies in
 * between (killed in a deploy, Redis lost right after the state write) must not leave the state
 * saying the period's one pause was spent: the next poll would only throttle a campaign that was never
 * paused, dialing on over the 3% cap, and record a throttle "after the guard's pause" that never was.
 */
const ID = 'cmp-guard-lost-pause';
const c = config({ startDateTime: '2026-03-02T09:00:00-05:00' });

let tc: TestContext;
beforeEach(async () => {
  tc = await createTestContext('2026-03-03T15:00:00Z');
  await tc.putCampaign(ID, c, 'active', 3);
});
afterEach(async () => tc.close());

/**
 * The context as a worker whose Redis goes away right after the guard's compare-and-set: queueing the
 * pause fails, and so does every plain write after it (the worker is as good as dead).
 */
function lostAfterStateWrite(ctx: AppContext): AppContext {
  const lost = () => Promise.reject(new Error('Connection is closed.'));
  const redis = new Proxy(ctx.redis, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      if (prop === 'hset' || prop === 'set') return lost;
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
  const adjust = new Proxy(ctx.queues.adjust, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (prop === 'add') return lost;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { ...ctx, redis, queues: { ...ctx.queues, adjust } };
}

async function pausesQueued() {
  const jobs = await tc.ctx.queues.adjust.getJobs(['waiting', 'prioritized', 'delayed']);
  return jobs.filter((j) => (j.data as { action?: string }).action === 'pause');
}

describe('a guard pause lost between its decision and its queueing', () => {
  it('is decided again by the next poll, not taken as spent', async () => {
    await expect(
      applyAbandonmentGuard(lostAfterStateWrite(tc.ctx), {
        campaignId: ID,
        config: c,
        stats: guardStats(1000, 31),
      }),
    ).rejects.toThrow(/Connection is closed/);
    expect(await pausesQueued()).toHaveLength(0);
    // Nothing the state says may count the pause that never left as the period's one pause.
    expect((await getGuardState(tc.ctx, ID))?.pausedInPeriod).not.toBe(0);

    // The restarted worker's next poll: still dialing, still over the cap.
    tc.clock.advance(15_000);
    const next = await applyAbandonmentGuard(tc.ctx, {
      campaignId: ID,
      config: c,
      stats: guardStats(1010, 32),
    });
    expect(next.action).toBe('pause');
    expect(await pausesQueued()).toHaveLength(1);
    const kinds = (await tc.audit.list(ID))
      .filter((r) => r.action === 'compliance_action')
      .map((r) => r.details['kind']);
    expect(kinds).toEqual(['guard_pause']);
    expect(await getGuardState(tc.ctx, ID)).toMatchObject({ lastAction: 'pause', pausedInPeriod: 0 });
  });
});
