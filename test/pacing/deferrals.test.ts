import { Writable } from 'node:stream';
import type { Worker } from 'bullmq';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/shared/clock.js';
import type { AppContext } from '../../src/shared/context.js';
import { createCommandOrder } from '../../src/shared/lifecycle/order.js';
import { pacingDeferrals } from '../../src/shared/metrics.js';
import {
  DEFERRAL_WARN_AFTER,
  deferralKey,
  deferralWarningDue,
  parseDeferralTally,
} from '../../src/shared/pacing/deferrals.js';
import { runPollCycle, type PollOutcome } from '../../src/shared/polling/poll-cycle.js';
import { createAdjustWorker } from '../../src/workers/adjust-worker.js';
import { waitFor } from '../e2e/stack.js';
import { startHarness, type Harness } from '../lifecycle/harness.js';
import { pacedCampaign } from './paced-campaign.js';

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
 * A campaign whose operator command never runs (no adjust worker: the worker is down) is polled poll
 * after poll, on the sandbox over real HTTP and real Redis: every pacing step defers, is counted by
 * reason, and tallied in Redis; the warning comes once, when the episode has lasted; once the command
 * has run, the next poll paces, the tally is gone and the end of the episode is told.
 */
describe('pacing deferred poll after poll', () => {
  let h: Harness;
  let worker: Worker | undefined;
  const clock = new ManualClock(Date.now());
  const lines: Record<string, unknown>[] = [];
  let pollCtx: AppContext;

  beforeAll(async () => {
    h = await startHarness({ clock });
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
        done();
      },
    });
    pollCtx = { ...h.ctx, logger: pino({ level: 'info' }, stream) } as AppContext;
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
