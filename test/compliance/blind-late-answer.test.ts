import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { noteLateStatsPoll } from '../../src/shared/compliance/blind-actions.js';
import { getGuardState, setBlindWatch } from '../../src/shared/compliance/state-store.js';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import type { ClosableContext } from '../../src/shared/context-factory.js';
import { runPollCycle } from '../../src/shared/polling/poll-cycle.js';
import { blindHelpers, MIN, START, weekdays } from './blind-support.js';
import { startWindowStack, type WindowStack } from './window-stack.js';

/*
 * A statistics poll whose stats call waited in the fleet limiter past the poll's 60 s lease
 * (docs/compliance.md, Blind pause): its answer is CXone's of the moment it came (the wait is before
 * the call), but another tick may hold the campaign by then. Real parts: the sandbox over HTTP, real
 * Redis, the adjust and compliance workers; a ManualClock at Tuesday 10:00 EST, inside the window.
 * The wait is played by running `meanwhile` before the stats call, as the other late-poll tests do.
 */
let stack: WindowStack;
let ctx: ClosableContext;
const { statsFail, statsBack, statusOnCxone, watchOf, statsAfter } = blindHelpers(() => stack);

beforeAll(async () => {
  stack = await startWindowStack({ startIso: '2026-03-03T15:00:00Z' });
  ({ ctx } = stack);
});
afterAll(async () => {
  await stack?.close();
});
afterEach(async () => {
  await statsBack();
});

const pollLock = (id: string) => ctx.keys.lock(`poll:${id}`);
/** While the stats call waits, the lease lapses and the next tick takes the campaign (and waits in turn). */
const nextTickTakesOver = (id: string) =>
  statsAfter(async () => {
    await ctx.redis.set(pollLock(id), 'the-next-tick', 'PX', 60_000);
  });
const lastStatsAt = async (id: string) => (await createCampaignStore(ctx).get(id))?.lastStats?.at;

describe('statistics that come back after the poll’s lease went to the next tick', () => {
  it('count towards the blind pause, which comes when every answer is too late to be used', async () => {
    stack.clock.set(START);
    const id = await stack.polledCampaign(weekdays);

    // The fleet is starved of CXone budget: every stats call waits past the lease, and its answer
    // finds the next tick in its place. None is used; each counts as a failed poll.
    for (const minute of [2, 5]) {
      stack.clock.set(START + minute * MIN);
      expect(await runPollCycle(nextTickTakesOver(id), id, { tick: `tick-${minute}` })).toEqual({
        kind: 'busy',
      });
      await ctx.redis.del(pollLock(id));
    }
    expect(await lastStatsAt(id)).toBe(new Date(START).toISOString());
    const watch = await watchOf(id);
    expect(watch).toMatchObject({ failedPolls: 2, okAt: new Date(START).toISOString() });
    expect(watch?.pause).toMatchObject({ failedPolls: 2, lastError: { kind: 'late' } });
    expect((await stack.settled(watch!.pause!.commandId)).status).toBe('succeeded');
    expect(await statusOnCxone(id)).toBe('paused');
    const [pause] = await stack.complianceRecords(id, 'guard_blind_pause');
    expect(pause?.details).toMatchObject({ blindForMs: 5 * MIN, lastError: { kind: 'late' } });
    expect(String(pause?.details.reason)).toMatch(/too late to be used/);
  });

  it('count nothing when the tick that took the campaign read the statistics meanwhile', async () => {
    stack.clock.set(START);
    const id = await stack.polledCampaign(weekdays);
    const readMeanwhile = statsAfter(async () => {
      await ctx.redis.del(pollLock(id));
      stack.clock.set(START + 2 * MIN);
      expect(await runPollCycle(ctx, id)).toMatchObject({ kind: 'polled' });
      await ctx.redis.set(pollLock(id), 'the-next-tick', 'PX', 60_000);
      stack.clock.set(START + 3 * MIN);
    });
    expect(await runPollCycle(readMeanwhile, id)).toEqual({ kind: 'busy' });
    await ctx.redis.del(pollLock(id));
    expect(await watchOf(id)).toBeUndefined();
    expect(await lastStatsAt(id)).toBe(new Date(START + 2 * MIN).toISOString());
  });

  it('issue one blind pause when two late answers are counted at once', async () => {
    stack.clock.set(START);
    const id = await stack.polledCampaign(weekdays);
    // One late answer already counted, five minutes on: the next count pauses. Two at once (the
    // tick whose answer came late, and the one holding the lease failing) must not pause twice.
    stack.clock.set(START + 5 * MIN);
    await setBlindWatch(ctx, id, {
      okAt: new Date(START).toISOString(),
      sinceMs: START + 2 * MIN,
      failedPolls: 1,
      lastError: { kind: 'late', waitedMs: 70_000 },
      tick: 'tick-2',
    });
    const okAt = new Date(START).toISOString();
    await Promise.all([
      noteLateStatsPoll(ctx, id, okAt, 70_000, 1, 'tick-4'),
      noteLateStatsPoll(ctx, id, okAt, 70_000, 1, 'tick-5'),
    ]);
    expect(await watchOf(id)).toMatchObject({ failedPolls: 3 });
    expect(await stack.complianceRecords(id, 'guard_blind_pause')).toHaveLength(1);
  });
});

describe('statistics that come back after the poll’s lease lapsed with nobody taking it', () => {
  it('are used: stored and measured by the guard, and end a streak of failures', async () => {
    stack.clock.set(START);
    const id = await stack.polledCampaign(weekdays);
    await statsFail();
    stack.clock.set(START + 2 * MIN);
    await expect(runPollCycle(ctx, id)).rejects.toThrow();
    expect(await watchOf(id)).toMatchObject({ failedPolls: 1 });
    await statsBack();

    // The lease lapses while the stats call waits; no tick takes the campaign meanwhile.
    const lapsed = statsAfter(async () => {
      await ctx.redis.del(pollLock(id));
      stack.clock.set(START + 4 * MIN);
    });
    expect(await runPollCycle(lapsed, id)).toMatchObject({ kind: 'polled', status: 'active' });
    expect(await lastStatsAt(id)).toBe(new Date(START + 4 * MIN).toISOString());
    expect((await getGuardState(ctx, id))?.lastSeen?.atMs).toBe(START + 4 * MIN);

    // The next failure starts a new streak from that read: one failure, not a pause.
    await statsFail();
    stack.clock.set(START + 6 * MIN);
    await expect(runPollCycle(ctx, id)).rejects.toThrow();
    expect(await watchOf(id)).toMatchObject({
      failedPolls: 1,
      okAt: new Date(START + 4 * MIN).toISOString(),
    });
    expect(await stack.complianceRecords(id, 'guard_blind_pause')).toHaveLength(0);
  });

  it('are not used when another tick read the statistics meanwhile and let the campaign go', async () => {
    stack.clock.set(START);
    const id = await stack.polledCampaign(weekdays);
    const readMeanwhile = statsAfter(async () => {
      await ctx.redis.del(pollLock(id));
      stack.clock.set(START + 2 * MIN);
      expect(await runPollCycle(ctx, id)).toMatchObject({ kind: 'polled' });
      stack.clock.set(START + 3 * MIN);
    });
    expect(await runPollCycle(readMeanwhile, id)).toEqual({ kind: 'busy' });
    expect(await lastStatsAt(id)).toBe(new Date(START + 2 * MIN).toISOString());
    expect(await watchOf(id)).toBeUndefined();
  });
});
