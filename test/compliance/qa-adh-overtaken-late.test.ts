import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { countsAgainstAdherence } from '../../src/shared/compliance/lateness.js';
import { listActions } from '../../src/shared/compliance/state-store.js';
import type { ClosableContext } from '../../src/shared/context-factory.js';
import { generateComplianceReport } from '../../src/producers/routes/compliance.js';
import { config } from './fixtures.js';
import { FRIDAY_CLOSE, startWindowStack, type WindowStack } from './window-stack.js';

/*
 * An operator's pause queued ahead of the window's, with the adjust queue backed up: the operator's
 * pause stops the campaign, and the window's then finds it in place and never lands. The campaign
 * stopped dialing when the operator's pause landed; against the close the window's pause was due by,
 * that stop is on time or late, and a late one makes the report not adherent (before, the report read
 * latePauses: 0, pausesLanded: 0, pausesLandedLate: 0, adherent: true for a campaign that dialed ten
 * minutes past its close). Real parts: the sandbox over HTTP, the adjust and compliance workers, a
 * manual clock, a private prefix.
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

beforeEach(() => {
  stack.clock.set(Date.parse('2026-03-06T21:30:00Z'));
});

/**
 * The operator's pause and the window's (fired ahead of the close), both held in the adjust queue,
 * the operator's first; the queue drains at `drainIso`. Returns both commands.
 */
async function overtaken(
  id: string,
  drainIso: string,
): Promise<{ operatorPause: string; windowPause: string }> {
  const { operator, window } = await stack.operatorAheadOfWindowPause(id, {
    action: 'pause',
    actor: OPERATOR,
    drainIso,
  });
  // The window's pause found the operator's in place: it wrote nothing.
  expect(window.status).toBe('succeeded');
  expect(window.result?.writes).toEqual([]);
  expect((await ctx.cxone.getCampaign(id)).status).toBe('paused');
  return { operatorPause: operator.commandId, windowPause: window.commandId };
}

describe('a window pause overtaken by an operator’s pause queued ahead of it', () => {
  it('is not adherent when the operator’s pause landed after the close', async () => {
    const id = await stack.polledCampaign(weekdays);
    const { operatorPause, windowPause } = await overtaken(id, '2026-03-06T22:10:00Z');
    await stack.fire(id, '2026-03-06T22:10:30Z'); // the window's re-check

    const report = await generateComplianceReport(ctx, id);
    // It dialed ten minutes past its close.
    expect(report?.window.adherent).toBe(false);
    expect(report?.window.enforcement).toMatchObject({
      pauses: 1,
      latePauses: 0,
      pausesLanded: 0,
      pausesLandedLate: 0,
      pausesOvertakenLate: 1,
    });
    expect(report?.window.pausedByWindow).toBe(false);

    // The trail says who stopped the campaign, and when against when it was due.
    const released = await stack.complianceRecords(id, 'window_pause_released');
    expect(released).toHaveLength(1);
    expect(released[0]?.details).toMatchObject({
      pausedBy: OPERATOR,
      commandId: operatorPause,
      windowCommandId: windowPause,
      dueAt: FRIDAY_CLOSE,
      stoppedAt: '2026-03-06T22:10:00.000Z',
      lateByMs: 600_000,
      aheadOfDueMs: 0,
    });
    // The window's own pause never landed, and is not counted so.
    expect(await stack.complianceRecords(id, 'window_pause_landed')).toEqual([]);
    // Kept apart from the capped log, like a late landing: it never drops out of the report.
    const late = (await listActions(ctx, id)).filter(countsAgainstAdherence);
    expect(late.map((a) => a.kind)).toEqual(['window_pause_released']);
  });

  it('stays adherent when the operator’s pause landed before the close', async () => {
    const id = await stack.polledCampaign(weekdays);
    const { operatorPause } = await overtaken(id, '2026-03-06T21:59:30Z');
    await stack.fire(id, '2026-03-06T21:59:50Z'); // the window's re-check

    const report = await generateComplianceReport(ctx, id);
    expect(report?.window.enforcement).toMatchObject({
      pauses: 1,
      latePauses: 0,
      pausesLanded: 0,
      pausesLandedLate: 0,
      pausesOvertakenLate: 0,
    });
    expect(report?.window.adherent).toBe(true);
    const released = await stack.complianceRecords(id, 'window_pause_released');
    expect(released).toHaveLength(1);
    expect(released[0]?.details).toMatchObject({
      pausedBy: OPERATOR,
      commandId: operatorPause,
      stoppedAt: '2026-03-06T21:59:30.000Z',
      lateByMs: 0,
      aheadOfDueMs: 30_000,
    });
    expect(await stack.complianceRecords(id, 'window_pause_landed')).toEqual([]);
  });
});
