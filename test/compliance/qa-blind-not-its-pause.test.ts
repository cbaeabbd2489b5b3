import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/sandbox/types.js';
import { setBlindWatch } from '../../src/shared/compliance/state-store.js';
import type { ManualClock } from '../../src/shared/clock.js';
import type { ClosableContext } from '../../src/shared/context-factory.js';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import { createCommandStore } from '../../src/shared/lifecycle/commands.js';
import { enqueueCommand } from '../../src/shared/lifecycle/enqueue.js';
import { runPollCycle } from '../../src/shared/polling/poll-cycle.js';
import { blindHelpers, MIN, START, weekdays } from './blind-support.js';
import { startWindowStack, type WindowStack } from './window-stack.js';

/*
 * The blind pause resumes only a pause that is its own (docs/compliance.md, Blind pause). Two ways
 * someone else's pause looked like its own: its command found the campaign already paused (an
 * operator's pause that landed while the failing poll waited for its statistics, which the lifecycle
 * reports as succeeded), and a change made in CXone's console that another read (an API view's
 * refresh) synced into the record before the statistics came back, so the poll saw no newer version.
 * Real parts: the sandbox over HTTP with its stats endpoint failing, real Redis, the adjust and
 * compliance workers; a ManualClock at Tuesday 10:00 EST, inside the window.
 */
let stack: WindowStack;
let sandbox: RunningSandbox;
let ctx: ClosableContext;
let clock: ManualClock;
const {
  statsFail,
  statsBack,
  statusOnCxone,
  watchOf,
  failingPoll,
  blindPaused,
  expectBlindResumed,
  statsAfter,
} = blindHelpers(() => stack);

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

describe('the blind pause, when the statistics come back', () => {
  it('does not resume an operator’s pause that landed while the failing poll waited for its statistics', async () => {
    clock.set(START);
    const id = await stack.polledCampaign(weekdays);
    await statsFail();
    clock.set(START + 2 * MIN);
    await failingPoll(id);

    // The next poll reads the record (active), then its stats call waits behind the fleet's budget;
    // meanwhile an operator's pause lands. The call then fails, five minutes after the last read.
    const waiting = {
      ...ctx,
      cxone: {
        ...ctx.cxone,
        getStats: async (...args: Parameters<typeof ctx.cxone.getStats>) => {
          const { commandId } = await enqueueCommand(ctx, {
            campaignId: id,
            actor: 'api:ops',
            reason: 'operator',
            action: 'pause',
          });
          expect((await stack.settled(commandId)).status).toBe('succeeded');
          return ctx.cxone.getStats(...args);
        },
      },
    } as ClosableContext;
    clock.set(START + 5 * MIN);
    await failingPoll(id, waiting);
    const pause = (await watchOf(id))?.pause;
    expect(pause).toBeDefined();
    // The blind pause found the operator's pause in place: it wrote nothing.
    const command = await stack.settled(pause!.commandId);
    expect(command.result?.writes.filter((w) => w.step === 'status')).toEqual([]);

    await statsBack();
    clock.set(START + 8 * MIN);
    await runPollCycle(ctx, id);
    expect(await stack.complianceRecords(id, 'guard_blind_resume')).toHaveLength(0);
    const [kept] = await stack.complianceRecords(id, 'guard_blind_pause_kept');
    expect(kept?.details).toMatchObject({ kept: 'not_paused_by_it' });
    expect(await statusOnCxone(id)).toBe('paused');
  });

  it('does not resume a campaign resumed and paused again in CXone’s console, synced by another read', async () => {
    const { id } = await blindPaused();

    // A supervisor resumes it in CXone's console and pauses it again (their pause now); a dashboard's
    // GET /v1/campaigns/{id} refreshes the record from CXone before the statistics return.
    let resource = await ctx.cxone.getCampaign(id);
    resource = await ctx.cxone.updateCampaign(id, resource.version, { status: 'active' });
    resource = await ctx.cxone.updateCampaign(id, resource.version, { status: 'paused' });
    await createCampaignStore(ctx).syncFromCxone(resource, {}, { onlyIfKnown: true });

    await statsBack();
    clock.set(START + 8 * MIN);
    await runPollCycle(ctx, id);
    expect(await stack.complianceRecords(id, 'guard_blind_resume')).toHaveLength(0);
    const [kept] = await stack.complianceRecords(id, 'guard_blind_pause_kept');
    expect(kept?.details).toMatchObject({ kept: 'changed_in_cxone' });
    expect(await statusOnCxone(id)).toBe('paused');
  });
});

