import { Worker, type Job } from 'bullmq';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LAUNCH_JOB, submitLaunch } from '../../src/producers/launch-submit.js';
import { campaignConfigSchema } from '../../src/shared/campaign-schema.js';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import { ManualClock } from '../../src/shared/clock.js';
import type { AppContext } from '../../src/shared/context.js';
import { toCreateCampaignRequest } from '../../src/shared/cxone/to-wire.js';
import { activateJobId, type LaunchJob } from '../../src/shared/jobs.js';
import { QUEUES } from '../../src/shared/keys.js';
import {
  createLaunchStore,
  queuedLaunchIndexKey,
  runningLaunchIndexKey,
  type LaunchStore,
} from '../../src/shared/launch-store.js';
import {
  launchJobBounds,
  runningLaunchGraceMs,
  runningLaunchSweepCursorKey,
  sweepRunningLaunches,
  type LaunchSweepDeps,
  type RunningLaunchSweepResult,
} from '../../src/workers/launch-sweep.js';
import { createLaunchWorker, processLaunch } from '../../src/workers/launch-worker.js';
import { FAST_LOCKS, sandboxStatus, startStack, waitFor, type Stack } from '../e2e/stack.js';
import { startingInAnHour } from './last-attempt.js';
import { launchFailures, recording, type Recorded } from './recording.js';
import { failedByScheduledSweep, holdLaunchJob } from './sweep-helpers.js';

/**
 * A launch whose job was removed after a worker began it — status `running`, no job, nothing in the
 * failed set — is found through the index of running launches and failed by the launch sweep once
 * its grace has passed, its campaign cancelled; a launch whose job still exists in any state is never
 * touched, and a launch that finished leaves nothing in either index.
 */

describe('the grace of a running launch without a job', () => {
  it('covers every attempt of a launch job at its slowest, with its stalls and backoffs, and never less than an hour', () => {
    const defaults = {
      attempts: 10,
      backoffCapMs: 60_000,
      cxoneCallMs: 30_000,
      lockDurationMs: 30_000,
      stalledIntervalMs: 30_000,
      maxStalledCount: 2,
    };
    // 10 × (15 calls × 30 s + 2 stalls × (30 s + 30 s) + 60 s) = 105 min.
    expect(runningLaunchGraceMs(defaults)).toBe(105 * 60_000);
    // A longer CXone timeout (and the lock that follows it) lengthens it.
    expect(
      runningLaunchGraceMs({
        ...defaults,
        cxoneCallMs: 90_000,
        lockDurationMs: 90_000,
        stalledIntervalMs: 90_000,
      }),
    ).toBe(10 * (15 * 90_000 + 2 * 180_000 + 60_000));
    // Short test locks and timeouts: the floor.
    expect(
      runningLaunchGraceMs({
        ...defaults,
        attempts: 1,
        cxoneCallMs: 300,
        lockDurationMs: 2_000,
        stalledIntervalMs: 1_000,
      }),
    ).toBe(60 * 60_000);
  });
});

