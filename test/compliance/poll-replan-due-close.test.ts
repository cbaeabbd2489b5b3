import type { Job, Queue } from 'bullmq';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  scheduleWindowEnforcement,
  windowJobId,
  windowJobOf,
} from '../../src/shared/compliance/enforcement.js';
import { getWindowState, listActions } from '../../src/shared/compliance/state-store.js';
import type { AppContext } from '../../src/shared/context.js';
import { getCommand } from '../../src/shared/lifecycle/enqueue.js';
import { runPollCycle } from '../../src/shared/polling/poll-cycle.js';
import { generateComplianceReport } from '../../src/producers/routes/compliance.js';
import { config } from './fixtures.js';
import { eventually } from './redis-context.js';
import { startWindowStack, type WindowStack } from './window-stack.js';

/*
 * A close's job that has not run by its close (a compliance worker backlog or restart): the campaign
 * dials past 17:00 and the next statistics poll finds it active outside its window, so it re-plans
 * window enforcement as "close now". That re-plan used to overwrite the due close's plan with one for
 * the poll's instant: the campaign was still paused, but its pause was due by no close, so its landing
 * was never judged and the report called the campaign adherent though it dialed past its close. The
 * due close must survive whatever the interleaving — the job still delayed, or promoted between the
 * re-plan's read of its state and its write. Real parts: the sandbox over HTTP, the adjust and
 * compliance workers; time is a ManualClock.
 */
const weekdays = config(); // America/New_York, Mon–Fri 09:00–17:00
const CLOSE = '2026-03-06T22:00:00.000Z'; // Friday 17:00 EST
const t = (iso: string) => Date.parse(iso);

let stack: WindowStack;

beforeAll(async () => {
  stack = await startWindowStack({ startIso: '2026-03-06T21:30:00Z' }); // Friday 16:30 EST
});

beforeEach(() => {
  stack.clock.set(t('2026-03-06T21:30:00Z'));
});

afterAll(async () => {
  await stack?.close();
});

const statusOnCxone = async (id: string) => (await stack.ctx.cxone.getCampaign(id)).status;

/**
 * The compliance queue as a re-plan sees it, except that the window job is promoted right after the
 * re-plan read its state as delayed: the job became due between that read and the re-plan's write.
 * The queue is paused first, so the job waits there untaken (a busy worker) until `release`.
 */
function promotedAfterStateRead(
  ctx: AppContext,
  jobId: string,
): { ctx: AppContext; raced: () => boolean; release: () => Promise<void> } {
  let raced = false;
  const real = ctx.queues.compliance;
  const compliance = new Proxy(real, {
    get(target, prop) {
      if (prop !== 'getJob') {
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      }
      return async (id: string) => {
        const job = (await target.getJob(id)) as Job | undefined;
        if (!job || id !== jobId || raced) return job;
        const getState = job.getState.bind(job);
        job.getState = async () => {
          const state = await getState();
          if (state === 'delayed' && !raced) {
            raced = true;
            await real.pause();
            await job.promote();
          }
          return state;
        };
        return job;
      };
    },
  }) as Queue;
  return {
    ctx: { ...ctx, queues: { ...ctx.queues, compliance } },
    raced: () => raced,
    release: () => real.resume(),
  };
}

async function pausedAndSeenThrough(id: string, verifyIso: string): Promise<void> {
  await eventually(async () => ((await statusOnCxone(id)) === 'paused' ? true : undefined), 15_000);
  const commandId = await eventually(async () => (await getWindowState(stack.ctx, id)).pauseCommandId);
  await eventually(async () => {
    const command = await getCommand(stack.ctx, commandId);
    return command?.status === 'succeeded' ? true : undefined;
  }, 15_000);
  // The re-check that finds the pause through records when it landed against the close it was due by.
  await stack.fire(id, verifyIso);
}

async function expectJudgedAgainstTheClose(id: string): Promise<void> {
  const actions = await listActions(stack.ctx, id);
  const pauses = actions.filter((a) => a.kind === 'window_pause');
  // One pause, recorded once: the poll's re-plan did not add a second firing's pause.
  expect(pauses).toHaveLength(1);
  expect(pauses[0]?.details).toMatchObject({ plannedAt: CLOSE, lateByMs: 40_000, reissued: false });
  const landed = actions.filter((a) => a.kind === 'window_pause_landed');
  expect(landed).toHaveLength(1);
  expect(landed[0]?.details).toMatchObject({ dueAt: CLOSE, aheadOfDueMs: 0 });
  expect(Number(landed[0]?.details.lateByMs)).toBeGreaterThanOrEqual(40_000);
  const report = await generateComplianceReport(stack.ctx, id);
  expect(report?.window).toMatchObject({
    adherent: false,
    enforcement: { pausesLanded: 1, pausesLandedLate: 1 },
  });
}

