import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { COMPLIANCE_ACTOR } from '../../src/shared/compliance/record.js';
import {
  REASON_WINDOW,
  releaseWindowPause,
  scheduleWindowEnforcement,
  windowPauseFoundInPlace,
} from '../../src/shared/compliance/enforcement.js';
import { getWindowState, listActions, replaceWindowState } from '../../src/shared/compliance/state-store.js';
import { createCommandStore } from '../../src/shared/lifecycle/commands.js';
import type { ClosableContext } from '../../src/shared/context-factory.js';
import { enqueueCommand } from '../../src/shared/lifecycle/enqueue.js';
import { generateComplianceReport } from '../../src/producers/routes/compliance.js';
import { config } from './fixtures.js';
import { createTestContext } from './redis-context.js';
import { startWindowStack, type WindowStack } from './window-stack.js';

/*
 * The window's pause landed on CXone, and an operator did something to the campaign before the
 * window's re-check came round to record that landing: paused it (which ends the window's claim,
 * window_pause_released) or stopped it. The pause did land — the campaign stopped dialing at the
 * close — so the report counts it landed whatever came after. Conversely, a window pause that found
 * the operator's pause in place (the operator's command queued ahead of it) never landed, and is
 * never counted as landed. Real parts: the sandbox over HTTP, the adjust and compliance workers.
 */
const weekdays = config(); // America/New_York, Mon–Fri 09:00–17:00
const OPERATOR = 'operator:alice';

let stack: WindowStack;
let ctx: ClosableContext;

beforeAll(async () => {
  stack = await startWindowStack({ startIso: '2026-03-06T21:30:00Z' }); // Friday 16:30 EST
  ({ ctx } = stack);
});

afterAll(async () => {
  await stack?.close();
});

// Every case starts on Friday 16:30 EST, before its close's job is due.
beforeEach(() => {
  stack.clock.set(Date.parse('2026-03-06T21:30:00Z'));
});

async function operator(id: string, action: 'pause' | 'resume' | 'stop'): Promise<string> {
  const { commandId } = await enqueueCommand(ctx, {
    campaignId: id,
    actor: OPERATOR,
    reason: 'operator',
    action,
  });
  return commandId;
}

/** Fires the close's job ahead of Friday's 17:00 EST close and waits until the window's pause landed. */
async function windowPauseLands(id: string): Promise<string> {
  await scheduleWindowEnforcement(ctx, id);
  await stack.fire(id, '2026-03-06T21:59:20Z');
  const { pauseCommandId } = await getWindowState(ctx, id);
  expect(pauseCommandId).toBeDefined();
  expect((await stack.settled(pauseCommandId as string)).status).toBe('succeeded');
  expect((await ctx.cxone.getCampaign(id)).status).toBe('paused');
  return pauseCommandId as string;
}

describe('the window pause’s landing in the compliance report', () => {
  it('is counted when an operator pauses the campaign after it landed, before the re-check', async () => {
    const id = await stack.activeCampaign(weekdays);
    const windowPause = await windowPauseLands(id);

    // The operator pauses the campaign the window holds paused (to keep it paused past the open).
    expect((await stack.settled(await operator(id, 'pause'))).status).toBe('succeeded');
    expect((await getWindowState(ctx, id)).pauseCommandId).toBeUndefined();

    await stack.fire(id, '2026-03-06T21:59:50Z');
    const report = await generateComplianceReport(ctx, id);
    expect(report?.window.enforcement).toMatchObject({ pauses: 1, pausesLanded: 1, pausesLandedLate: 0 });
    expect(report?.window.pausedByWindow).toBe(false);

    const landed = await stack.complianceRecords(id, 'window_pause_landed');
    expect(landed).toHaveLength(1);
    expect(landed[0]?.details).toMatchObject({ commandId: windowPause, lateByMs: 0 });
    // The window let go of the pause all the same: the operator's now.
    const released = await stack.complianceRecords(id, 'window_pause_released');
    expect(released).toHaveLength(1);
    expect(released[0]?.details).toMatchObject({ pausedBy: OPERATOR });
  });

  it('is counted when an operator stops the campaign after it landed, before the re-check', async () => {
    const id = await stack.activeCampaign(weekdays);
    const windowPause = await windowPauseLands(id);

    expect((await stack.settled(await operator(id, 'stop'))).status).toBe('succeeded');
    const report = await generateComplianceReport(ctx, id);
    expect(report?.status).toBe('completed');
    expect(report?.window.enforcement).toMatchObject({ pauses: 1, pausesLanded: 1, pausesLandedLate: 0 });
    const landed = await stack.complianceRecords(id, 'window_pause_landed');
    expect(landed.map((r) => r.details.commandId)).toEqual([windowPause]);
  });

  it('is not counted when the operator’s pause, queued ahead of it, was in place first', async () => {
    const id = await stack.activeCampaign(weekdays);
    // The adjust queue held so that both commands wait: the operator's first, the window's behind it.
    const { window } = await stack.operatorAheadOfWindowPause(id, {
      action: 'pause',
      actor: OPERATOR,
      drainIso: '2026-03-06T21:59:20Z',
    });
    expect(window.status).toBe('succeeded');

    await stack.fire(id, '2026-03-06T21:59:50Z');
    const report = await generateComplianceReport(ctx, id);
    expect(report?.window.enforcement).toMatchObject({ pauses: 1, pausesLanded: 0 });
    expect(await stack.complianceRecords(id, 'window_pause_landed')).toEqual([]);
    expect((await ctx.cxone.getCampaign(id)).status).toBe('paused');
  });

  it('stays counted when the window’s resume at the open is withdrawn for an operator’s pause', async () => {
    const id = await stack.activeCampaign(weekdays);
    await windowPauseLands(id);
    await stack.fire(id, '2026-03-06T21:59:50Z'); // the re-check records the landing

    // Monday 09:00 EDT: the operator's pause queued ahead of the window's resume.
    await ctx.queues.adjust.pause();
    const operatorPause = await operator(id, 'pause');
    await stack.fire(id, '2026-03-09T13:00:00Z');
    const { resumeCommandId } = await getWindowState(ctx, id);
    expect(resumeCommandId).toBeDefined();
    await ctx.queues.adjust.resume();
    expect((await stack.settled(operatorPause)).status).toBe('succeeded');
    const resume = await stack.settled(resumeCommandId as string);
    expect(resume.status).toBe('failed');
    expect(resume.error?.kind).toBe('withdrawn');
    expect((await ctx.cxone.getCampaign(id)).status).toBe('paused');

    const report = await generateComplianceReport(ctx, id);
    expect(report?.window.enforcement).toMatchObject({ pauses: 1, pausesLanded: 1 });
    expect(report?.window.pausedByWindow).toBe(false);
  });
});

