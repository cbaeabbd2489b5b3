import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VERIFY_MS, WINDOW_JOB, windowJobId, windowJobOf } from '../../src/shared/compliance/enforcement.js';
import { replanWindowEnforcement } from '../../src/shared/compliance/replan.js';
import { setWindowState } from '../../src/shared/compliance/state-store.js';
import { ACTIVATE_JOB, activateJobId } from '../../src/shared/jobs.js';
import { createLifecycleHooks } from '../../src/shared/lifecycle/hooks.js';
import { config } from './fixtures.js';
import { createTestContext, type TestContext } from './redis-context.js';

/*
 * Re-planning the window job from outside it (lifecycle hooks, the poll cycle), on real Redis and
 * BullMQ: a pending verify re-check survives a re-plan that would otherwise push the job to the next
 * open; anything due sooner, or a campaign dialing outside its window, still wins.
 */
const ID = 'cmp-replan-1';
const weekdays = config(); // America/New_York, Mon–Fri 09:00–17:00
const t = (iso: string) => Date.parse(iso);

let tc: TestContext;

beforeEach(async () => {
  tc = await createTestContext('2026-03-06T22:00:05Z'); // Friday 17:00:05 EST, just after the close
});
afterEach(async () => {
  await tc.close();
});

/** The state the window job leaves after issuing its pause: delayed, re-checking in VERIFY_MS. */
async function pendingVerify(atMs: number): Promise<void> {
  await tc.ctx.queues.compliance.add(
    WINDOW_JOB,
    { kind: 'verify', atMs },
    { jobId: windowJobId(ID), delay: Math.max(0, atMs - tc.clock.now()), removeOnComplete: true },
  );
}

async function plan() {
  const job = await tc.ctx.queues.compliance.getJob(windowJobId(ID));
  if (!job) throw new Error('window job missing');
  return { ...windowJobOf(job), state: await job.getState() };
}

describe('a campaign that ends', () => {
  it('drops its pending delayed activation along with polling and window enforcement', async () => {
    await tc.putCampaign(ID, weekdays, 'cancelled', 5);
    await tc.ctx.queues.launch.add(
      ACTIVATE_JOB,
      { campaignId: ID },
      { jobId: activateJobId(ID), delay: 86_400_000 },
    );
    await tc.ctx.queues.launch.add(
      ACTIVATE_JOB,
      { campaignId: 'other' },
      { jobId: activateJobId('other'), delay: 86_400_000 },
    );

    await createLifecycleHooks(tc.ctx).onStatusChanged(ID, 'scheduled', 'cancelled');

    expect(await tc.ctx.queues.launch.getJob(activateJobId(ID))).toBeUndefined();
    expect(await tc.ctx.queues.launch.getJob(activateJobId('other'))).toBeDefined();
  });
});

describe('re-planning window enforcement', () => {
  it("keeps the verify re-check when the lifecycle reports the window's own pause", async () => {
    await tc.putCampaign(ID, weekdays, 'paused', 4);
    const verifyAt = tc.clock.now() + VERIFY_MS;
    await pendingVerify(verifyAt);

    await createLifecycleHooks(tc.ctx).onStatusChanged(ID, 'active', 'paused');

    expect(await plan()).toEqual({ campaignId: ID, kind: 'verify', atMs: verifyAt, state: 'delayed' });
  });

  it('plans the next open when no re-check is pending', async () => {
    await tc.putCampaign(ID, weekdays, 'paused', 4);
    expect(await replanWindowEnforcement(tc.ctx, ID)).toBe('scheduled');
    // Monday 09:00 EDT (after the spring-forward weekend).
    expect(await plan()).toMatchObject({ kind: 'open', atMs: t('2026-03-09T13:00:00Z') });
  });

  it('replaces the re-check with a transition that comes sooner', async () => {
    // Inside a window that an edit made end in 10 s: the close must not wait for the 30 s verify.
    tc.clock.set(t('2026-03-06T21:59:50Z'));
    await tc.putCampaign(ID, weekdays, 'paused', 4);
    await pendingVerify(tc.clock.now() + VERIFY_MS);
    expect(await replanWindowEnforcement(tc.ctx, ID)).toBe('scheduled');
    expect(await plan()).toMatchObject({ kind: 'close', atMs: t('2026-03-06T22:00:00Z') });
  });

  it('replaces the re-check with a close whose job fires sooner, its lead ahead of the close', async () => {
    // Resumed by the window 40 s before the close: the close's pause goes out its lead (30 s margin
    // and a turn) ahead of it, 9 s on; the re-check, 30 s on, would hold it back until 10 s before.
    tc.clock.set(t('2026-03-06T21:59:20Z'));
    await tc.putCampaign(ID, weekdays, 'active', 5);
    await pendingVerify(tc.clock.now() + VERIFY_MS);
    expect(await replanWindowEnforcement(tc.ctx, ID)).toBe('scheduled');
    expect(await plan()).toMatchObject({ kind: 'close', atMs: t('2026-03-06T22:00:00Z') });

    // Two minutes before the close the re-check fires first, and is kept.
    tc.clock.set(t('2026-03-06T21:58:00Z'));
    const verifyAt = tc.clock.now() + VERIFY_MS;
    await (await tc.ctx.queues.compliance.getJob(windowJobId(ID)))?.remove();
    await pendingVerify(verifyAt);
    expect(await replanWindowEnforcement(tc.ctx, ID)).toBe('kept_verify');
    expect(await plan()).toMatchObject({ kind: 'verify', atMs: verifyAt });
  });

  it('resumes at once a campaign the window paused whose hours, widened, hold now', async () => {
    // Paused by the close 5 s ago, its re-check 25 s away; the operator widens Friday to 21:00.
    await tc.putCampaign(ID, weekdays, 'paused', 4);
    await setWindowState(tc.ctx, ID, { pausedAt: new Date(tc.clock.now() - 5_000).toISOString() });
    await pendingVerify(tc.clock.now() + VERIFY_MS - 5_000);
    const widened = config({
      allowedCallTimes: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '21:00' }],
    });
    await tc.putCampaign(ID, widened, 'paused', 5);
    expect(await replanWindowEnforcement(tc.ctx, ID)).toBe('scheduled');
    const job = await tc.ctx.queues.compliance.getJob(windowJobId(ID));
    expect(job && windowJobOf(job)).toEqual({ campaignId: ID, kind: 'open', atMs: tc.clock.now() });
    expect(job?.delay).toBe(0);
  });

  it('acts at once on a campaign active outside its window, whatever is pending', async () => {
    await tc.putCampaign(ID, weekdays, 'active', 5);
    await pendingVerify(tc.clock.now() + VERIFY_MS);
    expect(await replanWindowEnforcement(tc.ctx, ID)).toBe('scheduled');
    const job = await tc.ctx.queues.compliance.getJob(windowJobId(ID));
    expect(job && windowJobOf(job)).toEqual({ campaignId: ID, kind: 'close', atMs: tc.clock.now() });
    // Moved from the re-check's 30 s to due now (BullMQ promotes a zero-delay job on its next check).
    expect(job?.delay).toBe(0);
  });
});
