import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/sandbox/types.js';
import { noteBlindPauseOvertaken, REASON_BLIND } from '../../src/shared/compliance/blind-actions.js';
import { scheduleWindowEnforcement } from '../../src/shared/compliance/enforcement.js';
import { complianceKeys, getWindowState, setBlindWatch } from '../../src/shared/compliance/state-store.js';
import type { ManualClock } from '../../src/shared/clock.js';
import { createContext, type ClosableContext } from '../../src/shared/context-factory.js';
import type { EventPublisherStore } from '../../src/shared/events/publisher.js';
import { enqueueCommand } from '../../src/shared/lifecycle/enqueue.js';
import { silentLogger } from '../../src/shared/logger.js';
import { runPollCycle } from '../../src/shared/polling/poll-cycle.js';
import { startRedisMonitor } from '../support/redis-monitor.js';
import { blindHelpers, MIN, START, weekdays } from './blind-support.js';
import { REDIS_URL } from './redis-context.js';
import { startWindowStack, type WindowStack } from './window-stack.js';

/*
 * The abandonment guard's fail-safe (docs/compliance.md, Blind pause): an active campaign whose
 * statistics polls keep failing is paused once it has gone unmeasured for GUARD_BLIND_PAUSE_AFTER_MS
 * (5 minutes by default), and resumed when the statistics come back if nothing else happened to it.
 * Real parts: the sandbox over HTTP with its stats endpoint failing (its fault routes), real Redis,
 * the adjust and compliance workers; time is a ManualClock at Tuesday 10:00 EST, inside the window.
 */
let stack: WindowStack;
let sandbox: RunningSandbox;
let ctx: ClosableContext;
let clock: ManualClock;
const { statsFail, statsBack, statusOnCxone, watchOf, failingPoll, blindPaused, expectBlindResumed } =
  blindHelpers(() => stack);

beforeAll(async () => {
  stack = await startWindowStack({ startIso: '2026-03-03T15:00:00Z' });
  ({ sandbox, ctx, clock } = stack);
});
afterAll(async () => {
  await stack?.close();
});
afterEach(async () => {
  await fetch(`${sandbox.url}/__sandbox/faults`, { method: 'DELETE' });
});