describe('a poll that re-plans "close now" while the close it is past has not run', () => {
  it('keeps the due close: the pause is judged against 17:00 and the report is not adherent', async () => {
    const id = await stack.activeCampaign(weekdays);
    await scheduleWindowEnforcement(stack.ctx, id);

    // Friday 17:00:40 EST: the close's job has not run (still delayed); the campaign dials on.
    stack.clock.set(t('2026-03-06T22:00:40Z'));
    expect(await runPollCycle(stack.ctx, id)).toMatchObject({
      kind: 'polled',
      status: 'active',
      outsideWindow: true,
    });
    await pausedAndSeenThrough(id, '2026-03-06T22:01:10Z');
    await expectJudgedAgainstTheClose(id);
  });

  it('keeps the due close when the job is promoted between the re-plan reading its state and writing', async () => {
    const id = await stack.activeCampaign(weekdays);
    await scheduleWindowEnforcement(stack.ctx, id);
    stack.clock.set(t('2026-03-06T22:00:40Z'));

    const racing = promotedAfterStateRead(stack.ctx, windowJobId(id));
    try {
      // The poll neither fails (the job it meant to move is due already) nor rewrites the due job's plan.
      expect(await runPollCycle(racing.ctx, id)).toMatchObject({ kind: 'polled', outsideWindow: true });
      expect(racing.raced()).toBe(true);
    } finally {
      await racing.release();
    }
    await pausedAndSeenThrough(id, '2026-03-06T22:01:10Z');
    await expectJudgedAgainstTheClose(id);
  });

  it('plans the pause now on a campaign found dialing past a close its job already fired for', async () => {
    // The close's job fired ahead of 17:00 and its pause is on its way; a poll at 17:00:40 still reads
    // CXone active. The re-plan brings the re-check forward; it keeps the pause (no second one).
    const id = await stack.activeCampaign(weekdays);
    await scheduleWindowEnforcement(stack.ctx, id);
    const verify = await stack.fire(id, '2026-03-06T21:59:20Z');
    expect(verify.kind).toBe('verify');
    stack.clock.set(t('2026-03-06T22:00:40Z'));
    const outcome = await runPollCycle(stack.ctx, id);
    // Depending on whether the pause landed before the poll read CXone, it finds it active or paused.
    expect(outcome).toMatchObject({ kind: 'polled' });
    await pausedAndSeenThrough(id, '2026-03-06T22:01:10Z');
    const actions = await listActions(stack.ctx, id);
    expect(actions.filter((a) => a.kind === 'window_pause')).toHaveLength(1);
    expect(actions.find((a) => a.kind === 'window_pause_landed')?.details).toMatchObject({ dueAt: CLOSE });
    const job = await stack.ctx.queues.compliance.getJob(windowJobId(id));
    expect(job && windowJobOf(job)).toMatchObject({ kind: 'open', atMs: t('2026-03-09T13:00:00Z') });
  });
});

describe('a re-plan racing its window job becoming due', () => {
  it('does not hand a future close to a job promoted since its state was read (it would pause hours early)', async () => {
    // Friday 09:00 EST. The campaign was scheduled for the open, and its window job planned that open
    // while it waited; the activation fires at the same instant and re-plans for the 17:00 close,
    // just as the compliance worker promotes the open's job.
    const open = t('2026-03-06T14:00:00Z');
    stack.clock.set(open);
    const id = await stack.activeCampaign(weekdays);
    await stack.ctx.queues.compliance.add(
      'window',
      { kind: 'open', atMs: open },
      { jobId: windowJobId(id), delay: 3_600_000, removeOnComplete: true },
    );

    const racing = promotedAfterStateRead(stack.ctx, windowJobId(id));
    try {
      await scheduleWindowEnforcement(racing.ctx, id);
      expect(racing.raced()).toBe(true);
    } finally {
      await racing.release();
    }

    // The open's firing finds the campaign active inside its window and plans the close itself.
    const planned = await eventually(async () => {
      const job = await stack.ctx.queues.compliance.getJob(windowJobId(id));
      if (!job || (await job.getState()) !== 'delayed') return undefined;
      const data = windowJobOf(job);
      return data.kind === 'close' ? data : undefined;
    });
    expect(planned.atMs).toBe(t(CLOSE));
    expect(await statusOnCxone(id)).toBe('active');
    expect((await listActions(stack.ctx, id)).map((a) => a.kind)).not.toContain('window_pause');
  });
});
