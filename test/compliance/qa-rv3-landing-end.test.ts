import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import {
  cancelWindowEnforcement,
  enforceWindow,
  REASON_WINDOW,
  scheduleWindowEnforcement,
  windowJobId,
  windowPauseFoundInPlace,
} from '../../src/shared/compliance/enforcement.js';
import { applyAbandonmentGuard } from '../../src/shared/compliance/guard-actions.js';
import { COMPLIANCE_ACTOR } from '../../src/shared/compliance/record.js';
import {
  getGuardState,
  getWindowState,
  listActions,
  replaceWindowState,
} from '../../src/shared/compliance/state-store.js';
import type { ClosableContext } from '../../src/shared/context-factory.js';
import { createCommandStore, type CommandWrite } from '../../src/shared/lifecycle/commands.js';
import { enqueueCommand } from '../../src/shared/lifecycle/enqueue.js';
import { generateComplianceReport } from '../../src/producers/routes/compliance.js';
import { config } from './fixtures.js';
import { createTestContext, eventually, withScriptBlip, type TestContext } from './redis-context.js';
import { startWindowStack, type WindowStack } from './window-stack.js';

/*
 * The window's claim on a campaign that ends: the landing of its pause is recorded whatever reaches
 * the end first (the lifecycle's cancelWindowEnforcement, the poll's, or the window job finding the
 * campaign final), once, and never for a pause that found someone else's in place; the claim ends
 * with the campaign. Real parts: the sandbox over HTTP, the adjust and compliance workers; or real
 * Redis under a private prefix with the lifecycle's steps called as it calls them.
 */
const weekdays = config(); // America/New_York, Mon–Fri 09:00–17:00
const OPERATOR = 'operator:alice';

describe('a window-paused campaign that ends before the re-check', () => {
  let stack: WindowStack;
  let ctx: ClosableContext;

  beforeAll(async () => {
    stack = await startWindowStack({ startIso: '2026-03-06T21:30:00Z' }); // Friday 16:30 EST
    ({ ctx } = stack);
  });
  afterAll(async () => {
    await stack?.close();
  });
  beforeEach(() => {
    stack.clock.set(Date.parse('2026-03-06T21:30:00Z'));
  });

  async function windowPauseLands(id: string): Promise<string> {
    await scheduleWindowEnforcement(ctx, id);
    await stack.fire(id, '2026-03-06T21:59:20Z');
    const { pauseCommandId } = await getWindowState(ctx, id);
    expect((await stack.settled(pauseCommandId as string)).status).toBe('succeeded');
    return pauseCommandId as string;
  }

  it('reads pausedByWindow false once stopped: the claim ends with the campaign', async () => {
    const id = await stack.activeCampaign(weekdays);
    const windowPause = await windowPauseLands(id);
    const { commandId } = await enqueueCommand(ctx, {
      campaignId: id,
      actor: OPERATOR,
      reason: 'operator',
      action: 'stop',
    });
    expect((await stack.settled(commandId)).status).toBe('succeeded');

    const report = await generateComplianceReport(ctx, id);
    expect(report?.status).toBe('completed');
    expect(report?.window.pausedByWindow).toBe(false);
    expect(report?.window.enforcement).toMatchObject({ pauses: 1, pausesLanded: 1 });
    expect(await getWindowState(ctx, id)).toEqual({});
    const landed = (await listActions(ctx, id)).filter((a) => a.kind === 'window_pause_landed');
    expect(landed.map((a) => a.details.commandId)).toEqual([windowPause]);
  });

  it('is counted landed when the window job finds the campaign ended before cancelWindowEnforcement ran', async () => {
    const id = await stack.activeCampaign(weekdays);
    const windowPause = await windowPauseLands(id);
    // Stopped: the record reads completed (as the stop's own sync, or a command that found it ended,
    // leaves it) and the re-check fires before anything cancelled enforcement.
    const current = await ctx.cxone.getCampaign(id);
    const ended = await ctx.cxone.updateCampaign(id, current.version, { status: 'completed' });
    await createCampaignStore(ctx).syncFromCxone(ended);
    stack.clock.set(Date.parse('2026-03-06T21:59:50Z'));
    await (await ctx.queues.compliance.getJob(windowJobId(id)))?.promote();
    await eventually(async () => ((await ctx.queues.compliance.getJob(windowJobId(id))) ? undefined : true));

    const report = await generateComplianceReport(ctx, id);
    expect(report?.window.enforcement).toMatchObject({ pauses: 1, pausesLanded: 1, pausesLandedLate: 0 });
    const landed = (await listActions(ctx, id)).filter((a) => a.kind === 'window_pause_landed');
    expect(landed.map((a) => a.details.commandId)).toEqual([windowPause]);
  });
});

