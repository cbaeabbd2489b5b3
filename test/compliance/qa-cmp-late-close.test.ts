import type { Worker } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  scheduleWindowEnforcement,
  windowJobId,
  windowJobOf,
  type WindowJob,
} from '../../src/shared/compliance/enforcement.js';
import { buildComplianceReport } from '../../src/shared/compliance/report.js';
import { getWindowState, listActions } from '../../src/shared/compliance/state-store.js';
import { createCommandStore } from '../../src/shared/lifecycle/commands.js';
import { createComplianceWorker } from '../../src/workers/compliance-worker.js';
import { config } from './fixtures.js';
import { createTestContext, eventually, type TestContext } from './redis-context.js';

/*
 * A close's job that fires only after the close (a worker backlog, a restart, a close planned before
 * leads existed): the campaign dialed past its close until the pause landed. The pause must be judged
 * against that close like one issued ahead of it, so the report cannot call the campaign adherent.
 */
const ID = 'cmp-qa-late-close';
const weekdays = config(); // America/New_York, Mon–Fri 09:00–17:00
const t = (iso: string) => Date.parse(iso);
const CLOSE = '2026-03-06T22:00:00Z'; // Friday 17:00 EST

let tc: TestContext;
let worker: Worker | undefined;

beforeEach(async () => {
  tc = await createTestContext('2026-03-06T21:00:00Z');
});
afterEach(async () => {
  await worker?.close();
  worker = undefined;
  await tc.close();
});

async function fireAt(iso: string): Promise<WindowJob> {
  tc.clock.set(t(iso));
  const job = await tc.ctx.queues.compliance.getJob(windowJobId(ID));
  if (!job) throw new Error('window job missing');
  const before = windowJobOf(job);
  await job.promote();
  return eventually(async () => {
    const j = await tc.ctx.queues.compliance.getJob(windowJobId(ID));
    if (!j || (await j.getState()) !== 'delayed') return undefined;
    const data = windowJobOf(j);
    return data.atMs !== before.atMs || data.kind !== before.kind ? data : undefined;
  });
}

async function landPause(atIso: string): Promise<string> {
  const { pauseCommandId } = await getWindowState(tc.ctx, ID);
  await createCommandStore(tc.ctx).update(
    pauseCommandId as string,
    {
      status: 'succeeded',
      finishedAt: atIso,
      result: {
        version: 2,
        status: 'paused',
        writes: [
          {
            step: 'status',
            version: 2,
            changes: [{ field: 'status', from: 'active', to: 'paused' }],
            at: atIso,
          },
        ],
        alreadyApplied: [],
        rebases: 0,
      },
    },
    new Date(atIso),
  );
  await tc.putCampaign(ID, weekdays, 'paused', 2);
  return pauseCommandId as string;
}

describe('QA: a close fired after the close', () => {
  it('judges the pause against the close it was planned for, and the report is not adherent', async () => {
    await tc.putCampaign(ID, weekdays, 'active');
    await scheduleWindowEnforcement(tc.ctx, ID);
    worker = createComplianceWorker(tc.ctx);
    await worker.waitUntilReady();

    // The close's job runs 40 s after 17:00 (inside the report's 60 s "on time" tolerance).
    await fireAt('2026-03-06T22:00:40Z');
    const commandId = await landPause('2026-03-06T22:00:45.000Z');
    await fireAt('2026-03-06T22:01:10Z');

    const landed = (await listActions(tc.ctx, ID)).filter((a) => a.kind === 'window_pause_landed');
    expect(landed.map((a) => a.details)).toEqual([
      expect.objectContaining({
        commandId,
        dueAt: new Date(CLOSE).toISOString(),
        lateByMs: 45_000,
        aheadOfDueMs: 0,
      }),
    ]);
    const report = buildComplianceReport({
      campaignId: ID,
      status: 'paused',
      config: weekdays,
      lastStats: {
        version: 2,
        status: 'paused',
        totalCalls: 300,
        answeredCalls: 100,
        abandonedCalls: 1,
        complianceViolations: 0,
        agentUtilization: 0,
      },
      window: await getWindowState(tc.ctx, ID),
      actions: await listActions(tc.ctx, ID),
      nowMs: tc.clock.now(),
    });
    expect(report.window).toMatchObject({
      adherent: false,
      enforcement: { pausesLanded: 1, pausesLandedLate: 1, maxPauseLandingLatenessMs: 45_000 },
    });
  });

  it('does not judge the pause of a campaign found active outside its hours (someone resumed it there)', async () => {
    tc.clock.set(t('2026-03-07T15:00:00Z')); // Saturday
    await tc.putCampaign(ID, weekdays, 'active');
    await scheduleWindowEnforcement(tc.ctx, ID);
    worker = createComplianceWorker(tc.ctx);
    await worker.waitUntilReady();
    await eventually(async () => ((await getWindowState(tc.ctx, ID)).pauseCommandId ? true : undefined));
    await landPause('2026-03-07T15:00:05.000Z');
    await fireAt('2026-03-07T15:00:30Z');
    const kinds = (await listActions(tc.ctx, ID)).map((a) => a.kind);
    expect(kinds).toContain('window_pause');
    expect(kinds).not.toContain('window_pause_landed');
  });
});