describe('an active campaign whose statistics polls keep failing', () => {
  it('is paused once unmeasured for the span, recorded with what the guard last saw, and resumed when they return', async () => {
    clock.set(START);
    const id = await stack.polledCampaign(weekdays);
    await statsFail();

    // Blind for 4 minutes, two failed polls: not yet.
    clock.set(START + 2 * MIN);
    await failingPoll(id);
    clock.set(START + 4 * MIN);
    await failingPoll(id);
    expect(await watchOf(id)).toMatchObject({ failedPolls: 2, okAt: '2026-03-03T15:00:00.000Z' });
    expect((await watchOf(id))?.pause).toBeUndefined();
    expect(await stack.complianceRecords(id, 'guard_blind_pause')).toHaveLength(0);

    // Five minutes without a read: paused through the lifecycle.
    clock.set(START + 5 * MIN);
    await failingPoll(id);
    const watch = await watchOf(id);
    expect(watch?.pause).toMatchObject({ failedPolls: 3, lastError: { kind: 'unavailable', status: 503 } });
    const command = await stack.settled(watch!.pause!.commandId);
    expect(command).toMatchObject({ status: 'succeeded', actor: 'worker:compliance', reason: REASON_BLIND });
    expect(await statusOnCxone(id)).toBe('paused');
    const [pause] = await stack.complianceRecords(id, 'guard_blind_pause');
    expect(pause?.details).toMatchObject({
      kind: 'guard_blind_pause',
      rule: 'abandonment-guard-blind',
      blindForMs: 5 * MIN,
      pauseAfterMs: 5 * MIN,
      lastStatsAt: '2026-03-03T15:00:00.000Z',
      failedPolls: 3,
      lastError: { kind: 'unavailable', status: 503 },
      commandId: watch!.pause!.commandId,
    });
    const events = await (ctx.events as EventPublisherStore).recent(20, id);
    expect(events.filter((e) => e.type === 'campaign.compliance.paused')).toHaveLength(1);

    // More failed polls while it stands paused: counted, nothing issued again.
    clock.set(START + 7 * MIN);
    await failingPoll(id);
    expect(await stack.complianceRecords(id, 'guard_blind_pause')).toHaveLength(1);

    // The statistics come back: measured (1 of 100 answered calls abandoned, under the cap), resumed.
    await statsBack();
    clock.set(START + 8 * MIN);
    expect(await runPollCycle(ctx, id)).toMatchObject({ kind: 'polled', status: 'paused' });
    const [resume] = await stack.complianceRecords(id, 'guard_blind_resume');
    expect(resume?.details).toMatchObject({ pauseCommandId: watch!.pause!.commandId, cap: 0.03 });
    expect((await stack.settled(String(resume?.details.commandId))).status).toBe('succeeded');
    expect(await statusOnCxone(id)).toBe('active');
    expect((await watchOf(id))?.pause).toBeUndefined();
    expect((await (ctx.events as EventPublisherStore).recent(20, id)).map((e) => e.type)).toContain(
      'campaign.compliance.resumed',
    );
    // Its resume lifts no guard pause: nothing is recorded as an operator's lift.
    expect(await stack.complianceRecords(id, 'guard_pause_lifted')).toHaveLength(0);
  });

  it('goes on counting across a worker restart: the count is in Redis', async () => {
    clock.set(START);
    const id = await stack.polledCampaign(weekdays);
    await statsFail();
    clock.set(START + 3 * MIN);
    await failingPoll(id);
    // Another process (the first one restarted) takes the next tick.
    const restarted = await createContext(ctx.config, silentLogger, { clock });
    try {
      clock.set(START + 6 * MIN);
      await failingPoll(id, restarted);
    } finally {
      await restarted.close();
    }
    const pause = (await watchOf(id))?.pause;
    expect(pause?.failedPolls).toBe(2);
    expect((await stack.settled(pause!.commandId)).status).toBe('succeeded');
    expect(await statusOnCxone(id)).toBe('paused');
  });

  it('stays paused, and says why, when an operator paused it meanwhile', async () => {
    const { id } = await blindPaused();
    const { commandId } = await enqueueCommand(ctx, {
      campaignId: id,
      actor: 'api:ops',
      reason: 'operator',
      action: 'pause',
    });
    expect((await stack.settled(commandId)).status).toBe('succeeded');

    await statsBack();
    clock.set(START + 9 * MIN);
    await runPollCycle(ctx, id);
    const [kept] = await stack.complianceRecords(id, 'guard_blind_pause_kept');
    expect(kept?.details).toMatchObject({ kept: 'overtaken' });
    expect(await stack.complianceRecords(id, 'guard_blind_resume')).toHaveLength(0);
    expect(await statusOnCxone(id)).toBe('paused');
    // Decided once: a later poll records nothing more.
    clock.set(START + 10 * MIN);
    await runPollCycle(ctx, id);
    expect(await stack.complianceRecords(id, 'guard_blind_pause_kept')).toHaveLength(1);
  });

  it('is resumed after a window close and open it stood through: the window took nothing from it', async () => {
    const { id } = await blindPaused();
    await scheduleWindowEnforcement(ctx, id);
    // Tuesday 17:00 EST: the window's close finds the campaign paused by the blind pause.
    await stack.fire(id, '2026-03-03T21:59:20Z');
    const { pauseCommandId } = await getWindowState(ctx, id);
    if (pauseCommandId !== undefined) await stack.settled(pauseCommandId);
    expect(await stack.complianceRecords(id, 'guard_blind_pause_kept')).toHaveLength(0);
    expect((await watchOf(id))?.pause?.overtakenBy).toBeUndefined();

    // Wednesday 10:00 EST, the window open again: the statistics come back.
    await statsBack();
    clock.set(Date.parse('2026-03-04T15:00:00Z'));
    await runPollCycle(ctx, id);
    await expectBlindResumed(id);
  });

  it('is overtaken by someone else’s pause or resume, not by the window’s close nor by its own commands', async () => {
    const id = 'blind-overtake';
    const pause = { commandId: 'p1', atMs: START, lastStatsAt: null, failedPolls: 2, okAt: null };
    await setBlindWatch(ctx, id, {
      okAt: null,
      sinceMs: START,
      failedPolls: 2,
      lastError: { kind: 'unavailable', status: 503 },
      pause: { ...pause, lastError: { kind: 'unavailable', status: 503 } },
    });
    await noteBlindPauseOvertaken(ctx, id, {
      actor: 'worker:compliance',
      reason: 'compliance-window',
      commandId: 'w1',
    });
    await noteBlindPauseOvertaken(ctx, id, {
      actor: 'worker:compliance',
      reason: REASON_BLIND,
      commandId: 'r1',
    });
    await noteBlindPauseOvertaken(ctx, id, {
      actor: 'worker:compliance',
      reason: 'abandonment-guard',
      commandId: 'p1',
    });
    expect((await watchOf(id))?.pause?.overtakenBy).toBeUndefined();
    await noteBlindPauseOvertaken(ctx, id, { actor: 'api:ops', reason: 'operator', commandId: 'o1' });
    await noteBlindPauseOvertaken(ctx, id, { actor: 'api:ops', reason: 'operator', commandId: 'o2' });
    // The first one is kept; the rest of the watch is as it was (epoch milliseconds intact through Lua).
    expect(await watchOf(id)).toEqual({
      okAt: null,
      sinceMs: START,
      failedPolls: 2,
      lastError: { kind: 'unavailable', status: 503 },
      pause: {
        ...pause,
        lastError: { kind: 'unavailable', status: 503 },
        overtakenBy: { actor: 'api:ops', reason: 'operator', commandId: 'o1' },
      },
    });
    await ctx.redis.del(complianceKeys(ctx.keys, id).state);
  });

  it('stays paused when the statistics come back over the cap', async () => {
    const { id } = await blindPaused();
    // The sandbox's counters are its own; the guard's period is measured from the record's first read.
    await statsBack();
    clock.set(START + 9 * MIN);
    const overCap = {
      ...(await ctx.cxone.getStats(id)),
      answeredCalls: 1_000,
      abandonedCalls: 40,
    };
    const over = { ...ctx, cxone: { ...ctx.cxone, getStats: async () => overCap } } as ClosableContext;
    await runPollCycle(over, id);
    const [kept] = await stack.complianceRecords(id, 'guard_blind_pause_kept');
    expect(kept?.details).toMatchObject({ kept: 'over_cap', answeredCalls: 1_000, abandonedCalls: 40 });
    expect(await statusOnCxone(id)).toBe('paused');
  });

  it('costs a successful poll of a dialing campaign no Redis call of its own', async () => {
    clock.set(START);
    const id = await stack.polledCampaign(weekdays);
    await statsFail();
    clock.set(START + MIN);
    await failingPoll(id);
    await statsBack();
    const monitor = await startRedisMonitor(REDIS_URL);
    clock.set(START + 2 * MIN);
    expect(await runPollCycle(ctx, id)).toMatchObject({ kind: 'polled', status: 'active' });
    const seen = await monitor.stop();
    const hash = complianceKeys(ctx.keys, id).state;
    expect(seen.some((c) => c.args.includes(hash) && c.args[0]?.toLowerCase() === 'hget')).toBe(true); // the guard's read
    expect(seen.filter((c) => c.args.includes(hash) && c.args.includes('blind'))).toEqual([]);
    // Nor the watch's lock.
    const lock = ctx.keys.lock(`blind:${id}`);
    expect(seen.filter((c) => c.args.includes(lock))).toEqual([]);
  });

  it('leaves alone a campaign outside its window: the window pauses it', async () => {
    clock.set(Date.parse('2026-03-03T21:00:00Z')); // 16:00 EST
    const id = await stack.polledCampaign(weekdays);
    await statsFail();
    // 17:30 EST: past the close, blind for 90 minutes.
    for (const iso of ['2026-03-03T22:20:00Z', '2026-03-03T22:30:00Z']) {
      clock.set(Date.parse(iso));
      await failingPoll(id);
    }
    expect((await watchOf(id))?.failedPolls).toBe(2);
    expect((await watchOf(id))?.pause).toBeUndefined();
    expect(await stack.complianceRecords(id, 'guard_blind_pause')).toHaveLength(0);
  });
});