describe('running launches whose job is gone', () => {
  const recorded: Recorded = { audit: [], events: [] };
  let stack: Stack;
  let ctx: AppContext;
  let graceMs: number;
  const workers: Worker[] = [];
  const deps = (launches: LaunchStore = createLaunchStore(ctx)): LaunchSweepDeps => ({
    ctx,
    launches,
    campaigns: createCampaignStore(ctx),
  });
  const runningKey = () => runningLaunchIndexKey(ctx.keys);
  const queuedKey = () => queuedLaunchIndexKey(ctx.keys);
  const begunAt = async (launchId: string) => {
    const score = await stack.redis.zscore(runningKey(), launchId);
    return score === null ? null : Number(score);
  };
  const inQueuedIndex = async (launchId: string) =>
    (await stack.redis.zscore(queuedKey(), launchId)) !== null;

  let seq = 0;
  async function submit() {
    const name = `Running launch test ${++seq}-${Date.now()}`;
    const config = campaignConfigSchema.parse(startingInAnHour({ name }));
    const { launchId } = await submitLaunch(ctx, { config, actor: 'api:test' });
    const job = (await ctx.queues.launch.getJob(launchId)) as Job<LaunchJob>;
    return { launchId, name, config, job };
  }

  /**
   * What a worker leaves of a launch it began and whose job was then removed: begun through the store,
   * its campaign created on the sandbox and recorded, its job gone as Bull Board's remove takes it.
   */
  async function removedWhileRunning(opts: { lastError?: string } = {}) {
    const launch = await submit();
    const launches = createLaunchStore(ctx);
    expect((await launches.begin(launch.launchId))?.status).toBe('queued');
    const created = await ctx.cxone.createCampaign(toCreateCampaignRequest(launch.config));
    expect(await launches.recordCreated(launch.launchId, created.id, created.version)).toBe(true);
    if (opts.lastError) await launches.update(launch.launchId, { lastError: opts.lastError });
    // Bull Board's "remove": Job#remove (it refuses an active job; this one waits, as for a retry).
    await launch.job.remove();
    expect(await stack.redis.exists(ctx.queues.launch.toKey(launch.launchId))).toBe(0);
    return { ...launch, campaignId: created.id, begunAt: (await begunAt(launch.launchId))! };
  }

  const failuresOf = (launchId: string) => launchFailures(recorded, launchId);
  const successesOf = (launchId: string) =>
    recorded.events.filter((e) => e.type === 'campaign.launch.succeeded' && e.data.launchId === launchId);

  beforeAll(async () => {
    stack = await startStack({ api: false, ctxOverrides: recording(recorded) });
    ctx = stack.ctx;
    graceMs = runningLaunchGraceMs(launchJobBounds(ctx));
  });
  beforeEach(async () => {
    await stack.redis.del(runningLaunchSweepCursorKey(ctx.keys));
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.close(true)));
    // Each test leaves nothing running behind it for the next one's sweeps to read.
    expect(await stack.redis.zcard(runningKey())).toBe(0);
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('a normal launch is indexed as running from its first begin until its outcome, and leaves no entry in either index', async () => {
    const { launchId } = await submit();
    expect(await inQueuedIndex(launchId)).toBe(true);
    expect(await begunAt(launchId)).toBeNull();
    workers.push(createLaunchWorker(ctx, FAST_LOCKS));
    const done = await waitFor('the launch to succeed', async () => {
      const l = await createLaunchStore(ctx).get(launchId);
      return l?.status === 'succeeded' ? l : undefined;
    });
    expect(done.campaignStatus).toBe('scheduled');
    expect(await inQueuedIndex(launchId)).toBe(false);
    expect(await begunAt(launchId)).toBeNull();
    expect(await stack.redis.exists(queuedKey(), runningKey())).toBe(0);
    await Promise.all(workers.splice(0).map((w) => w.close()));

    // Begun: out of the queued index, into the running one, scored by its first begin — a retry's
    // begin keeps that score. Its outcome (a failure here) takes it out.
    const other = await submit();
    await other.job.remove();
    const clock = new ManualClock(1_700_000_000_000);
    const launches = createLaunchStore({ redis: ctx.redis, keys: ctx.keys, clock });
    await launches.begin(other.launchId);
    expect(await inQueuedIndex(other.launchId)).toBe(false);
    expect(await begunAt(other.launchId)).toBe(1_700_000_000_000);
    clock.advance(60_000);
    await launches.begin(other.launchId);
    expect(await begunAt(other.launchId)).toBe(1_700_000_000_000);
    expect(await launches.finish(other.launchId, { status: 'failed', error: 'CXone said no' })).toBe(true);
    expect(await begunAt(other.launchId)).toBeNull();
    // A finished launch begun again (a redelivery) is not indexed again.
    await launches.begin(other.launchId);
    expect(await begunAt(other.launchId)).toBeNull();
    expect(await stack.redis.exists(queuedKey(), runningKey())).toBe(0);
  });

  it('fails a running launch whose job was removed, after the grace, once: its campaign cancelled, audited, announced', async () => {
    const lost = await removedWhileRunning({ lastError: 'attempt 1: CXone answered 503' });
    const launches = createLaunchStore(ctx);
    recorded.audit.length = 0;
    recorded.events.length = 0;

    // Within the grace its run may still be finishing: left alone.
    const early = await sweepRunningLaunches(deps(), { nowMs: lost.begunAt + graceMs - 1 });
    expect(early).toMatchObject({ scanned: 0, settled: [] });
    expect((await launches.get(lost.launchId))?.status).toBe('running');
    expect(sandboxStatus(stack.sandbox, lost.campaignId)).toBe('draft');

    const swept = await sweepRunningLaunches(deps(), { nowMs: lost.begunAt + graceMs });
    expect(swept).toEqual({ scanned: 1, settled: [lost.launchId], dropped: [], stopped: false });
    const launch = await launches.get(lost.launchId);
    expect(launch).toMatchObject({
      status: 'failed',
      campaignId: lost.campaignId,
      cancelled: true,
      campaignStatus: 'cancelled',
    });
    expect(launch?.error).toMatch(
      /launch job was removed from the queue .* after a worker began the launch, and no worker finished it \(its last error: attempt 1: CXone answered 503\); a campaign it created on CXone, if any, is cancelled .*settled by the launch sweep/,
    );
    expect(launch?.failing).toBeUndefined();
    expect(sandboxStatus(stack.sandbox, lost.campaignId)).toBe('cancelled');
    expect(await launches.launchOfCampaign(lost.campaignId)).toBeNull();
    expect(await begunAt(lost.launchId)).toBeNull();
    const { audit, events } = failuresOf(lost.launchId);
    expect(audit).toEqual([
      expect.objectContaining({
        campaignId: lost.campaignId,
        actor: 'worker:launch',
        details: expect.objectContaining({
          launchId: lost.launchId,
          requestedBy: 'api:test',
          reason: launch?.error,
          cancelledOnCxone: true,
        }),
      }),
    ]);
    expect(events).toEqual([
      expect.objectContaining({
        data: expect.objectContaining({ launchId: lost.launchId, reason: launch?.error, cancelled: true }),
      }),
    ]);

    // Again: nothing left to read, nothing announced twice.
    const again = await sweepRunningLaunches(deps(), { nowMs: Date.now() + graceMs });
    expect(again).toMatchObject({ scanned: 0, settled: [] });
    expect(failuresOf(lost.launchId)).toMatchObject({
      audit: [expect.anything()],
      events: [expect.anything()],
    });
  });

  it('never touches a running launch whose job exists, active or delayed for its retry, however long past the grace', async () => {
    const launches = createLaunchStore(ctx);
    const queue = ctx.queues.launch;
    // Active: held by a worker that does not finish it until told.
    const active = await submit();
    const { holder, release } = await holdLaunchJob(ctx, active.launchId, workers);
    // Delayed: waiting for its next attempt after a transient failure.
    const delayed = await submit();
    await delayed.job.remove();
    await queue.add(LAUNCH_JOB, delayed.job.data, { jobId: delayed.launchId, delay: 3_600_000 });
    for (const { launchId } of [active, delayed]) await launches.begin(launchId);
    await launches.update(delayed.launchId, { lastError: 'attempt 1: CXone answered 503' });
    const before = await Promise.all([launches.get(active.launchId), launches.get(delayed.launchId)]);
    expect(before.map((l) => l?.status)).toEqual(['running', 'running']);
    recorded.audit.length = 0;
    recorded.events.length = 0;

    const swept = await sweepRunningLaunches(deps(), { nowMs: Date.now() + graceMs + 7 * 24 * 3600_000 });
    expect(swept).toEqual({ scanned: 2, settled: [], dropped: [], stopped: false });
    const after = await Promise.all([launches.get(active.launchId), launches.get(delayed.launchId)]);
    expect(after).toEqual(before);
    expect(await queue.getJobState(active.launchId)).toBe('active');
    expect(await queue.getJobState(delayed.launchId)).toBe('delayed');
    expect(await begunAt(active.launchId)).not.toBeNull();
    expect(await begunAt(delayed.launchId)).not.toBeNull();
    expect(recorded.audit).toEqual([]);
    expect(recorded.events).toEqual([]);

    // Cleaned up: the held job ends (completed, its hash kept: still untouched), then both jobs are
    // removed and the sweep fails the two launches (nothing created on CXone: no campaign to cancel).
    release();
    await waitFor(
      'the held job to complete',
      async () => (await queue.getJobState(active.launchId)) === 'completed',
    );
    await holder.close();
    expect((await sweepRunningLaunches(deps(), { nowMs: Date.now() + graceMs })).settled).toEqual([]);
    await queue.remove(active.launchId);
    await queue.remove(delayed.launchId);
    const cleaned = await sweepRunningLaunches(deps(), { nowMs: Date.now() + graceMs });
    expect(cleaned.settled.sort()).toEqual([active.launchId, delayed.launchId].sort());
  });

  it('a launch between a failed attempt and its retry keeps its job hash (BullMQ moves it to delayed): never touched', async () => {
    const launches = createLaunchStore(ctx);
    const queue = ctx.queues.launch;
    const { launchId } = await submit();
    expect(await queue.getWaitingCount()).toBe(1);
    // A real attempt failing with attempts left: Job#moveToFailed asks the backoff, then moves the job
    // to delayed (moveToDelayed) rather than failing it — the hash stays, with the attempt counted.
    const failing = new Worker(
      QUEUES.launch,
      async (job) => {
        await launches.begin(job.id!);
        throw new Error('attempt 1: CXone answered 503');
      },
      {
        connection: ctx.redis,
        prefix: ctx.keys.prefix,
        concurrency: 1,
        settings: { backoffStrategy: () => 3_600_000 },
      },
    );
    workers.push(failing);
    await waitFor(
      'the attempt to fail into its retry',
      async () => (await queue.getJobState(launchId)) === 'delayed',
    );
    await failing.close();
    const job = await queue.getJob(launchId);
    expect(job?.attemptsMade).toBe(1);
    expect(job?.opts.attempts).toBe(10);
    expect(await stack.redis.exists(queue.toKey(launchId))).toBe(1);
    expect((await launches.get(launchId))?.status).toBe('running');
    recorded.events.length = 0;

    const swept = await sweepRunningLaunches(deps(), { nowMs: Date.now() + graceMs + 24 * 3600_000 });
    expect(swept).toEqual({ scanned: 1, settled: [], dropped: [], stopped: false });
    expect((await launches.get(launchId))?.status).toBe('running');
    expect(await queue.getJobState(launchId)).toBe('delayed');
    expect(recorded.events).toEqual([]);

    // Removed while it waits for that retry: then, and only then, the sweep fails it.
    await queue.remove(launchId);
    expect((await sweepRunningLaunches(deps(), { nowMs: Date.now() + graceMs })).settled).toEqual([launchId]);
  });

  it('a worker whose success lands between the sweep finding no job and its claim keeps it: nothing failed, cancelled or announced', async () => {
    const { launchId, job } = await submit();
    recorded.audit.length = 0;
    recorded.events.length = 0;
    // The worker's run, held just before it records its success.
    let atFinish!: () => void;
    const reachedFinish = new Promise<void>((resolve) => (atFinish = resolve));
    let letFinish!: () => void;
    const finishAllowed = new Promise<void>((resolve) => (letFinish = resolve));
    const real = createLaunchStore(ctx);
    const workerStore = Object.create(real) as LaunchStore;
    workerStore.finish = async (...args: Parameters<LaunchStore['finish']>) => {
      atFinish();
      await finishAllowed;
      return real.finish(...args);
    };
    const run = processLaunch({ ...deps(workerStore), lockMs: 30_000 }, job);
    await Promise.race([
      reachedFinish,
      run.then(() => Promise.reject(new Error('the run ended before recording its outcome'))),
    ]);
    // Its job removed while it ran (what obliterating the queue by force does to an active job).
    await job.remove();
    const campaignId = (await real.get(launchId))!.campaignId!;
    expect(sandboxStatus(stack.sandbox, campaignId)).toBe('scheduled');

    // The sweep has read the index and found no job; the worker's success lands before its claim.
    const sweepStore = Object.create(real) as LaunchStore;
    let claims = 0;
    sweepStore.claimJoblessRunningFailure = async (...args) => {
      claims++;
      letFinish();
      await run;
      return real.claimJoblessRunningFailure(...args);
    };
    const swept = await sweepRunningLaunches(deps(sweepStore), {
      nowMs: (await begunAt(launchId))! + graceMs,
    });
    expect(claims).toBe(1);
    expect(swept).toEqual({ scanned: 1, settled: [], dropped: [], stopped: false });
    expect(await run).toMatchObject({ outcome: 'succeeded', campaignStatus: 'scheduled' });
    const launch = await real.get(launchId);
    expect(launch).toMatchObject({ status: 'succeeded', campaignId, campaignStatus: 'scheduled' });
    expect(launch?.failing).toBeUndefined();
    expect(sandboxStatus(stack.sandbox, campaignId)).toBe('scheduled');
    expect(await ctx.queues.launch.getJob(activateJobId(campaignId))).toBeDefined();
    expect(successesOf(launchId)).toHaveLength(1);
    expect(failuresOf(launchId)).toEqual({ audit: [], events: [] });
    expect(await begunAt(launchId)).toBeNull();
    await ctx.queues.launch.remove(activateJobId(campaignId));
  });

  it('a worker whose job was removed and whose launch the sweep failed first records no success: it stays failed, its campaign cancelled', async () => {
    const { launchId, job } = await submit();
    recorded.audit.length = 0;
    recorded.events.length = 0;
    const real = createLaunchStore(ctx);
    let swept: RunningLaunchSweepResult | undefined;
    let finishes = 0;
    const workerStore = Object.create(real) as LaunchStore;
    workerStore.finish = async (...args: Parameters<LaunchStore['finish']>) => {
      finishes++;
      // Its job removed while it ran, and the sweep's turn coming before this run's success.
      await job.remove();
      swept = await sweepRunningLaunches(deps(), { nowMs: (await begunAt(launchId))! + graceMs });
      return real.finish(...args);
    };
    const run = await processLaunch({ ...deps(workerStore), lockMs: 30_000 }, job);
    expect(finishes).toBe(1);
    expect(swept).toEqual({ scanned: 1, settled: [launchId], dropped: [], stopped: false });
    expect(run).toMatchObject({ outcome: 'skipped', reason: 'launch already failed' });
    const launch = await real.get(launchId);
    expect(launch).toMatchObject({ status: 'failed', cancelled: true, campaignStatus: 'cancelled' });
    expect(launch?.error).toMatch(/removed from the queue .* after a worker began the launch/);
    expect(sandboxStatus(stack.sandbox, launch!.campaignId!)).toBe('cancelled');
    // The activation the run added for the campaign went with it.
    expect(await ctx.queues.launch.getJob(activateJobId(launch!.campaignId!))).toBeUndefined();
    expect(successesOf(launchId)).toEqual([]);
    const { audit, events } = failuresOf(launchId);
    expect(audit).toHaveLength(1);
    expect(events).toHaveLength(1);
    expect(await begunAt(launchId)).toBeNull();
  });

  it('claims only a running launch without a job: finished, queued or with its job back, it is left as it is', async () => {
    const launches = createLaunchStore(ctx);
    const queue = ctx.queues.launch;
    const { launchId, job } = await submit();
    // Queued, its job removed: the queued-launch sweep's, not this claim's.
    await job.remove();
    expect(
      await launches.claimJoblessRunningFailure(launchId, queue.toKey(launchId), 'gone', 'sweep:test'),
    ).toEqual({ kind: 'not-running', status: 'queued' });
    await launches.begin(launchId);
    // Its job back (added again by hand): its run decides.
    await queue.add(LAUNCH_JOB, job.data, { jobId: launchId, delay: 3_600_000 });
    expect(
      await launches.claimJoblessRunningFailure(launchId, queue.toKey(launchId), 'gone', 'sweep:test'),
    ).toEqual({ kind: 'present' });
    expect((await launches.get(launchId))?.failing).toBeUndefined();
    await queue.remove(launchId);
    expect(
      await launches.claimJoblessRunningFailure(launchId, queue.toKey(launchId), 'gone', 'sweep:test'),
    ).toMatchObject({ kind: 'claimed', reason: 'gone' });
    await launches.finish(launchId, { status: 'failed', error: 'gone' });
    expect(
      await launches.claimJoblessRunningFailure(launchId, queue.toKey(launchId), 'gone', 'sweep:test'),
    ).toEqual({ kind: 'finished', status: 'failed' });
  });

  it('only takes out an index entry whose launch record is gone or no longer running', async () => {
    const launches = createLaunchStore(ctx);
    const finished = await submit();
    await finished.job.remove();
    await launches.begin(finished.launchId);
    // Finished by a release that did not keep the index: still indexed.
    await stack.redis.hset(ctx.keys.launch(finished.launchId), 'status', 'succeeded');
    const ghost = '00000000-0000-4000-8000-000000000001';
    await stack.redis.zadd(runningKey(), 1, ghost);
    recorded.events.length = 0;

    const swept = await sweepRunningLaunches(deps(), { nowMs: Date.now() + graceMs });
    expect(swept.settled).toEqual([]);
    expect(swept.dropped.sort()).toEqual([ghost, finished.launchId].sort());
    expect((await launches.get(finished.launchId))?.status).toBe('succeeded');
    expect(recorded.events).toEqual([]);
    expect(await stack.redis.exists(runningKey())).toBe(0);
  });

  it('runs beside the launch worker: the scheduled sweep fails a running launch whose job was removed', async () => {
    const lost = await removedWhileRunning();
    recorded.events.length = 0;
    const { launch, settled } = await failedByScheduledSweep(ctx, workers, 'running', lost.launchId);
    expect(launch).toMatchObject({ cancelled: true, campaignStatus: 'cancelled' });
    expect(launch.error).toMatch(/after a worker began the launch/);
    expect(settled).toEqual([lost.launchId]);
    expect(failuresOf(lost.launchId).events).toHaveLength(1);
  });
});
