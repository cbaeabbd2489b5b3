import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/sandbox/types.js';
import { recordGuardPauseLifted } from '../../src/shared/compliance/guard-actions.js';
import { complianceKeys, getGuardState } from '../../src/shared/compliance/state-store.js';
import type { ClosableContext } from '../../src/shared/context-factory.js';
import type { EventPublisherStore } from '../../src/shared/events/publisher.js';
import { enqueueCommand } from '../../src/shared/lifecycle/enqueue.js';
import { campaignLockKey } from '../../src/shared/lifecycle/lock.js';
import { runPollCycle } from '../../src/shared/polling/poll-cycle.js';
import { changeAs, CONSOLE } from '../sandbox/helpers.js';
import { MIN, START, weekdays } from './blind-support.js';
import { eventually } from './redis-context.js';
import { startWindowStack, type WindowStack } from './window-stack.js';

/*
 * The abandonment guard paused a campaign over the 3% cap, and someone resumed it in CXone's console
 * (docs/compliance.md, guard_pause_lifted): the trail must show the guard's pause lifted, as it does
 * for an operator's resume through the API, and the guard must go on as after that resume — the
 * period's one pause spent, the campaign throttled to the minimum rate, not paused again in it.
 * Real parts: the sandbox over HTTP with a console client of the fleet's tenant, real Redis, the
 * adjust and compliance workers; a ManualClock at Tuesday 10:00 EST, inside the window. The
 * sandbox's dialer abandons too few calls for the cap, so the polls' figures carry 1 000 answered
 * calls and 100 abandoned more than CXone's (10%): everything else is CXone's answer as it came.
 */
let stack: WindowStack;
let sandbox: RunningSandbox;
let ctx: ClosableContext;

beforeAll(async () => {
  stack = await startWindowStack({ startIso: '2026-03-03T15:00:00Z', withConsole: true });
  ({ sandbox, ctx } = stack);
});
afterAll(async () => {
  await stack?.close();
});

/** The stack's context, its statistics 10% abandoned over the period. */
function overCapCtx(): ClosableContext {
  return {
    ...ctx,
    cxone: {
      ...ctx.cxone,
      getStats: async (...args: Parameters<typeof ctx.cxone.getStats>) => {
        const stats = await ctx.cxone.getStats(...args);
        return {
          ...stats,
          totalCalls: stats.totalCalls + 3_000,
          answeredCalls: stats.answeredCalls + 1_000,
          abandonedCalls: stats.abandonedCalls + 100,
        };
      },
    },
  } as ClosableContext;
}

/** Every command queued so far has run (the guard's pause, its drop to the minimum rate, pacing's). */
async function adjustIdle(): Promise<void> {
  await eventually(async () => {
    const counts = await ctx.queues.adjust.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
    return Object.values(counts).every((n) => n === 0) ? true : undefined;
  }, 15_000);
}

const statusOnCxone = async (id: string) => (await ctx.cxone.getCampaign(id)).status;
const lifts = (id: string) => stack.complianceRecords(id, 'guard_pause_lifted');
const eventsOf = async (id: string, type: string) =>
  (await (ctx.events as EventPublisherStore).recent(50, id)).filter((e) => e.type === type);

/** A polled campaign the guard paused over the cap, its pause landed on CXone. */
async function guardPaused(): Promise<{ id: string; pauseCommandId: string }> {
  stack.clock.set(START);
  const id = await stack.polledCampaign(weekdays);
  stack.clock.set(START + MIN);
  expect(await runPollCycle(overCapCtx(), id)).toMatchObject({ kind: 'polled', guard: 'pause' });
  const [pause] = await stack.complianceRecords(id, 'guard_pause');
  const pauseCommandId = String(pause?.details.commandId);
  expect((await stack.settled(pauseCommandId)).status).toBe('succeeded');
  await adjustIdle();
  expect(await statusOnCxone(id)).toBe('paused');
  return { id, pauseCommandId };
}