describe('a blind pause whose command failed at once', () => {
  it('is issued again after a wait that doubles, not on every failing poll', async () => {
    // CXone refusing the credentials fails every call at once, the stats poll and the pause's command
    // alike (an auth error is not retried): reissued on every poll, each tick of the outage wrote a
    // pause command and a guard_blind_pause record. Here the first pause's command failed at 15:05.
    clock.set(START);
    const id = await stack.polledCampaign(weekdays);
    await statsFail();
    const failedAt = START + 5 * MIN;
    const iso = (ms: number) => new Date(ms).toISOString();
    await createCommandStore(ctx).create({
      commandId: 'blind-auth-1',
      campaignId: id,
      status: 'failed',
      actor: 'worker:compliance',
      reason: 'abandonment-guard-blind',
      action: 'pause',
      requestedAt: iso(failedAt),
      updatedAt: iso(failedAt),
      finishedAt: iso(failedAt),
      attempts: 1,
      error: { message: 'CXone refused the OAuth client credentials (401)', kind: 'auth', status: 401 },
    });
    const okAt = '2026-03-03T15:00:00.000Z';
    const lastError = { kind: 'auth', status: 401 };
    await setBlindWatch(ctx, id, {
      okAt,
      sinceMs: START + MIN,
      failedPolls: 4,
      lastError,
      pause: {
        commandId: 'blind-auth-1',
        atMs: failedAt,
        lastStatsAt: okAt,
        failedPolls: 4,
        lastError,
        okAt,
      },
    });

    // Polls 5 and 20 s after it failed: nothing issued.
    for (const at of [failedAt + 5_000, failedAt + 20_000]) {
      clock.set(at);
      await failingPoll(id);
    }
    expect((await watchOf(id))?.pause?.commandId).toBe('blind-auth-1');
    expect(await stack.complianceRecords(id, 'guard_blind_pause')).toHaveLength(0);

    // 30 s after it failed: issued again, once.
    clock.set(failedAt + 30_000);
    await failingPoll(id);
    const [reissued] = await stack.complianceRecords(id, 'guard_blind_pause');
    expect(reissued?.details).toMatchObject({ reissued: true, failedCommandId: 'blind-auth-1', reissues: 1 });
    expect((await watchOf(id))?.pause?.reissues).toBe(1);
  });
});

describe('a failed statistics poll that outlasted its lease', () => {
  /** A polled campaign read at START whose statistics then fail: one failed poll two minutes on. */
  async function failedOnce(): Promise<string> {
    clock.set(START);
    const id = await stack.polledCampaign(weekdays);
    await statsFail();
    clock.set(START + 2 * MIN);
    await failingPoll(id);
    return id;
  }

  it('counts as its own tick beside the tick that took the campaign since, and pauses once', async () => {
    const id = await failedOnce();
    expect((await watchOf(id))?.failedPolls).toBe(1);

    // Its stats call waits past the lease's 60 s (a backlog in the fleet limiter); another tick takes
    // the campaign, and waits in turn. Counting nothing here, a wait past the lease on every call left
    // every failure uncounted: the tick holding the campaign meets the same fate as this one.
    const outlasted = statsAfter(async () => {
      await ctx.redis.set(ctx.keys.lock(`poll:${id}`), 'another-tick', 'PX', 60_000);
    });
    clock.set(START + 5 * MIN);
    await failingPoll(id, outlasted);
    expect((await watchOf(id))?.failedPolls).toBe(2);
    expect((await watchOf(id))?.pause).toBeDefined();
    expect(await stack.complianceRecords(id, 'guard_blind_pause')).toHaveLength(1);
    await ctx.redis.del(ctx.keys.lock(`poll:${id}`));
  });

  it('counts, and pauses, when no tick took the campaign since: the lease only lapsed', async () => {
    const id = await failedOnce();

    // A 429 penalty past the lease's 60 s holds every stats call of the fleet: the lease lapses, and
    // no other tick runs meanwhile (the poll queue itself is rate-limited). Counting nothing here,
    // every poll of such an outage counted nothing and the campaign dialed on unmeasured for good.
    const lapsed = statsAfter(async () => {
      await ctx.redis.del(ctx.keys.lock(`poll:${id}`));
    });
    clock.set(START + 5 * MIN);
    await failingPoll(id, lapsed);
    expect((await watchOf(id))?.failedPolls).toBe(2);
    const pauseCommandId = (await watchOf(id))?.pause?.commandId;
    expect(pauseCommandId).toBeDefined();
    expect((await stack.settled(pauseCommandId!)).status).toBe('succeeded');
    expect(await statusOnCxone(id)).toBe('paused');
  });

  it('counts in the streak of the read another tick made meanwhile, not the one it started from', async () => {
    const id = await failedOnce();

    // While this poll's stats call waited past its lease, another tick took the campaign, read its
    // statistics and finished (lease released). This failure is not a second one since START's read.
    const overtaken = statsAfter(async () => {
      await ctx.redis.del(ctx.keys.lock(`poll:${id}`));
      await statsBack();
      clock.set(START + 4 * MIN);
      await runPollCycle(ctx, id);
      await statsFail();
      clock.set(START + 5 * MIN);
    });
    await failingPoll(id, overtaken);
    const watch = await watchOf(id);
    expect(watch).toMatchObject({ failedPolls: 1, okAt: new Date(START + 4 * MIN).toISOString() });
    expect(watch?.pause).toBeUndefined();
  });
});

