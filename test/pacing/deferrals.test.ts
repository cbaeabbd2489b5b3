import type { Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/shared/clock.js';
import type { AppContext } from '../../src/shared/context.js';
import { createCommandOrder } from '../../src/shared/lifecycle/order.js';
import { pacingDeferrals } from '../../src/shared/metrics.js';
import {
  DEFERRAL_WARN_AFTER,
  deferralKey,
  deferralWarningDue,
  noteDeferral,
  parseDeferralTally,
} from '../../src/shared/pacing/deferrals.js';
import type { CommandRequest } from '../../src/shared/lifecycle/enqueue.js';
import { MAX_PENALTY_MS } from '../../src/shared/limiter/types.js';
import { stopPolling } from '../../src/shared/polling/schedulers.js';
import { runPollCycle, type PollOutcome } from '../../src/shared/polling/poll-cycle.js';
import { createAdjustWorker } from '../../src/workers/adjust-worker.js';
import { waitFor } from '../e2e/stack.js';
import { startHarness, type Harness } from '../lifecycle/harness.js';
import { pacedCampaign, predictive } from './paced-campaign.js';
import { CampaignStore } from '../../src/shared/campaign-store.js';
import { PACING_ACTOR } from '../../src/shared/pacing/apply.js';
import { readPacingRecord } from '../../src/shared/pacing/record.js';
import { recordingLogger, type LogLine } from '../support/log-capture.js';

describe('deferralWarningDue', () => {
  const at = 1_000_000;
  const after = { polls: 3, spanMs: 180_000 };

  it('warns once an episode has both the polls and the span, and never twice', () => {
    expect(deferralWarningDue({ polls: 3, sinceMs: at, warned: false }, at + 180_000, after)).toBe(true);
    expect(deferralWarningDue({ polls: 12, sinceMs: at, warned: false }, at + 200_000, after)).toBe(true);
    expect(deferralWarningDue({ polls: 13, sinceMs: at, warned: true }, at + 215_000, after)).toBe(false);
  });

  it('does not warn on many quick polls, nor on two slow ones', () => {
    // Polls every second (a burst of ticks): 100 of them in 100 s is no hold-up of minutes.
    expect(deferralWarningDue({ polls: 100, sinceMs: at, warned: false }, at + 100_000, after)).toBe(false);
    // Polls stretched to 10 minutes by the budget: two deferrals in a row may be two ordinary commands.
    expect(deferralWarningDue({ polls: 2, sinceMs: at, warned: false }, at + 600_000, after)).toBe(false);
  });

  it('means minutes at the default 15 s poll interval', () => {
    const polls = (n: number) => ({ polls: n, sinceMs: at, warned: false });
    // The n-th deferral comes (n - 1) intervals after the first.
    expect(deferralWarningDue(polls(12), at + 11 * 15_000)).toBe(false);
    expect(deferralWarningDue(polls(13), at + 12 * 15_000)).toBe(true);
    expect(DEFERRAL_WARN_AFTER.spanMs).toBeGreaterThanOrEqual(120_000);
  });
});

describe('parseDeferralTally', () => {
  it('reads the stored hash, and no episode from an absent key', () => {
    expect(parseDeferralTally({})).toBeNull();
    expect(parseDeferralTally(null)).toBeNull();
    expect(parseDeferralTally({ s: '5', n: '2' })).toEqual({ polls: 2, sinceMs: 5, warned: false });
    expect(parseDeferralTally({ s: '5', n: '4', w: '1' })).toEqual({ polls: 4, sinceMs: 5, warned: true });
  });
});

/**
 * A harness on `clock`, with a context for runPollCycle whose log lines are recorded in `lines`
 * (the harness's own context logs as usual).
 */
async function harnessWithRecordedPolls(
  clock: ManualClock,
): Promise<{ h: Harness; lines: LogLine[]; pollCtx: AppContext }> {
  const h = await startHarness({ clock });
  const recorded = recordingLogger();
  return { h, lines: recorded.lines, pollCtx: { ...h.ctx, logger: recorded.logger } as AppContext };
}

/**
 * A campaign whose operator command never runs (no adjust worker: the worker is down) is polled poll
 * after poll, on the sandbox over real HTTP and real Redis: every pacing step defers, is counted by
 * reason, and tallied in Redis; the warning comes once, when the episode has lasted; once the command
 * has run, the next poll paces, the tally is gone and the end of the episode is told.
 */
describe('pacing deferred poll after poll', () => {
  let h: Harness;
  let worker: Worker | undefined;
  const clock = new ManualClock(Date.now());
  let lines: LogLine[] = [];
  let pollCtx: AppContext;

  beforeAll(async () => {
    ({ h, lines, pollCtx } = await harnessWithRecordedPolls(clock));
  });

  afterAll(async () => {
    await worker?.close();
    await h?.close();
  });

  const counted = async (reason: string) =>
    (await pacingDeferrals.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;
  const pacingOfOutcome = (outcome: PollOutcome) => (outcome.kind === 'polled' ? outcome.pacing : null);
  const warnings = (campaignId: string) =>
    lines.filter((l) => l.campaignId === campaignId && l.level === 40 && l.polls !== undefined);

  it('counts each deferral, warns once after minutes of them, and tells when pacing runs again', async () => {
    const campaign = await pacedCampaign(h, 'active', 20, 0.5);
    const key = deferralKey(h.ctx, campaign.id);
    const [operatorId] = await h.enqueueInOrder([
      {
        campaignId: campaign.id,
        actor: 'api:alice',
        reason: 'operator',
        patch: { dialerStrategy: { callRate: 0.4 } },
      },
    ]);
    const before = await counted('command_queued');

    // 12 polls 15 s apart span 2 min 45 s: deferred, counted, tallied, not yet warned of.
    for (let poll = 1; poll <= 12; poll++) {
      if (poll > 1) clock.advance(15_000);
      const outcome = await runPollCycle(pollCtx, campaign.id);
      expect(pacingOfOutcome(outcome)).toMatchObject({
        kind: 'deferred',
        reason: expect.stringContaining(operatorId!),
      });
    }
    expect(await counted('command_queued')).toBe(before + 12);
    expect(parseDeferralTally(await h.ctx.redis.hgetall(key))).toMatchObject({ polls: 12, warned: false });
    expect(warnings(campaign.id)).toEqual([]);

    // The 13th, 3 minutes after the first: one warning naming the episode; the polls after it add none.
    for (let poll = 13; poll <= 16; poll++) {
      clock.advance(15_000);
      await runPollCycle(pollCtx, campaign.id);
    }
    expect(warnings(campaign.id)).toEqual([
      expect.objectContaining({
        campaignId: campaign.id,
        polls: 13,
        reason: 'command_queued',
        detail: expect.stringContaining(operatorId!),
        forMs: 180_000,
      }),
    ]);
    expect(parseDeferralTally(await h.ctx.redis.hgetall(key))).toMatchObject({ polls: 16, warned: true });

    // The adjust worker comes back and runs the command: the next poll paces and ends the episode.
    worker = createAdjustWorker(h.ctx);
    await worker.waitUntilReady();
    expect((await h.waitForCommand(operatorId!)).status).toBe('succeeded');
    await waitFor("the command to leave its campaign's order", async () =>
      (await createCommandOrder(h.ctx).pending(campaign.id)).length === 0 ? true : undefined,
    );
    clock.advance(15_000);
    const paced = await runPollCycle(pollCtx, campaign.id);
    expect(pacingOfOutcome(paced)).toMatchObject({ kind: 'decided' });
    expect(await h.ctx.redis.exists(key)).toBe(0);
    expect(
      lines.filter(
        (l) => l.campaignId === campaign.id && l.msg === 'pacing runs again after consecutive deferrals',
      ),
    ).toEqual([expect.objectContaining({ level: 30, polls: 16, forMs: 240_000 })]);
    expect(warnings(campaign.id)).toHaveLength(1);
  });

  it('keeps nothing for a campaign paced without deferral', async () => {
    const campaign = await pacedCampaign(h, 'active', 20, 0.5);
    const outcome = await runPollCycle(pollCtx, campaign.id);
    expect(pacingOfOutcome(outcome)).toMatchObject({ kind: 'decided' });
    expect(await h.ctx.redis.exists(deferralKey(h.ctx, campaign.id))).toBe(0);
  });
});

/**
 * What the episode must not do: outlive a pause (the campaign dials nothing, so nothing is unpaced)
 * and meet the next deferral hours later as if it were the same run of polls; outlive the end of the
 * campaign's polling; warn twice when two polls of one campaign overlap (the poll lease lapses while a
 * poll waits in the fleet limiter after its renewal: the resync read has no bound on its wait); warn
 * of pacing's own change waiting on an adjust worker that is healthy but waits out a CXone 429
 * penalty (up to MAX_PENALTY_MS), which the poll cannot tell from one that is down.
 */
describe('the deferral episode, bounded', () => {
  let h: Harness;
  const clock = new ManualClock(Date.now());
  let lines: LogLine[] = [];
  let pollCtx: AppContext;
  const workers: Worker[] = [];

  beforeAll(async () => {
    ({ h, lines, pollCtx } = await harnessWithRecordedPolls(clock));
  });

  afterAll(async () => {
    for (const w of workers) await w.close();
    await h?.close();
  });

  const warnings = (campaignId: string) =>
    lines.filter((l) => l.campaignId === campaignId && l.level === 40 && l.polls !== undefined);
  const pacingOfOutcome = (outcome: PollOutcome) => (outcome.kind === 'polled' ? outcome.pacing : null);
  const runCommand = async (campaignId: string, cmd: Omit<CommandRequest, 'campaignId' | 'actor'>) => {
    const worker = createAdjustWorker(h.ctx);
    await worker.waitUntilReady();
    try {
      const [id] = await h.enqueueInOrder([{ campaignId, actor: 'api:alice', ...cmd }]);
      expect((await h.waitForCommand(id!)).status).toBe('succeeded');
      await waitFor("the command to leave its campaign's order", async () =>
        (await createCommandOrder(h.ctx).pending(campaignId)).length === 0 ? true : undefined,
      );
    } finally {
      await worker.close();
    }
  };

  it('ends with a poll that finds the campaign paused, so a deferral after the resume starts afresh', async () => {
    // The threshold strategy: a paused poll of it takes no turn at all.
    const campaign = await h.campaign('active', predictive(20, 0.5, 'threshold'));
    const key = deferralKey(h.ctx, campaign.id);
    // The operator's pause waits for an adjust worker over two polls: two deferrals.
    const [pauseId] = await h.enqueueInOrder([
      { campaignId: campaign.id, actor: 'api:alice', reason: 'operator', action: 'pause' },
    ]);
    for (let poll = 1; poll <= 2; poll++) {
      clock.advance(15_000);
      expect(pacingOfOutcome(await runPollCycle(pollCtx, campaign.id))).toMatchObject({ kind: 'deferred' });
    }
    const worker = createAdjustWorker(h.ctx);
    await worker.waitUntilReady();
    expect((await h.waitForCommand(pauseId!)).status).toBe('succeeded');
    await worker.close();
    // Paused: polled, no turn, nothing dialed, for an hour.
    clock.advance(15_000);
    expect(await runPollCycle(pollCtx, campaign.id)).toMatchObject({ status: 'paused', pacing: null });
    expect(await h.ctx.redis.exists(key)).toBe(0);
    clock.advance(3600_000);
    await runCommand(campaign.id, { reason: 'operator', action: 'resume' });

    // Resumed; an operator's change waits for its worker over one poll: one deferral, the first of a new
    // episode, not the third of one an hour long.
    await h.enqueueInOrder([
      {
        campaignId: campaign.id,
        actor: 'api:alice',
        reason: 'operator',
        patch: { dialerStrategy: { callRate: 0.4 } },
      },
    ]);
    clock.advance(15_000);
    expect(pacingOfOutcome(await runPollCycle(pollCtx, campaign.id))).toMatchObject({ kind: 'deferred' });
    expect(parseDeferralTally(await h.ctx.redis.hgetall(key))).toMatchObject({ polls: 1, warned: false });
    expect(warnings(campaign.id)).toEqual([]);
  });

  it('is deleted when the campaign stops being polled', async () => {
    const campaign = await pacedCampaign(h, 'active', 20, 0.5);
    const key = deferralKey(h.ctx, campaign.id);
    await noteDeferral(h.ctx, campaign.id, 'command_queued', 'a stop is queued');
    expect(await h.ctx.redis.exists(key)).toBe(1);
    await stopPolling(h.ctx, campaign.id);
    expect(await h.ctx.redis.exists(key)).toBe(0);
  });

  it('warns once when two overlapping polls cross the threshold together', async () => {
    const campaign = await pacedCampaign(h, 'active', 20, 0.5);
    const key = deferralKey(h.ctx, campaign.id);
    await h.ctx.redis.hset(key, 's', String(clock.now() - 200_000), 'n', '5');
    await Promise.all([
      noteDeferral(pollCtx, campaign.id, 'command_queued', 'one poll'),
      noteDeferral(pollCtx, campaign.id, 'command_queued', 'the poll overlapping it'),
    ]);
    expect(warnings(campaign.id)).toHaveLength(1);
    expect(parseDeferralTally(await h.ctx.redis.hgetall(key))).toMatchObject({ polls: 7, warned: true });
    await h.ctx.redis.del(key);
  });

  it("does not warn of pacing's own change while a healthy worker could still be waiting out a 429 penalty", async () => {
    const campaign = await pacedCampaign(h, 'active', 20, 0.5);
    const key = deferralKey(h.ctx, campaign.id);
    // Pacing's change is queued and its memory waits for it; no adjust worker takes it (for the poll,
    // one waiting out a penalty on CXone's campaign endpoints looks the same).
    const [own] = await h.enqueueInOrder([
      {
        campaignId: campaign.id,
        actor: PACING_ACTOR,
        reason: 'pacing',
        patch: { dialerStrategy: { callRate: 0.45 } },
      },
    ]);
    const store = new CampaignStore(h.ctx);
    const pacing = readPacingRecord((await store.get(campaign.id))?.pacing, 'abandonment-target');
    await store.patch(campaign.id, { pacing: { ...pacing, pendingCommandId: own! } });
    const within = Math.floor(MAX_PENALTY_MS / 15_000);
    for (let poll = 1; poll <= within; poll++) {
      clock.advance(15_000);
      expect(pacingOfOutcome(await runPollCycle(pollCtx, campaign.id))).toMatchObject({ kind: 'waiting' });
    }
    expect(parseDeferralTally(await h.ctx.redis.hgetall(key))).toMatchObject({ polls: within });
    expect(warnings(campaign.id)).toEqual([]);
    // Long past any penalty CXone can impose: the worker is down or stuck, and that is told once.
    for (let poll = 1; poll <= 20; poll++) {
      clock.advance(15_000);
      await runPollCycle(pollCtx, campaign.id);
    }
    expect(warnings(campaign.id)).toEqual([
      expect.objectContaining({ campaignId: campaign.id, reason: 'own_change_pending' }),
    ]);
    await h.ctx.redis.del(key);
  });
});
