import { DelayedError, type Job, type Worker } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  cancelWindowEnforcement,
  CLOSE_MARGIN_MS,
  closeLeadMs,
  enforceWindow,
  MAX_RESUME_ATTEMPTS,
  processWindowJob,
  RETRY_MS,
  scheduleWindowEnforcement,
  windowJobId,
  windowJobOf,
  windowPauseFoundInPlace,
  type WindowJob,
} from '../../src/shared/compliance/enforcement.js';
import {
  getWindowState,
  readWindowState,
  replaceWindowState,
  setGuardState,
  setWindowState,
} from '../../src/shared/compliance/state-store.js';
import { createCommandStore } from '../../src/shared/lifecycle/commands.js';
import { evaluateAbandonmentGuard } from '../../src/shared/compliance/guard.js';
import { createComplianceWorker } from '../../src/workers/compliance-worker.js';
import { computeSpacing } from '../../src/shared/limiter/spacing.js';
import { config } from './fixtures.js';
import { createTestContext, eventually, type TestContext } from './redis-context.js';

/*
 * Calling-window enforcement end to end on real Redis and BullMQ: the delayed job, the worker, the
 * lifecycle's adjust queue (no adjust worker runs, so the queued commands can be inspected), H4's
 * audit trail and event store. Time is a ManualClock; instead of waiting hours for a delay, the test
 * moves the clock to the planned instant and promotes the job.
 */
const ID = 'cmp-window-1';
const weekdays = config(); // America/New_York, Mon–Fri 09:00–17:00
const t = (iso: string) => Date.parse(iso);

let tc: TestContext;
let worker: Worker | undefined;

beforeEach(async () => {
  tc = await createTestContext('2026-03-06T21:00:00Z'); // Friday 16:00 EST
});

afterEach(async () => {
  await worker?.close();
  worker = undefined;
  await tc.close();
});

async function windowJob() {
  const job = await tc.ctx.queues.compliance.getJob(windowJobId(ID));
  if (!job) throw new Error('window job missing');
  return job;
}

/** Moves the clock to `iso`, fires the window job now, and waits until it re-delayed itself. */
async function fireAt(iso: string): Promise<WindowJob> {
  tc.clock.set(t(iso));
  const before = windowJobOf(await windowJob());
  await (await windowJob()).promote();
  return eventually(async () => {
    const job = await tc.ctx.queues.compliance.getJob(windowJobId(ID));
    if (!job || (await job.getState()) !== 'delayed') return undefined;
    const data = windowJobOf(job);
    return data.atMs !== before.atMs || data.kind !== before.kind ? data : undefined;
  });
}

async function adjustJobs() {
  const jobs = await tc.ctx.queues.adjust.getJobs(['waiting', 'delayed', 'prioritized']);
  return jobs.sort((a, b) => a.timestamp - b.timestamp).map((j) => j.data as Record<string, unknown>);
}

async function complianceRecords() {
  const records = await tc.audit.list(ID);
  return records.filter((r) => r.action === 'compliance_action').map((r) => r.details);
}

/** The fleet's per-endpoint spacing in the test context (100 calls a minute: about 0.6 s). */
const minTimeMs = () =>
  computeSpacing(tc.ctx.config.cxone.rateLimitPerWindow, tc.ctx.config.cxone.rateLimitWindowMs).minTimeMs;

describe('closeLeadMs', () => {
  it('gives each close the margin and one turn of the budget per pause due before it, its own included', () => {
    expect(closeLeadMs(0, 606)).toBe(CLOSE_MARGIN_MS + 758);
    expect(closeLeadMs(1, 606)).toBe(CLOSE_MARGIN_MS + 1515);
    // 400 campaigns closing together at 100 calls a minute: their pauses take five minutes.
    expect(closeLeadMs(399, 606)).toBe(CLOSE_MARGIN_MS + 303_000);
  });
});

