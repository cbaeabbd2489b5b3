import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditTrail } from '../../src/shared/audit/trail.js';
import { applyAbandonmentGuard } from '../../src/shared/compliance/guard-actions.js';
import {
  scheduleWindowEnforcement,
  windowJobId,
  windowJobOf,
} from '../../src/shared/compliance/enforcement.js';
import { getGuardState, getWindowState } from '../../src/shared/compliance/state-store.js';
import { getCommand } from '../../src/shared/lifecycle/enqueue.js';
import { createCommandOrder } from '../../src/shared/lifecycle/order.js';
import { silentLogger } from '../../src/shared/logger.js';
import { config } from './fixtures.js';
import { eventually } from './redis-context.js';
import { startWindowStack, type WindowStack } from './window-stack.js';

/*
 * The calling window pauses a campaign ahead of its close; a poll that read the campaign still dialing
 * (inside the hours: the close's pause goes out ahead of the close) runs the abandonment guard over
 * the cap, and the guard's pause, queued behind the window's, finds the campaign paused already. The
 * documented rule (docs/compliance.md, "inside, paused, and the pause was the window's"; the lifecycle's
 * onPauseTaken: a pause found in place is the requester's): the pause is the guard's from then on; the
 * window lets go of it (`window_pause_released`, naming the guard's command), and its next open does not
 * resume a campaign the guard holds paused — lifting that pause is an operator's decision. Real parts:
 * the sandbox over HTTP, real Redis, the adjust and compliance workers.
 */
const weekdays = config(); // America/New_York, Mon–Fri 09:00–17:00
const t = (iso: string) => Date.parse(iso);

let stack: WindowStack;

beforeAll(async () => {
  stack = await startWindowStack({ startIso: '2026-03-06T21:30:00Z' }); // Friday 16:30 EST
});

afterAll(async () => {
  await stack?.close();
});

describe('a window pause, then the abandonment guard pause over it', () => {
  it("hands the pause to the guard, and the window's open does not resume it", async () => {
    const { ctx, clock } = stack;
    const statusOnCxone = async (id: string) => (await ctx.cxone.getCampaign(id)).status;
    const id = await stack.activeCampaign(weekdays);
    const activeVersion = (await ctx.cxone.getCampaign(id)).version;
    await scheduleWindowEnforcement(ctx, id);

    // The close's job fires a minute ahead of 17:00 and its pause lands.
    await stack.fire(id, '2026-03-06T21:59:00Z');
    await eventually(async () => ((await statusOnCxone(id)) === 'paused' ? true : undefined), 15_000);
    const windowPause = (await getWindowState(ctx, id)).pauseCommandId;
    expect(windowPause).toBeDefined();
    expect(await getWindowState(ctx, id)).toMatchObject({ pausedAt: expect.any(String) });

    // A poll that read the campaign active before that pause landed (still inside the hours) finds the
    // period at 4% abandonment on 1 000 live answers: the guard pauses.
    clock.set(t('2026-03-06T21:59:10Z'));
    const guard = await applyAbandonmentGuard(ctx, {
      campaignId: id,
      config: weekdays,
      stats: {
        totalCalls: 3000,
        answeredCalls: 1000,
        abandonedCalls: 40,
        complianceViolations: 0,
        version: activeVersion,
      },
    });
    expect(guard.action).toBe('pause');
    const guardPause = (await getGuardState(ctx, id))?.pauseCommandId;
    expect(guardPause).toBeDefined();
    expect(guardPause).not.toBe(windowPause);
    // The guard's pause (and its drop to the minimum rate) run, finding the window's pause in place.
    await eventually(
      async () => ((await createCommandOrder(ctx).pending(id)).length === 0 ? true : undefined),
      15_000,
    );
    expect((await getCommand(ctx, guardPause!))?.status).toBe('succeeded');

    // The pause is the guard's now: the window let go of it, saying so and naming the guard's command;
    // the guard holds it for its period.
    expect(await getWindowState(ctx, id)).not.toHaveProperty('pausedAt');
    const audit = createAuditTrail({ redis: ctx.redis, keys: ctx.keys, logger: silentLogger });
    const compliance = async () =>
      (await audit.list(id)).filter((r) => r.action === 'compliance_action').map((r) => r.details);
    expect(await compliance()).toContainEqual(
      expect.objectContaining({ kind: 'window_pause_released', commandId: guardPause }),
    );
    expect(await getGuardState(ctx, id)).toMatchObject({ lastAction: 'pause' });

    // Monday's open (09:00 EDT) comes, firing the window job through whatever it planned until then:
    // the campaign stays paused on CXone, no resume is queued, and no window resume is recorded.
    for (let firing = 0; firing < 4; firing++) {
      const job = await ctx.queues.compliance.getJob(windowJobId(id));
      const planned = job ? windowJobOf(job) : undefined;
      if (!planned || planned.atMs > t('2026-03-09T13:00:00Z')) break;
      await stack.fire(id, new Date(Math.max(planned.atMs, clock.now())).toISOString());
    }
    expect(clock.now()).toBeGreaterThanOrEqual(t('2026-03-09T13:00:00Z'));
    expect(await statusOnCxone(id)).toBe('paused');
    expect(await createCommandOrder(ctx).pending(id)).toEqual([]);
    const jobs = await ctx.queues.adjust.getJobs([
      'waiting',
      'delayed',
      'prioritized',
      'active',
      'completed',
    ]);
    expect(jobs.filter((j) => (j.data as { action?: string }).action === 'resume')).toEqual([]);
    expect((await compliance()).filter((r) => r.kind === 'window_resume')).toEqual([]);
    // Nor does the open try one and have the guard withhold it: the window holds no claim to act on.
    // (A window that kept its claim would come to the open and be stopped only by the guard's period,
    // `window_resume_withheld`, and the assertions above would pass all the same.)
    expect((await compliance()).filter((r) => r.kind === 'window_resume_withheld')).toEqual([]);
    expect(await getGuardState(ctx, id)).toMatchObject({ lastAction: 'pause' });
  });
});