describe('a guard pause lifted in CXone’s console', () => {
  it('is recorded as lifted outside the orchestrator, and the guard throttles for the rest of the period', async () => {
    const { id, pauseCommandId } = await guardPaused();

    const resumed = await changeAs(sandbox, CONSOLE, id, { status: 'active' });
    expect(resumed.status).toBe(200);
    const version = resumed.body.version as number;

    stack.clock.set(START + 3 * MIN);
    expect(await runPollCycle(overCapCtx(), id)).toMatchObject({ kind: 'polled', guard: 'throttle' });
    const [lift, ...more] = await lifts(id);
    expect(more).toHaveLength(0);
    expect(lift).toMatchObject({ actor: 'worker:compliance', cxoneVersion: version });
    expect(lift?.details).toMatchObject({
      requestedBy: 'outside',
      reason: 'outside',
      pauseCommandId,
      period: 0,
      note: expect.stringMatching(/resumed outside the orchestrator .* throttles it for the rest/),
    });
    expect(lift?.details).not.toHaveProperty('commandId');
    expect(await eventsOf(id, 'campaign.compliance.resumed')).toEqual([
      expect.objectContaining({ data: expect.objectContaining({ kind: 'guard_pause_lifted' }) }),
    ]);
    // The period's one pause is spent: throttled at the minimum rate, still dialing.
    expect(await stack.complianceRecords(id, 'guard_throttle')).toHaveLength(1);
    expect(await getGuardState(ctx, id)).toMatchObject({ lastAction: 'throttle', pausedInPeriod: 0 });

    // Still over the cap a poll later: neither paused again nor lifted again.
    await adjustIdle();
    stack.clock.set(START + 4 * MIN);
    expect(await runPollCycle(overCapCtx(), id)).toMatchObject({ kind: 'polled', guard: 'throttle' });
    expect(await lifts(id)).toHaveLength(1);
    expect(await stack.complianceRecords(id, 'guard_pause')).toHaveLength(1);
    expect(await statusOnCxone(id)).toBe('active');
  });

  it('waits a poll while a command holds the campaign, as its resume may be that command’s', async () => {
    const { id } = await guardPaused();
    await changeAs(sandbox, CONSOLE, id, { status: 'active' });

    const lock = campaignLockKey(ctx.keys, id);
    await ctx.redis.set(lock, '1:another-worker', 'PX', 30_000);
    stack.clock.set(START + 3 * MIN);
    await runPollCycle(overCapCtx(), id);
    expect(await lifts(id)).toHaveLength(0);
    expect(await getGuardState(ctx, id)).toMatchObject({ lastAction: 'pause' });

    await ctx.redis.del(lock);
    await adjustIdle();
    stack.clock.set(START + 4 * MIN);
    await runPollCycle(overCapCtx(), id);
    expect(await lifts(id)).toEqual([
      expect.objectContaining({ details: expect.objectContaining({ requestedBy: 'outside' }) }),
    ]);
  });
});

describe('a guard pause lifted by an operator through the orchestrator', () => {
  it('is recorded once, as theirs: the poll finding it dialing records no outside lift', async () => {
    const { id } = await guardPaused();
    const { commandId } = await enqueueCommand(ctx, {
      campaignId: id,
      actor: 'api:alice',
      reason: 'operator',
      action: 'resume',
    });
    expect((await stack.settled(commandId)).status).toBe('succeeded');
    await adjustIdle();

    stack.clock.set(START + 3 * MIN);
    expect(await runPollCycle(overCapCtx(), id)).toMatchObject({ kind: 'polled', guard: 'throttle' });
    expect(await lifts(id)).toEqual([
      expect.objectContaining({
        actor: 'api:alice',
        details: expect.objectContaining({ requestedBy: 'api:alice', commandId }),
      }),
    ]);
    expect(await eventsOf(id, 'campaign.compliance.resumed')).toHaveLength(1);
  });

  it('is recorded once when the resume’s command finishes between the poll’s two looks', async () => {
    const { id } = await guardPaused();
    // The operator's resume is running: it holds the campaign's lock and its write reached CXone;
    // its record of the lift is still to come.
    const lock = campaignLockKey(ctx.keys, id);
    await ctx.redis.set(lock, '1:api-worker', 'PX', 30_000);
    const resumed = await changeAs(sandbox, CONSOLE, id, { status: 'active' });
    const version = resumed.body.version as number;
    const hash = complianceKeys(ctx.keys, id).state;
    let finished = false;
    /** The command records its lift and lets the lock go right after the poll's first look. */
    const finish = async () => {
      if (finished) return;
      finished = true;
      await recordGuardPauseLifted(ctx, id, {
        actor: 'api:alice',
        reason: 'operator',
        commandId: 'resume-1',
        version,
      });
      await ctx.redis.del(lock);
    };
    const redis = new Proxy(ctx.redis, {
      get(target, prop) {
        const real = Reflect.get(target, prop, target) as unknown;
        if (typeof real !== 'function') return real;
        const fn = (real as (...a: unknown[]) => unknown).bind(target);
        if (prop === 'hget' || prop === 'exists') {
          return async (...args: unknown[]) => {
            const looked = (prop === 'hget' && args[0] === hash && args[1] === 'lifted') || args[0] === lock;
            const answer = await fn(...args);
            if (looked) await finish();
            return answer;
          };
        }
        return fn;
      },
    });
    const racing = { ...overCapCtx(), redis } as ClosableContext;

    stack.clock.set(START + 3 * MIN);
    await runPollCycle(racing, id);
    expect(finished).toBe(true);
    await adjustIdle();
    stack.clock.set(START + 4 * MIN);
    await runPollCycle(overCapCtx(), id);
    expect(await lifts(id)).toEqual([
      expect.objectContaining({
        actor: 'api:alice',
        details: expect.objectContaining({ requestedBy: 'api:alice', commandId: 'resume-1' }),
      }),
    ]);
  });
});
