import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { countsAgainstAdherence } from '../../src/shared/compliance/lateness.js';
import { listActions } from '../../src/shared/compliance/state-store.js';
import type { ClosableContext } from '../../src/shared/context-factory.js';
import { generateComplianceReport } from '../../src/producers/routes/compliance.js';
import { changeAs, CONSOLE } from '../sandbox/helpers.js';
import { config } from './fixtures.js';
import { FRIDAY_CLOSE, startWindowStack, type WindowStack } from './window-stack.js';

/*
 * An operator's stop queued ahead of the window's pause, with the adjust queue backed up: the stop
 * ends the campaign, and the window's pause never lands. The campaign stopped dialing when the stop's
 * status write landed; against the close the window's pause was due by, that stop is on time or late,
 * and a late one makes the report not adherent (before, the report read latePauses: 0,
 * pausesLanded: 0, pausesLandedLate: 0, pausesOvertakenLate: 0, adherent: true for a campaign that
 * dialed ten minutes past its close). Real parts: the sandbox over HTTP, the adjust and compliance
 * workers, a manual clock, a private prefix.
 */
const weekdays = config(); // America/New_York, Mon–Fri 09:00–17:00
const OPERATOR = 'operator:alice';

let stack: WindowStack;
let ctx: ClosableContext;

beforeAll(async () => {
  // Friday 16:30 EST; with a console operator, to pause behind the orchestrator's back.
  stack = await startWindowStack({ startIso: '2026-03-06T21:30:00Z', withConsole: true });
  ({ ctx } = stack);
});

afterAll(async () => {
  await stack?.close();
});

beforeEach(() => {
  stack.clock.set(Date.parse('2026-03-06T21:30:00Z'));
});

/**
 * The operator's stop and the window's pause (fired ahead of the close), both held in the adjust
 * queue, the stop first; the queue drains at `drainIso`. Returns both commands.
 */
async function stoppedAhead(
  id: string,
  drainIso: string,
  /** Paused in CXone's console after the window's pause was queued, at this time. */
  consolePauseIso?: string,
): Promise<{ operatorStop: string; windowPause: string }> {
  const { operator, window } = await stack.operatorAheadOfWindowPause(id, {
    action: 'stop',
    actor: OPERATOR,
    drainIso,
    ...(consolePauseIso
      ? {
          beforeDrain: async () => {
            stack.clock.set(Date.parse(consolePauseIso));
            expect((await changeAs(stack.sandbox, CONSOLE, id, { status: 'paused' })).status).toBe(200);
          },
        }
      : {}),
  });
  // The window's pause came to a campaign that had ended: it wrote nothing.
  expect(window.result?.writes ?? []).toEqual([]);
  expect((await ctx.cxone.getCampaign(id)).status).toBe(operator.result?.status);
  return { operatorStop: operator.commandId, windowPause: window.commandId };
}

describe('a window pause overtaken by an operator’s stop queued ahead of it', () => {
  it('is not adherent when the stop landed after the close', async () => {
    const id = await stack.polledCampaign(weekdays);
    const { operatorStop, windowPause } = await stoppedAhead(id, '2026-03-06T22:10:00Z');

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
      stoppedBy: OPERATOR,
      commandId: operatorStop,
      windowCommandId: windowPause,
      dueAt: FRIDAY_CLOSE,
      stoppedAt: '2026-03-06T22:10:00.000Z',
      lateByMs: 600_000,
      aheadOfDueMs: 0,
    });
    expect(released[0]?.details).not.toHaveProperty('pausedBy');
    expect(await stack.complianceRecords(id, 'window_pause_landed')).toEqual([]);
    // Kept apart from the capped log, like a late landing: it never drops out of the report.
    const late = (await listActions(ctx, id)).filter(countsAgainstAdherence);
    expect(late.map((a) => a.kind)).toEqual(['window_pause_released']);
  });

  it('stays adherent when the stop landed before the close', async () => {
    const id = await stack.polledCampaign(weekdays);
    const { operatorStop } = await stoppedAhead(id, '2026-03-06T21:59:30Z');

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
      stoppedBy: OPERATOR,
      commandId: operatorStop,
      stoppedAt: '2026-03-06T21:59:30.000Z',
      lateByMs: 0,
      aheadOfDueMs: 30_000,
    });
    expect(await stack.complianceRecords(id, 'window_pause_landed')).toEqual([]);
  });

  it('is not judged when the campaign stopped dialing before the stop (paused in the console)', async () => {
    // Paused in CXone's console on time; the stop at 22:10 ended a campaign that no longer dialed, so
    // its write says nothing of when the dialing stopped.
    const id = await stack.polledCampaign(weekdays);
    await stoppedAhead(id, '2026-03-06T22:10:00Z', '2026-03-06T21:59:40Z');

    const report = await generateComplianceReport(ctx, id);
    expect(report?.window.enforcement).toMatchObject({ pausesLandedLate: 0, pausesOvertakenLate: 0 });
    expect(report?.window.adherent).toBe(true);
    expect(await stack.complianceRecords(id, 'window_pause_released')).toEqual([]);
  });
});