describe('a campaign polled less often than the blind span', () => {
  it('is not paused for one tick whose retry failed too: a tick is one failed poll', async () => {
    // A large fleet's share of the stats budget: polled every 6 minutes, over the 5-minute span.
    clock.set(START);
    const id = await stack.polledCampaign(weekdays);
    await statsFail();
    clock.set(START + 6 * MIN);
    await expect(runPollCycle(ctx, id, { attempt: 1 })).rejects.toThrow();
    clock.set(START + 6 * MIN + 1_000);
    await expect(runPollCycle(ctx, id, { attempt: 2 })).rejects.toThrow();
    expect(await watchOf(id)).toMatchObject({ failedPolls: 1 });
    expect((await watchOf(id))?.pause).toBeUndefined();
    expect(await stack.complianceRecords(id, 'guard_blind_pause')).toHaveLength(0);

    // The next tick failing too: paused.
    clock.set(START + 12 * MIN);
    await expect(runPollCycle(ctx, id, { attempt: 1 })).rejects.toThrow();
    expect((await watchOf(id))?.pause).toMatchObject({ failedPolls: 2 });
  });

  it('is not paused for one tick put back by a 429 and failing again: same job, attempt 1 both times', async () => {
    clock.set(START);
    const id = await stack.polledCampaign(weekdays);
    await statsFail();
    // A 429 is a queue rate limit, not a spent attempt: the re-run a Retry-After later is attempt 1.
    const tick = `repeat:poll:${id}:${START + 6 * MIN}`;
    clock.set(START + 6 * MIN);
    await expect(runPollCycle(ctx, id, { attempt: 1, tick })).rejects.toThrow();
    clock.set(START + 6 * MIN + 5_000);
    await expect(runPollCycle(ctx, id, { attempt: 1, tick })).rejects.toThrow();
    expect(await watchOf(id)).toMatchObject({ failedPolls: 1 });
    expect(await stack.complianceRecords(id, 'guard_blind_pause')).toHaveLength(0);

    clock.set(START + 12 * MIN);
    await expect(
      runPollCycle(ctx, id, { attempt: 1, tick: `repeat:poll:${id}:${START + 12 * MIN}` }),
    ).rejects.toThrow();
    expect((await watchOf(id))?.pause).toMatchObject({ failedPolls: 2 });
  });
});

describe('statistics that come back after the window closed on a blind pause', () => {
  // Outside its window, and in the last 30 s before its close, where the command guard refuses any
  // resume: decided then, the pause was kept (or its resume refused) and forgotten, and the window,
  // which resumes only the pauses it made, left the campaign paused through every open after.
  it.each([
    ['past the close (Tuesday 17:30 EST)', '2026-03-03T22:30:00Z'],
    ['15 s before the close (Tuesday 16:59:45 EST), where a resume is refused', '2026-03-03T21:59:45Z'],
  ])('%s decide at the next open, not keep the campaign paused for good', async (_when, backAt) => {
    const { id, pauseCommandId } = await blindPaused();

    await statsBack();
    clock.set(Date.parse(backAt));
    await runPollCycle(ctx, id);
    expect(await stack.complianceRecords(id, 'guard_blind_pause_kept')).toHaveLength(0);
    expect(await stack.complianceRecords(id, 'guard_blind_resume')).toHaveLength(0);
    expect((await watchOf(id))?.pause?.commandId).toBe(pauseCommandId);

    // Wednesday 10:00 EST, the window open: measured under the cap, nobody acted on it: resumed.
    clock.set(Date.parse('2026-03-04T15:00:00Z'));
    await runPollCycle(ctx, id);
    await expectBlindResumed(id);
  });
});