/*
 * What ends the claim records a landing only for a pause that landed. The window's pause whose command
 * found the campaign paused by someone else succeeds too, without writing anything: the hook that
 * notes it (windowPauseFoundInPlace) can run before the window job stored its claim, and an
 * operator's pause can then end the claim before the job's next firing lets go of it.
 */
describe('ending the claim of a window pause that did not land', () => {
  const ID = 'cmp2-found-in-place';
  const CLOSE = Date.parse('2026-03-06T22:00:00Z');

  async function claimOfSucceededPause(
    tc: Awaited<ReturnType<typeof createTestContext>>,
    foundInPlace: boolean,
  ): Promise<string> {
    await tc.putCampaign(ID, weekdays, 'paused', 3);
    const { commandId } = await enqueueCommand(tc.ctx, {
      campaignId: ID,
      actor: COMPLIANCE_ACTOR,
      reason: REASON_WINDOW,
      action: 'pause',
    });
    // Succeeded with the status found in place, nothing written by this command.
    await createCommandStore(tc.ctx).update(
      commandId,
      {
        status: 'succeeded',
        finishedAt: '2026-03-06T21:59:25.000Z',
        result: { version: 3, status: 'paused', writes: [], alreadyApplied: ['status'], rebases: 0 },
      },
      new Date('2026-03-06T21:59:25.000Z'),
    );
    if (foundInPlace) {
      // The lifecycle's hook, before the job stored its claim: it only notes the pause as found.
      expect(
        await windowPauseFoundInPlace(tc.ctx, ID, { reason: REASON_WINDOW, commandId, version: 3 }),
      ).toBe(false);
    }
    // The job's claim, stored after its command ran.
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

  const operatorPause = { actor: OPERATOR, reason: 'operator', commandId: 'cmd_operator', version: 4 };

  it('records no landing for a pause that found someone else’s in place', async () => {
    const tc = await createTestContext('2026-03-06T21:59:30Z');
    try {
      await claimOfSucceededPause(tc, true);
      expect(await releaseWindowPause(tc.ctx, ID, operatorPause)).toBe(true);
      const kinds = (await listActions(tc.ctx, ID)).map((a) => a.kind);
      expect(kinds).toContain('window_pause_released');
      expect(kinds).not.toContain('window_pause_landed');
    } finally {
      await tc.close();
    }
  });

  it('records the landing of one whose own write went through unheard (found in place on a retry)', async () => {
    const tc = await createTestContext('2026-03-06T21:59:30Z');
    try {
      const commandId = await claimOfSucceededPause(tc, false);
      expect(await releaseWindowPause(tc.ctx, ID, operatorPause)).toBe(true);
      const landed = (await listActions(tc.ctx, ID)).filter((a) => a.kind === 'window_pause_landed');
      expect(landed.map((a) => a.details)).toEqual([
        expect.objectContaining({ commandId, landedAt: '2026-03-06T21:59:25.000Z', lateByMs: 0 }),
      ]);
    } finally {
      await tc.close();
    }
  });
});