describe('the end of a campaign whose window claim names a pause', () => {
  const ID = 'rv3-landing-end';
  const CLOSE = Date.parse('2026-03-06T22:00:00Z');
  let tc: TestContext;

  beforeEach(async () => {
    tc = await createTestContext('2026-03-06T21:59:30Z');
  });
  afterEach(async () => tc.close());

  /** The window's claim of its pause, the command succeeded: with its own status write, or none. */
  async function claimOfSucceededPause(wrote: boolean): Promise<string> {
    await tc.putCampaign(ID, weekdays, 'paused', 3);
    const { commandId } = await enqueueCommand(tc.ctx, {
      campaignId: ID,
      actor: COMPLIANCE_ACTOR,
      reason: REASON_WINDOW,
      action: 'pause',
    });
    const writes: CommandWrite[] = wrote
      ? [
          {
            step: 'status',
            version: 3,
            changes: [{ field: 'status', from: 'active', to: 'paused' }],
            at: '2026-03-06T21:59:25.000Z',
          },
        ]
      : [];
    await createCommandStore(tc.ctx).update(
      commandId,
      {
        status: 'succeeded',
        finishedAt: '2026-03-06T21:59:25.000Z',
        result: { version: 3, status: 'paused', writes, alreadyApplied: wrote ? [] : ['status'], rebases: 0 },
      },
      new Date('2026-03-06T21:59:25.000Z'),
    );
    // Found in place: the lifecycle's hook ran before the job stored its claim, so it only noted it.
    if (!wrote) {
      expect(
        await windowPauseFoundInPlace(tc.ctx, ID, { reason: REASON_WINDOW, commandId, version: 3 }),
      ).toBe(false);
    }
    const raw = (await tc.ctx.redis.hget(tc.ctx.keys.custom('compliance', ID), 'window')) ?? null;
    expect(
      await replaceWindowState(tc.ctx, ID, raw, {
        pausedAt: '2026-03-06T21:59:20.000Z',
        pauseCommandId: commandId,
        pauseDueAt: CLOSE,
        closingAt: CLOSE,
        lastTransitionMs: CLOSE,
      }),
    ).toBe(true);
    return commandId;
  }

  const kinds = async () => (await listActions(tc.ctx, ID)).map((a) => a.kind);

  it('counts no landing for a pause that found someone else’s, however often the end is seen', async () => {
    await claimOfSucceededPause(false);
    await tc.putCampaign(ID, weekdays, 'completed', 4);
    await cancelWindowEnforcement(tc.ctx, ID); // the lifecycle's stop
    await cancelWindowEnforcement(tc.ctx, ID); // a poll that read the record after it
    expect(await kinds()).not.toContain('window_pause_landed');
    const report = await generateComplianceReport(tc.ctx, ID);
    expect(report?.window.enforcement).toMatchObject({ pausesLanded: 0 });
    expect(report?.window.pausedByWindow).toBe(false);
  });

  it('ends the abandonment measurement even when recording the landing fails, and the job records it', async () => {
    tc.clock.set(Date.parse('2026-03-06T21:00:00Z'));
    await tc.putCampaign(ID, weekdays, 'active', 2);
    await applyAbandonmentGuard(tc.ctx, {
      campaignId: ID,
      config: weekdays,
      stats: {
        version: 2,
        totalCalls: 1500,
        answeredCalls: 500,
        abandonedCalls: 10,
        complianceViolations: 0,
      },
    });
    tc.clock.set(Date.parse('2026-03-06T21:59:30Z'));
    const windowPause = await claimOfSucceededPause(true);
    await tc.putCampaign(ID, weekdays, 'completed', 4);

    await expect(
      cancelWindowEnforcement(withScriptBlip(tc.ctx, '"window_pause_landed"'), ID),
    ).rejects.toThrow('redis blip');
    // The lifecycle only logs a follow-up that failed: what the call did not do is not done again.
    expect(await getGuardState(tc.ctx, ID)).toMatchObject({ endedAtMs: tc.clock.now() });
    expect(await kinds()).toContain('period_closed');

    // The window job, left in place, finds the campaign final and records the landing.
    const fired = await enforceWindow(tc.ctx, { campaignId: ID, kind: 'verify', atMs: tc.clock.now() });
    expect(fired).toEqual({ outcome: 'stopped', next: null });
    const landed = (await listActions(tc.ctx, ID)).filter((a) => a.kind === 'window_pause_landed');
    expect(landed.map((a) => a.details)).toEqual([
      expect.objectContaining({ commandId: windowPause, landedAt: '2026-03-06T21:59:25.000Z', lateByMs: 0 }),
    ]);
    expect(await getWindowState(tc.ctx, ID)).toEqual({});
  });
});