describe('calling-window enforcement', () => {
  it('plans one job per campaign for its close, fired ahead of it by the lead, idempotently', async () => {
    await tc.putCampaign(ID, weekdays, 'active');
    await scheduleWindowEnforcement(tc.ctx, ID);
    await scheduleWindowEnforcement(tc.ctx, ID);
    const job = await windowJob();
    // The job stores only its plan; the campaign is its id.
    expect(job.data).toEqual({ kind: 'close', atMs: t('2026-03-06T22:00:00Z') });
    expect(windowJobOf(job)).toEqual({ campaignId: ID, kind: 'close', atMs: t('2026-03-06T22:00:00Z') });
    expect(await job.getState()).toBe('delayed');
    expect(job.delay).toBe(3_600_000 - closeLeadMs(0, minTimeMs()));
    expect(await tc.ctx.queues.compliance.getDelayedCount()).toBe(1);
  });

  it('fires the closes of campaigns that close together a turn apart, later plans first', async () => {
    const ids = ['cmp-close-a', 'cmp-close-b', 'cmp-close-c'];
    for (const id of ids) {
      await tc.putCampaign(id, weekdays, 'active');
      await scheduleWindowEnforcement(tc.ctx, id);
    }
    // Closing two hours later (19:00 New York time): not in the 17:00 closes' way, nor they in its.
    const later = config({
      allowedCallTimes: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '19:00' }],
    });
    await tc.putCampaign('cmp-close-later', later, 'active');
    await scheduleWindowEnforcement(tc.ctx, 'cmp-close-later');

    const delayOf = async (id: string) => (await tc.ctx.queues.compliance.getJob(windowJobId(id)))?.delay;
    const leads = await Promise.all(ids.map(async (id) => 3_600_000 - ((await delayOf(id)) ?? 0)));
    expect(leads).toEqual([0, 1, 2].map((n) => closeLeadMs(n, minTimeMs())));
    expect(await delayOf('cmp-close-later')).toBe(3 * 3_600_000 - closeLeadMs(0, minTimeMs()));
  });

  it('retries a firing that failed after RETRY_MS with its plan unchanged, a close ahead of its close too', async () => {
    await tc.putCampaign(ID, weekdays, 'active');
    // A record the store cannot read: every firing fails until it is fixed.
    await tc.ctx.redis.set(tc.ctx.keys.campaign(ID), 'not a campaign record');
    const plan = { kind: 'close' as const, atMs: t('2026-03-06T22:00:00Z') };
    const moves: number[] = [];
    const updates: unknown[] = [];
    const job = {
      id: windowJobId(ID),
      data: plan,
      updateData: async (d: unknown) => void updates.push(d),
      moveToDelayed: async (at: number) => void moves.push(at),
    } as unknown as Job;
    tc.clock.set(t('2026-03-06T22:00:00Z') - closeLeadMs(0, minTimeMs()));
    const before = Date.now();
    await expect(processWindowJob(tc.ctx, job, 'token')).rejects.toBeInstanceOf(DelayedError);
    expect(updates).toEqual([plan]);
    expect(moves).toHaveLength(1);
    expect(moves[0]).toBeGreaterThanOrEqual(before + RETRY_MS);
    expect(moves[0]).toBeLessThan(Date.now() + RETRY_MS + 1);
  });

  it('pauses ahead of the close, and keeps the campaign paused until the next open', async () => {
    await tc.putCampaign(ID, weekdays, 'active');
    await scheduleWindowEnforcement(tc.ctx, ID);
    worker = createComplianceWorker(tc.ctx);
    await worker.waitUntilReady();
    const lead = closeLeadMs(0, minTimeMs());
    const early = t('2026-03-06T22:00:00Z') - lead;

    // Still inside the hours: the close's pause goes out now, so that it lands by 17:00.
    const verify = await fireAt(new Date(early).toISOString());
    expect(verify).toEqual({ campaignId: ID, kind: 'verify', atMs: early + 30_000 });
    expect(await adjustJobs()).toEqual([
      expect.objectContaining({ campaignId: ID, action: 'pause', reason: 'compliance-window' }),
    ]);
    expect(await complianceRecords()).toEqual([
      expect.objectContaining({
        kind: 'window_pause',
        plannedAt: '2026-03-06T22:00:00.000Z',
        closesAt: '2026-03-06T22:00:00.000Z',
        aheadOfCloseMs: lead,
        lateByMs: 0,
        // The 17:00 close is the campaign's own window's, not the law's.
        closedBy: 'its own allowedCallTimes; the law allows calls at this hour',
      }),
    ]);
    expect(await getWindowState(tc.ctx, ID)).toMatchObject({ closingAt: t('2026-03-06T22:00:00Z') });

    // Paused on CXone before the close (the pause went through 5 s after the firing): the re-check
    // (still inside the hours) neither resumes it nor plans the close again, but the open after it,
    // and records when the pause landed against the close it was due by.
    const { pauseCommandId } = await getWindowState(tc.ctx, ID);
    // CXone took the status write 5 s in; the command finished its records 2 s later.
    await createCommandStore(tc.ctx).update(
      pauseCommandId as string,
      {
        status: 'succeeded',
        finishedAt: new Date(early + 7_000).toISOString(),
        result: {
          version: 2,
          status: 'paused',
          writes: [
            {
              step: 'status',
              version: 2,
              changes: [{ field: 'status', from: 'active', to: 'paused' }],
              at: new Date(early + 5_000).toISOString(),
            },
          ],
          alreadyApplied: [],
          rebases: 0,
        },
      },
      new Date(early + 7_000),
    );
    await tc.putCampaign(ID, weekdays, 'paused', 2);
    const open = await fireAt(new Date(early + 30_000).toISOString());
    expect(open).toEqual({ campaignId: ID, kind: 'open', atMs: t('2026-03-09T13:00:00Z') });
    expect(await adjustJobs()).toHaveLength(1);
    expect((await complianceRecords())[1]).toEqual(
      expect.objectContaining({
        kind: 'window_pause_landed',
        commandId: pauseCommandId,
        dueAt: '2026-03-06T22:00:00.000Z',
        landedAt: new Date(early + 5_000).toISOString(),
        lateByMs: 0,
        aheadOfDueMs: lead - 5_000,
      }),
    );
    // A re-plan by the lifecycle (the pause's status change) agrees.
    await scheduleWindowEnforcement(tc.ctx, ID);
    expect(windowJobOf(await windowJob())).toEqual({
      campaignId: ID,
      kind: 'open',
      atMs: t('2026-03-09T13:00:00Z'),
    });
  });

  it('pauses at Friday 17:00 EST and resumes at Monday 09:00 EDT (after spring forward), audited', async () => {
    await tc.putCampaign(ID, weekdays, 'active');
    await scheduleWindowEnforcement(tc.ctx, ID);
    worker = createComplianceWorker(tc.ctx);
    await worker.waitUntilReady();

    // Close: a pause goes to the lifecycle; the job checks back until the campaign is seen paused.
    const verify = await fireAt('2026-03-06T22:00:00Z');
    expect(verify).toEqual({ campaignId: ID, kind: 'verify', atMs: t('2026-03-06T22:00:30Z') });
    expect(await adjustJobs()).toEqual([
      expect.objectContaining({
        campaignId: ID,
        action: 'pause',
        reason: 'compliance-window',
        actor: 'worker:compliance',
      }),
    ]);
    expect(await complianceRecords()).toEqual([
      expect.objectContaining({
        kind: 'window_pause',
        localTime: '2026-03-06T17:00:00-05:00',
        nextOpen: '2026-03-09T09:00:00-04:00',
        plannedAt: '2026-03-06T22:00:00.000Z',
        lateByMs: 0,
      }),
    ]);
    expect((await tc.events.recent(10, ID)).map((e) => e.type)).toEqual(['campaign.compliance.paused']);

    // The adjust worker paused it on CXone; the next check plans the open, Monday 09:00 EDT = 13:00Z.
    const paused = (await getWindowState(tc.ctx, ID)).pauseCommandId as string;
    await createCommandStore(tc.ctx).update(paused, { status: 'succeeded' }, new Date(tc.clock.now()));
    await tc.putCampaign(ID, weekdays, 'paused', 2);
    const open = await fireAt('2026-03-06T22:00:30Z');
    expect(open).toEqual({ campaignId: ID, kind: 'open', atMs: t('2026-03-09T13:00:00Z') });

    const resumeCheck = await fireAt('2026-03-09T13:00:00Z');
    expect(resumeCheck.kind).toBe('verify');
    const commands = await adjustJobs();
    expect(commands).toHaveLength(2);
    expect(commands[1]).toMatchObject({
      action: 'resume',
      reason: 'compliance-window',
      actor: 'worker:compliance',
    });
    expect((await complianceRecords())[1]).toMatchObject({
      kind: 'window_resume',
      localTime: '2026-03-09T09:00:00-04:00',
    });
    expect((await tc.events.recent(10, ID)).map((e) => e.type)).toContain('campaign.compliance.resumed');

    // Active again: the job follows the window to Monday's close, 17:00 EDT = 21:00Z.
    await tc.putCampaign(ID, weekdays, 'active', 3);
    const nextClose = await fireAt('2026-03-09T13:00:30Z');
    expect(nextClose).toEqual({ campaignId: ID, kind: 'close', atMs: t('2026-03-09T21:00:00Z') });
    expect(await adjustJobs()).toHaveLength(2);
  });

  it('acts at once on a campaign found active outside its window', async () => {
    tc.clock.set(t('2026-03-07T15:00:00Z')); // Saturday
    await tc.putCampaign(ID, weekdays, 'active');
    await scheduleWindowEnforcement(tc.ctx, ID);
    const job = await windowJob();
    expect(job.data).toMatchObject({ kind: 'close', atMs: t('2026-03-07T15:00:00Z') });
    expect(await job.getState()).toBe('waiting');
  });

  it("cites the floor a UK campaign's window pause keeps to as policy, not as US law", async () => {
    // Saturday 15:00 in London, outside the Mon–Fri window: the close runs at once.
    tc.clock.set(t('2026-03-07T15:00:00Z'));
    const uk = config({
      complianceTimeZone: 'Europe/London',
      compliance: { regime: 'OFCOM', doNotCallCheck: true },
    });
    await tc.putCampaign(ID, uk, 'active');
    await scheduleWindowEnforcement(tc.ctx, ID);
    worker = createComplianceWorker(tc.ctx);
    await worker.waitUntilReady();
    const [pause] = await eventually(async () => {
      const records = await complianceRecords();
      return records.length > 0 ? records : undefined;
    });
    expect(pause).toMatchObject({
      kind: 'window_pause',
      timeZone: 'Europe/London',
      source: 'orchestrator policy for the OFCOM regime (same hours as TCPA 47 CFR 64.1200(c)(1))',
      closedBy: 'its own allowedCallTimes; the law allows calls at this hour',
    });
  });

  it('does not lift an abandonment-guard pause at the window open', async () => {
    tc.clock.set(t('2026-03-07T15:00:00Z'));
    await tc.putCampaign(ID, weekdays, 'paused');
    await tc.ctx.redis.hset(
      tc.ctx.keys.custom('compliance', ID),
      'window',
      JSON.stringify({ pausedAt: '2026-03-06T22:00:00.000Z' }),
    );
    const guard = evaluateAbandonmentGuard({
      config: weekdays,
      stats: { totalCalls: 3000, answeredCalls: 1000, abandonedCalls: 40, complianceViolations: 0 },
      nowMs: tc.clock.now(),
    });
    expect(guard.action).toBe('pause');
    await setGuardState(tc.ctx, ID, guard.nextState);
    await scheduleWindowEnforcement(tc.ctx, ID);
    worker = createComplianceWorker(tc.ctx);
    await worker.waitUntilReady();
    const next = await fireAt('2026-03-09T13:00:00Z');
    expect(next).toMatchObject({ kind: 'close' });
    expect(await adjustJobs()).toEqual([]);
    expect(await complianceRecords()).toEqual([
      expect.objectContaining({ kind: 'window_resume_withheld', rule: 'abandonment-guard' }),
    ]);
  });

  it('withholds the window resume of a campaign whose settings now break a rule', async () => {
    tc.clock.set(t('2026-03-07T15:00:00Z'));
    // Florida recipients on New York time, windows widened past Florida's 20:00 while paused.
    await tc.putCampaign(
      ID,
      {
        ...weekdays,
        recipientStates: ['FL'],
        allowedCallTimes: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '21:00' }],
      },
      'paused',
    );
    await tc.ctx.redis.hset(
      tc.ctx.keys.custom('compliance', ID),
      'window',
      JSON.stringify({ pausedAt: '2026-03-06T22:00:00.000Z' }),
    );
    await scheduleWindowEnforcement(tc.ctx, ID);
    worker = createComplianceWorker(tc.ctx);
    await worker.waitUntilReady();
    await fireAt('2026-03-09T13:00:00Z');
    expect(await adjustJobs()).toEqual([]);
    expect(await complianceRecords()).toEqual([
      expect.objectContaining({ kind: 'window_resume_withheld', rule: 'noncompliant-settings' }),
    ]);
  });

  it('resumes at once a campaign the window paused when its hours are widened to hold now', async () => {
    tc.clock.set(t('2026-03-07T15:00:00Z')); // Saturday 10:00 EST, outside Mon–Fri
    await tc.putCampaign(ID, weekdays, 'paused');
    await setWindowState(tc.ctx, ID, { pausedAt: '2026-03-06T22:00:00.000Z' });
    await scheduleWindowEnforcement(tc.ctx, ID);
    expect((await windowJob()).data).toMatchObject({ kind: 'open', atMs: t('2026-03-09T13:00:00Z') });

    // Saturday added to the campaign's hours (a PATCH or CXone's console): the open is now.
    const everyDay = {
      ...weekdays,
      allowedCallTimes: [
        { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const, start: '09:00', end: '17:00' },
      ],
    } as typeof weekdays;
    await tc.putCampaign(ID, everyDay, 'paused', 2);
    await scheduleWindowEnforcement(tc.ctx, ID);
    const job = await windowJob();
    expect(job.data).toMatchObject({ kind: 'open', atMs: t('2026-03-07T15:00:00Z') });
    worker = createComplianceWorker(tc.ctx);
    await worker.waitUntilReady();
    await eventually(async () => ((await adjustJobs()).length > 0 ? true : undefined));
    expect(await adjustJobs()).toEqual([
      expect.objectContaining({ action: 'resume', reason: 'compliance-window' }),
    ]);

    // A campaign paused by someone else stays paused however its hours change.
    await setWindowState(tc.ctx, ID, {});
    await tc.putCampaign(ID, weekdays, 'paused', 3);
    await tc.putCampaign(ID, everyDay, 'paused', 4);
    await worker.close();
    worker = undefined;
    await scheduleWindowEnforcement(tc.ctx, ID);
    expect((await windowJob()).data).toMatchObject({ kind: 'close' });
  });

  it("writes the window state only over what the writer read, so neither side undoes the other's", async () => {
    const { raw: none } = await readWindowState(tc.ctx, ID);
    expect(none).toBeNull();
    expect(await replaceWindowState(tc.ctx, ID, none, { pausedAt: '2026-03-06T22:00:00.000Z' })).toBe(true);
    const read = await readWindowState(tc.ctx, ID);
    // Someone else (an operator's pause ending the window's claim) writes in between...
    await setWindowState(tc.ctx, ID, { lastTransitionMs: 1 });
    // ...so the stale write is refused and the other write stands.
    expect(await replaceWindowState(tc.ctx, ID, read.raw, { ...read.state, resumeAttempts: 1 })).toBe(false);
    expect(await getWindowState(tc.ctx, ID)).toEqual({ lastTransitionMs: 1 });
    expect(await replaceWindowState(tc.ctx, ID, none, {})).toBe(false);
  });

  it('ends the job when the campaign is final, and cancel removes a planned one', async () => {
    await tc.putCampaign(ID, weekdays, 'active');
    await scheduleWindowEnforcement(tc.ctx, ID);
    await cancelWindowEnforcement(tc.ctx, ID);
    expect(await tc.ctx.queues.compliance.getJob(windowJobId(ID))).toBeUndefined();

    await scheduleWindowEnforcement(tc.ctx, ID);
    await tc.putCampaign(ID, weekdays, 'completed', 2);
    worker = createComplianceWorker(tc.ctx);
    await worker.waitUntilReady();
    tc.clock.set(t('2026-03-06T22:00:00Z'));
    await (await windowJob()).promote();
    await eventually(async () =>
      (await tc.ctx.queues.compliance.getJob(windowJobId(ID))) ? undefined : true,
    );
    expect(await adjustJobs()).toEqual([]);
  });

  it('audits a do-not-call override once when the deployment allows it', async () => {
    const open = await createTestContext('2026-03-06T21:00:00Z', { ALLOW_DNC_DISABLED: 'true' });
    try {
      const dncOff = config({ compliance: { regime: 'TCPA', doNotCallCheck: false } });
      await open.putCampaign(ID, dncOff, 'active');
      await scheduleWindowEnforcement(open.ctx, ID);
      await scheduleWindowEnforcement(open.ctx, ID);
      const overrides = (await open.audit.list(ID)).filter((r) => r.action === 'compliance_override');
      expect(overrides).toHaveLength(1);
      expect(overrides[0]?.details).toMatchObject({
        rule: 'do-not-call-check-disabled',
        allowedBy: 'ALLOW_DNC_DISABLED',
      });
    } finally {
      await open.close();
    }
  });

  it("leaves a pause made in CXone's console after its own resume went through", async () => {
    await tc.putCampaign(ID, weekdays, 'paused');
    await setWindowState(tc.ctx, ID, { pausedAt: '2026-03-06T22:00:00.000Z' });
    tc.clock.set(t('2026-03-09T13:00:00Z'));
    expect(
      (await enforceWindow(tc.ctx, { campaignId: ID, kind: 'open', atMs: tc.clock.now() })).outcome,
    ).toBe('resumed');
    // The adjust worker resumed it and it dialed; then someone paused it in CXone's console.
    const resumeId = (await getWindowState(tc.ctx, ID)).resumeCommandId as string;
    await createCommandStore(tc.ctx).update(resumeId, { status: 'succeeded' }, new Date(tc.clock.now()));
    await tc.putCampaign(ID, weekdays, 'paused', 3);

    tc.clock.set(t('2026-03-09T13:00:30Z'));
    const verify = await enforceWindow(tc.ctx, { campaignId: ID, kind: 'verify', atMs: tc.clock.now() });
    expect(verify.outcome).toBe('nothing');
    expect(verify.next).toMatchObject({ kind: 'close', atMs: t('2026-03-09T21:00:00Z') });
    expect((await adjustJobs()).filter((c) => c.action === 'resume')).toHaveLength(1);
    expect(await getWindowState(tc.ctx, ID)).toEqual({ lastTransitionMs: t('2026-03-09T13:00:30Z') });
    expect((await complianceRecords()).at(-1)).toMatchObject({
      kind: 'window_pause_released',
      pausedBy: 'outside the orchestrator (CXone)',
      windowPausedAt: '2026-03-06T22:00:00.000Z',
    });

    // Nor does the next day's open resume it.
    tc.clock.set(t('2026-03-10T13:00:00Z'));
    expect(
      (await enforceWindow(tc.ctx, { campaignId: ID, kind: 'open', atMs: tc.clock.now() })).outcome,
    ).toBe('nothing');
    expect((await adjustJobs()).filter((c) => c.action === 'resume')).toHaveLength(1);
  });

  it('keeps a window pause still queued when a poll already saw the campaign paused, and checks again', async () => {
    await tc.putCampaign(ID, weekdays, 'active');
    tc.clock.set(t('2026-03-06T22:00:00Z'));
    expect(
      (await enforceWindow(tc.ctx, { campaignId: ID, kind: 'close', atMs: tc.clock.now() })).outcome,
    ).toBe('paused');
    const { pauseCommandId } = await getWindowState(tc.ctx, ID);
    // A poll read CXone paused (by someone, or by this pause's write) before the command finished.
    await tc.putCampaign(ID, weekdays, 'paused', 2);
    tc.clock.set(t('2026-03-06T22:00:30Z'));
    const verify = await enforceWindow(tc.ctx, { campaignId: ID, kind: 'verify', atMs: tc.clock.now() });
    expect(verify).toMatchObject({ outcome: 'pause_pending', next: { kind: 'verify' } });
    expect(await getWindowState(tc.ctx, ID)).toMatchObject({ pauseCommandId });
  });

  it('lets go of a window pause that found the campaign paused by someone else, even before it claimed it', async () => {
    await tc.putCampaign(ID, weekdays, 'active');
    tc.clock.set(t('2026-03-06T22:00:00Z'));
    expect(
      (await enforceWindow(tc.ctx, { campaignId: ID, kind: 'close', atMs: tc.clock.now() })).outcome,
    ).toBe('paused');
    const claim = await getWindowState(tc.ctx, ID);
    const commandId = claim.pauseCommandId as string;
    // The lifecycle ran the pause before the job stored its claim: the hand-over finds nothing to end.
    await setWindowState(tc.ctx, ID, {});
    const by = { reason: 'compliance-window', commandId, version: 2 };
    expect(await windowPauseFoundInPlace(tc.ctx, ID, by)).toBe(false);
    await setWindowState(tc.ctx, ID, claim);
    await createCommandStore(tc.ctx).update(commandId, { status: 'succeeded' }, new Date(tc.clock.now()));
    await tc.putCampaign(ID, weekdays, 'paused', 2);

    // The job's re-check lets go, recorded, and the open leaves the campaign paused.
    tc.clock.set(t('2026-03-06T22:00:30Z'));
    const verify = await enforceWindow(tc.ctx, { campaignId: ID, kind: 'verify', atMs: tc.clock.now() });
    expect(verify).toMatchObject({
      outcome: 'nothing',
      next: { kind: 'open', atMs: t('2026-03-09T13:00:00Z') },
    });
    expect(await getWindowState(tc.ctx, ID)).not.toHaveProperty('pausedAt');
    expect((await complianceRecords()).at(-1)).toMatchObject({
      kind: 'window_pause_released',
      commandId,
      foundPaused: true,
    });
    tc.clock.set(t('2026-03-09T13:00:00Z'));
    expect(
      (await enforceWindow(tc.ctx, { campaignId: ID, kind: 'open', atMs: tc.clock.now() })).outcome,
    ).toBe('nothing');
    expect((await adjustJobs()).filter((c) => c.action === 'resume')).toEqual([]);

    // A pause of someone else's command is none of the window's business.
    expect(await windowPauseFoundInPlace(tc.ctx, ID, { ...by, reason: 'operator' })).toBe(false);
  });

  it("re-checks a resume no later than the next close's job fires, which is its lead ahead of the close", async () => {
    // Paused by the window, then a resume 45 s before Friday's 17:00 EST close (the margin allows
    // it). The close's pause goes out its lead (30 s margin + a turn) ahead of the close: a re-check
    // 30 s on would come 14 s before the close, holding that pause back until then.
    await tc.putCampaign(ID, weekdays, 'paused', 3);
    await setWindowState(tc.ctx, ID, { pausedAt: '2026-03-06T14:00:00.000Z' });
    tc.clock.set(t('2026-03-06T21:59:15Z'));
    const resumed = await enforceWindow(tc.ctx, { campaignId: ID, kind: 'open', atMs: tc.clock.now() });
    expect(resumed.outcome).toBe('resumed');
    expect(resumed.next).toEqual({ campaignId: ID, kind: 'close', atMs: t('2026-03-06T22:00:00Z') });

    // Two minutes before it, the re-check still comes first.
    await tc.putCampaign(ID, weekdays, 'paused', 4);
    await setWindowState(tc.ctx, ID, { pausedAt: '2026-03-06T14:00:00.000Z' });
    tc.clock.set(t('2026-03-06T21:58:00Z'));
    const early = await enforceWindow(tc.ctx, { campaignId: ID, kind: 'open', atMs: tc.clock.now() });
    expect(early.outcome).toBe('resumed');
    expect(early.next).toEqual({ campaignId: ID, kind: 'verify', atMs: t('2026-03-06T21:58:30Z') });
  });

  it('re-issues a failed window pause, and gives up resuming after a bounded number of tries', async () => {
    await tc.putCampaign(ID, weekdays, 'active');
    const commands = createCommandStore(tc.ctx);
    const fail = async (commandId: string | undefined) => {
      expect(commandId).toBeDefined();
      await commands.update(commandId as string, { status: 'failed' }, new Date(tc.clock.now()));
    };

    tc.clock.set(t('2026-03-06T22:00:00Z'));
    const close = { campaignId: ID, kind: 'close' as const, atMs: tc.clock.now() };
    expect((await enforceWindow(tc.ctx, close)).outcome).toBe('paused');
    // Still queued: not issued twice.
    expect((await enforceWindow(tc.ctx, close)).outcome).toBe('pause_pending');
    // The pause failed (CXone rejected it): the campaign is still active outside its window.
    await fail((await getWindowState(tc.ctx, ID)).pauseCommandId);
    expect((await enforceWindow(tc.ctx, close)).outcome).toBe('paused');
    expect((await adjustJobs()).filter((c) => c.action === 'pause')).toHaveLength(2);
    expect((await complianceRecords()).map((r) => r.reissued)).toEqual([false, true]);

    // The re-issued pause went through.
    await commands.update(
      (await getWindowState(tc.ctx, ID)).pauseCommandId as string,
      { status: 'succeeded' },
      new Date(tc.clock.now()),
    );
    await tc.putCampaign(ID, weekdays, 'paused', 2);
    tc.clock.set(t('2026-03-09T13:00:00Z'));
    const open = { campaignId: ID, kind: 'open' as const, atMs: tc.clock.now() };
    for (let i = 0; i < MAX_RESUME_ATTEMPTS; i++) {
      expect((await enforceWindow(tc.ctx, open)).outcome).toBe('resumed');
      await fail((await getWindowState(tc.ctx, ID)).resumeCommandId);
    }
    const given = await enforceWindow(tc.ctx, open);
    expect(given.outcome).toBe('resume_withheld');
    expect(given.next).toMatchObject({ kind: 'close', atMs: t('2026-03-09T21:00:00Z') });
    expect((await enforceWindow(tc.ctx, open)).outcome).toBe('resume_withheld');
    expect((await adjustJobs()).filter((c) => c.action === 'resume')).toHaveLength(MAX_RESUME_ATTEMPTS);
    expect((await complianceRecords()).filter((r) => r.kind === 'window_resume_withheld')).toHaveLength(1);

    // The next open starts with fresh attempts.
    tc.clock.set(t('2026-03-09T21:00:00Z'));
    await enforceWindow(tc.ctx, { campaignId: ID, kind: 'close', atMs: tc.clock.now() });
    tc.clock.set(t('2026-03-10T13:00:00Z'));
    expect(
      (await enforceWindow(tc.ctx, { campaignId: ID, kind: 'open', atMs: tc.clock.now() })).outcome,
    ).toBe('resumed');
  });
});
