import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/sandbox/types.js';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import type { ClosableContext } from '../../src/shared/context-factory.js';
import type { EventPublisherStore } from '../../src/shared/events/publisher.js';
import { enqueueCommand } from '../../src/shared/lifecycle/enqueue.js';
import { runPollCycle } from '../../src/shared/polling/poll-cycle.js';
import { changeAs, CONSOLE } from '../sandbox/helpers.js';
import { blindHelpers, MIN, START } from './blind-support.js';
import { startWindowStack, type WindowStack } from './window-stack.js';

/*
 * A blind pause of the abandonment guard's (docs/compliance.md, Blind pause) lifted by someone else:
 * an operator's resume through the API, or one made in CXone's console. The trail must show the
 * blind pause lifted, as it shows the guard's own pause lifted (guard_pause_lifted), and the pause
 * must not come back as a `guard_blind_pause_kept` the next time anyone pauses the campaign.
 * Real parts: the sandbox over HTTP with a console client of the fleet's tenant, real Redis, the
 * adjust and compliance workers; a ManualClock at Tuesday 10:00 EST, inside the window.
 */
let stack: WindowStack;
let sandbox: RunningSandbox;
let ctx: ClosableContext;
const { statsBack, statusOnCxone, watchOf, failingPoll, blindPaused } = blindHelpers(() => stack);

beforeAll(async () => {
  stack = await startWindowStack({ startIso: '2026-03-03T15:00:00Z', withConsole: true });
  ({ sandbox, ctx } = stack);
});
afterAll(async () => {
  await stack?.close();
});
afterEach(async () => {
  await statsBack();
});

const lifts = (id: string) => stack.complianceRecords(id, 'guard_blind_pause_lifted');
const resumedEvents = async (id: string) =>
  (await (ctx.events as EventPublisherStore).recent(50, id)).filter(
    (e) => e.type === 'campaign.compliance.resumed',
  );

/** An operator pauses the campaign through the API, and a poll finds it paused: nothing of the blind pause's. */
async function laterPausedByOperator(id: string, atMs: number): Promise<void> {
  const { commandId } = await enqueueCommand(ctx, {
    campaignId: id,
    actor: 'api:bob',
    reason: 'operator',
    action: 'pause',
  });
  expect((await stack.settled(commandId)).status).toBe('succeeded');
  stack.clock.set(atMs);
  expect(await runPollCycle(ctx, id)).toMatchObject({ kind: 'polled', status: 'paused' });
  expect(await stack.complianceRecords(id, 'guard_blind_pause_kept')).toHaveLength(0);
  expect(await stack.complianceRecords(id, 'guard_blind_resume')).toHaveLength(0);
}

describe('a blind pause lifted by an operator through the API', () => {
  it('is recorded as theirs, not paused again while the statistics still fail, and closed for good', async () => {
    const { id, pauseCommandId } = await blindPaused();
    const { commandId } = await enqueueCommand(ctx, {
      campaignId: id,
      actor: 'api:alice',
      reason: 'operator',
      action: 'resume',
    });
    const resume = await stack.settled(commandId);
    expect(resume.status).toBe('succeeded');

    const [lift, ...more] = await lifts(id);
    expect(more).toHaveLength(0);
    expect(lift).toMatchObject({ actor: 'api:alice', cxoneVersion: resume.result?.version });
    expect(lift?.details).toMatchObject({
      rule: 'abandonment-guard-blind',
      requestedBy: 'api:alice',
      reason: 'operator',
      commandId,
      pauseCommandId,
    });
    expect(await resumedEvents(id)).toEqual([
      expect.objectContaining({ data: expect.objectContaining({ kind: 'guard_blind_pause_lifted' }) }),
    ]);

    // Still blind, in the same streak: the operator's decision stands, no pause again.
    stack.clock.set(START + 8 * MIN);
    await failingPoll(id);
    expect(await stack.complianceRecords(id, 'guard_blind_pause')).toHaveLength(1);
    expect(await statusOnCxone(id)).toBe('active');

    await statsBack();
    stack.clock.set(START + 9 * MIN);
    expect(await runPollCycle(ctx, id)).toMatchObject({ kind: 'polled', status: 'active' });
    await laterPausedByOperator(id, START + 11 * MIN);
    expect(await lifts(id)).toHaveLength(1);
  });
});

describe('a blind pause lifted in CXone’s console', () => {
  it('is recorded as lifted outside the orchestrator by the poll that finds it dialing, once', async () => {
    const { id, pauseCommandId } = await blindPaused();
    await statsBack();
    const resumed = await changeAs(sandbox, CONSOLE, id, { status: 'active' });
    expect(resumed.status).toBe(200);

    stack.clock.set(START + 7 * MIN);
    expect(await runPollCycle(ctx, id)).toMatchObject({ kind: 'polled', status: 'active' });
    const [lift] = await lifts(id);
    expect(lift).toMatchObject({ actor: 'worker:compliance', cxoneVersion: resumed.body.version });
    expect(lift?.details).toMatchObject({ requestedBy: 'outside', reason: 'outside', pauseCommandId });
    expect(lift?.details).not.toHaveProperty('commandId');
    expect(await resumedEvents(id)).toHaveLength(1);

    stack.clock.set(START + 8 * MIN);
    await runPollCycle(ctx, id);
    expect(await lifts(id)).toHaveLength(1);
    await laterPausedByOperator(id, START + 10 * MIN);
  });

  it('is recorded also when another read synced the resume into the record first', async () => {
    const { id } = await blindPaused();
    await statsBack();
    await changeAs(sandbox, CONSOLE, id, { status: 'active' });
    // An API view's refresh, say: the record holds the console's version before any poll sees it.
    await createCampaignStore(ctx).syncFromCxone(await ctx.cxone.getCampaign(id));

    stack.clock.set(START + 7 * MIN);
    expect(await runPollCycle(ctx, id)).toMatchObject({ kind: 'polled', status: 'active' });
    expect(await lifts(id)).toEqual([
      expect.objectContaining({ details: expect.objectContaining({ requestedBy: 'outside' }) }),
    ]);
    expect((await watchOf(id))?.pause?.liftedBy).toMatchObject({ requestedBy: 'outside' });
  });
});
