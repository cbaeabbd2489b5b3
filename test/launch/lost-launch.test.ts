import type { Job, Worker } from 'bullmq';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LAUNCH_JOB, submitLaunch } from '../../src/producers/launch-submit.js';
import { campaignConfigSchema } from '../../src/shared/campaign-schema.js';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import type { AppContext } from '../../src/shared/context.js';
import { RequestAbandonedError } from '../../src/shared/errors.js';
import type { LaunchJob } from '../../src/shared/jobs.js';
import {
  createLaunchStore,
  launchAuditId,
  queuedLaunchIndexKey,
  runningLaunchIndexKey,
} from '../../src/shared/launch-store.js';
import {
  DEFAULT_LOST_LAUNCH_GRACE_MS,
  lostLaunchSweepCursorKey,
  sweepLostLaunches,
} from '../../src/workers/launch-sweep.js';
import { createLaunchWorker, processLaunch } from '../../src/workers/launch-worker.js';
import { campaignConfig, FAST_LOCKS, startStack, waitFor, type Stack } from '../e2e/stack.js';
import { startingInAnHour } from './last-attempt.js';
import { launchFailures, recording, type Recorded } from './recording.js';
import { failedByScheduledSweep } from './sweep-helpers.js';

/**
 * A launch whose job is gone before any worker began it — removed by hand (Bull Board), or never
 * enqueued (the API's enqueue failed or its deadline passed, and no retry with its Idempotency-Key
 * came) — is found through the index of queued launches and failed by the launch sweep; launches whose
 * job is still there, and launches that began or finished, are not touched and leave no entry.
 */

interface LostRecorded extends Recorded {
  /** Names of the campaigns the fleet asked CXone to create. */
  creates: string[];
}

const GRACE_MS = DEFAULT_LOST_LAUNCH_GRACE_MS;

describe('launches whose job is gone before any worker began it', () => {
  const recorded: LostRecorded = { audit: [], events: [], creates: [] };
  let stack: Stack;
  let ctx: AppContext;
  const workers: Worker[] = [];
  const deps = () => ({ ctx, launches: createLaunchStore(ctx), campaigns: createCampaignStore(ctx) });
  const indexKey = () => queuedLaunchIndexKey(ctx.keys);
  const indexed = async (launchId: string) => (await stack.redis.zscore(indexKey(), launchId)) !== null;

  let seq = 0;
  async function submit(opts: { idempotencyKey?: string; signal?: AbortSignal } = {}) {
    const name = `Lost launch test ${++seq}-${Date.now()}`;
    const config = campaignConfigSchema.parse(startingInAnHour({ name }));
    const { launchId } = await submitLaunch(ctx, { config, actor: 'api:test', ...opts });
    return { launchId, name, config };
  }

  const failuresOf = (launchId: string) => launchFailures(recorded, launchId);

  beforeAll(async () => {
    stack = await startStack({
      api: false,
      ctxOverrides: recording(recorded, (cxone) => ({
        createCampaign: async (...args: Parameters<AppContext['cxone']['createCampaign']>) => {
          recorded.creates.push(args[0].name);
          return cxone.createCampaign(...args);
        },
      })),
    });
    ctx = stack.ctx;
  });
  beforeEach(async () => {
    await stack.redis.del(lostLaunchSweepCursorKey(ctx.keys));
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.close(true)));
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('a normal launch leaves no index entry once it has begun; once finished, the index holds nothing', async () => {
    const { launchId } = await submit();
    // Queued, its job waiting: indexed, by when it was requested.
    const record = await createLaunchStore(ctx).get(launchId);
    expect(await stack.redis.zscore(indexKey(), launchId)).toBe(String(Date.parse(record!.requestedAt)));
    workers.push(createLaunchWorker(ctx, FAST_LOCKS));
    const done = await waitFor('the launch to succeed', async () => {
      const l = await createLaunchStore(ctx).get(launchId);
      return l?.status === 'succeeded' ? l : undefined;
    });
    expect(done.campaignStatus).toBe('scheduled');
    expect(await indexed(launchId)).toBe(false);
    expect(await stack.redis.exists(indexKey())).toBe(0);
    // Out of it from the moment a worker begins it, before any outcome (its job removed while it
    // runs: the launch reads running, not queued, and is no lost launch). The worker is closed first,
    // or it could take the next job before the test removes it.
    await Promise.all(workers.splice(0).map((w) => w.close()));
    const other = await submit();
    await ctx.queues.launch.remove(other.launchId);
    expect(await indexed(other.launchId)).toBe(true);
    expect((await createLaunchStore(ctx).begin(other.launchId))?.status).toBe('queued');
    expect(await indexed(other.launchId)).toBe(false);
    expect((await createLaunchStore(ctx).get(other.launchId))?.status).toBe('running');
    // Indexed as running instead (running-launch.test.ts): the running-launch sweep's, not this one's.
    expect(await stack.redis.zscore(runningLaunchIndexKey(ctx.keys), other.launchId)).not.toBeNull();
    await createLaunchStore(ctx).finish(other.launchId, { status: 'failed', error: 'test' });
    expect(await stack.redis.exists(runningLaunchIndexKey(ctx.keys))).toBe(0);
    await stack.redis.del(ctx.keys.launch(other.launchId));
    // And the sweep, however late, has nothing to read.
    const swept = await sweepLostLaunches(deps(), { nowMs: Date.now() + 24 * 3600_000 });
    expect(swept).toMatchObject({ scanned: 0, settled: [], stopped: false });
  });

  it('a launch the API abandoned without a key is failed there and leaves no entry; with a key it stays indexed', async () => {
    await expect(submit({ signal: AbortSignal.abort() })).rejects.toBeInstanceOf(RequestAbandonedError);
    // The launch just abandoned: the newest record, failed, and not in the index.
    const all = await Promise.all(
      (await stack.redis.keys(`${stack.prefix}:launch-record:*`)).map((k) => stack.redis.hgetall(k)),
    );
    const abandoned = all.find((r) => r.name?.startsWith(`Lost launch test ${seq}-`));
    expect(abandoned).toMatchObject({ status: 'failed' });
    expect(abandoned!.error).toMatch(/abandoned/);
    expect(await indexed(abandoned!.launchId!)).toBe(false);
    expect(await stack.redis.exists(indexKey())).toBe(0);

    const key = `lost-abandoned-${Date.now()}`;
    await expect(submit({ idempotencyKey: key, signal: AbortSignal.abort() })).rejects.toBeInstanceOf(
      RequestAbandonedError,
    );
    const claim = JSON.parse((await stack.redis.get(ctx.keys.launchIdempotency(key)))!) as {
      launchId: string;
    };
    expect((await createLaunchStore(ctx).get(claim.launchId))?.status).toBe('queued');
    expect(await indexed(claim.launchId)).toBe(true);
    // Cleaned up for the next tests: its claim lapses, the sweep fails it.
    await stack.redis.del(ctx.keys.launchIdempotency(key));
    const swept = await sweepLostLaunches(deps(), { nowMs: Date.now() + GRACE_MS });
    expect(swept.settled).toEqual([claim.launchId]);
  });

  it('fails a launch whose waiting job was removed by hand, after the grace, once: audited, announced, nothing sent to CXone', async () => {
    const { launchId, name } = await submit();
    const queue = ctx.queues.launch;
    expect(await queue.getJobState(launchId)).toBe('waiting');
    // What Bull Board's "remove" does.
    await (await queue.getJob(launchId))!.remove();
    expect(await queue.getJob(launchId)).toBeUndefined();
    const requestedAt = Date.parse((await createLaunchStore(ctx).get(launchId))!.requestedAt);
    recorded.audit.length = 0;
    recorded.events.length = 0;

    // Within the grace it may be a request between its record and its enqueue: left alone.
    const early = await sweepLostLaunches(deps(), { nowMs: requestedAt + GRACE_MS - 1 });
    expect(early).toMatchObject({ scanned: 0, settled: [] });
    expect((await createLaunchStore(ctx).get(launchId))?.status).toBe('queued');

    const swept = await sweepLostLaunches(deps(), { nowMs: requestedAt + GRACE_MS });
    expect(swept).toMatchObject({ scanned: 1, settled: [launchId], keptForRetry: [], stopped: false });
    const launch = await createLaunchStore(ctx).get(launchId);
    expect(launch?.status).toBe('failed');
    expect(launch?.error).toMatch(
      /launch job was removed from the queue .* or never enqueued, and no worker began it; nothing was sent to CXone .*settled by the launch sweep/,
    );
    expect(launch?.failing).toBeUndefined();
    expect(await indexed(launchId)).toBe(false);
    const { audit, events } = failuresOf(launchId);
    expect(audit).toEqual([
      expect.objectContaining({
        campaignId: launchAuditId(launchId),
        actor: 'worker:launch',
        details: expect.objectContaining({ launchId, requestedBy: 'api:test', reason: launch?.error }),
      }),
    ]);
    expect(events).toEqual([
      expect.objectContaining({ data: expect.objectContaining({ launchId, reason: launch?.error }) }),
    ]);

    // Again: nothing left to read, nothing announced twice.
    const again = await sweepLostLaunches(deps(), { nowMs: Date.now() + GRACE_MS });
    expect(again).toMatchObject({ scanned: 0, settled: [] });
    expect(failuresOf(launchId).events).toHaveLength(1);

    // A late run of its job (re-added by hand) finds it failed: nothing goes to CXone.
    const readded = (await queue.add(
      LAUNCH_JOB,
      { launchId, config: campaignConfig({ name }), actor: 'api:test', requestedAt: launch!.requestedAt },
      { jobId: launchId },
    )) as Job<LaunchJob>;
    const late = await processLaunch({ ...deps(), lockMs: 30_000 }, readded);
    expect(late).toMatchObject({ outcome: 'skipped' });
    expect(recorded.creates).not.toContain(name);
    await readded.remove();
    expect(failuresOf(launchId).audit).toHaveLength(1);
  });

  it('a launch a worker begins between the sweep finding no job and its claim is left to that worker: it runs, nothing is failed or announced', async () => {
    const { launchId, name, config } = await submit();
    const queue = ctx.queues.launch;
    await queue.remove(launchId);
    const requestedAt = (await createLaunchStore(ctx).get(launchId))!.requestedAt;
    recorded.audit.length = 0;
    recorded.events.length = 0;
    // The sweep's last look at the queue answers "no job"; just after it, the job is added again (the
    // API's late enqueue) and a worker begins it — before the sweep's claim reaches Redis.
    let readded: Job<LaunchJob> | undefined;
    const racing = Object.create(queue) as typeof queue;
    racing.getJob = async (jobId: string) => {
      const answer = await queue.getJob(jobId);
      if (jobId === launchId && !readded) {
        readded = (await queue.add(
          LAUNCH_JOB,
          { launchId, config, actor: 'api:test', requestedAt },
          { jobId: launchId },
        )) as Job<LaunchJob>;
        expect((await createLaunchStore(ctx).begin(launchId))?.status).toBe('queued');
      }
      return answer;
    };
    const racingCtx = { ...ctx, queues: { ...ctx.queues, launch: racing } };
    const sweepDeps = { ...deps(), ctx: racingCtx };

    const swept = await sweepLostLaunches(sweepDeps, { nowMs: Date.parse(requestedAt) + GRACE_MS });
    expect(readded).toBeDefined();
    expect(swept.settled).toEqual([]);
    const launch = await createLaunchStore(ctx).get(launchId);
    expect(launch?.status).toBe('running');
    expect(launch?.failing).toBeUndefined();
    expect(failuresOf(launchId)).toEqual({ audit: [], events: [] });

    // The worker that began it goes on: its campaign is created once and the launch succeeds.
    const run = await processLaunch({ ...deps(), lockMs: 30_000 }, readded!);
    expect(run.outcome).not.toBe('skipped');
    expect((await createLaunchStore(ctx).get(launchId))?.status).toBe('succeeded');
    expect(recorded.creates.filter((n) => n === name)).toHaveLength(1);
    expect(failuresOf(launchId)).toEqual({ audit: [], events: [] });
    await readded!.remove();
  });

  it('a worker that begins a launch the sweep has claimed (not yet recorded) stops before CXone and announces nothing', async () => {
    const { launchId, name, config } = await submit();
    const queue = ctx.queues.launch;
    await queue.remove(launchId);
    const launches = createLaunchStore(ctx);
    const requestedAt = (await launches.get(launchId))!.requestedAt;
    recorded.audit.length = 0;
    recorded.events.length = 0;
    expect(await launches.claimUnbegunFailure(launchId, 'lost', 'sweep:test')).toMatchObject({
      kind: 'claimed',
    });
    const late = (await queue.add(
      LAUNCH_JOB,
      { launchId, config, actor: 'api:test', requestedAt },
      { jobId: launchId },
    )) as Job<LaunchJob>;
    await expect(processLaunch({ ...deps(), lockMs: 30_000 }, late)).rejects.toThrow(/failed: lost/);
    expect(recorded.creates).not.toContain(name);
    expect(failuresOf(launchId)).toEqual({ audit: [], events: [] });
    // The sweep's recorder still holds it and records it, once.
    expect(await launches.claimFailure(launchId, 'lost', 'sweep:test')).toMatchObject({ kind: 'claimed' });
    await late.remove();
    await launches.finish(launchId, { status: 'failed', error: 'lost' });
    expect(await indexed(launchId)).toBe(false);
  });

  it('keeps a launch without a job queued while its Idempotency-Key claim is live, and fails it once the claim lapses', async () => {
    const key = `lost-keyed-${Date.now()}`;
    const { launchId, name } = await submit({ idempotencyKey: key });
    // Never enqueued, as far as the queue knows (the API's enqueue failed and the client went away).
    await ctx.queues.launch.remove(launchId);
    const idemKey = ctx.keys.launchIdempotency(key);
    expect(await stack.redis.ttl(idemKey)).toBeGreaterThan(23 * 3600);
    recorded.audit.length = 0;
    recorded.events.length = 0;

    const kept = await sweepLostLaunches(deps(), { nowMs: Date.now() + GRACE_MS });
    expect(kept).toMatchObject({ scanned: 1, settled: [], keptForRetry: [launchId], stopped: false });
    expect((await createLaunchStore(ctx).get(launchId))?.status).toBe('queued');
    expect(await indexed(launchId)).toBe(true);
    expect(failuresOf(launchId)).toEqual({ audit: [], events: [] });

    // The claim lapses (its 24 h, made short here).
    await stack.redis.pexpire(idemKey, 50);
    await waitFor('the claim to lapse', async () => (await stack.redis.exists(idemKey)) === 0, 5_000, 20);

    const swept = await sweepLostLaunches(deps(), { nowMs: Date.now() + GRACE_MS });
    expect(swept).toMatchObject({ settled: [launchId], keptForRetry: [] });
    const launch = await createLaunchStore(ctx).get(launchId);
    expect(launch?.status).toBe('failed');
    expect(launch?.error).toMatch(/never enqueued.*Idempotency-Key.*claim lapsed; nothing was sent to CXone/);
    expect(await indexed(launchId)).toBe(false);
    const { audit, events } = failuresOf(launchId);
    expect(audit).toHaveLength(1);
    expect(events).toHaveLength(1);
    expect(recorded.creates).not.toContain(name);
  });

  it('a launch whose key was claimed again by a new launch after it lapsed is failed; the new one is kept', async () => {
    const key = `lost-reclaimed-${Date.now()}`;
    const first = await submit({ idempotencyKey: key });
    await ctx.queues.launch.remove(first.launchId);
    // The claim lapsed, and a new request took the key for a new launch (whose enqueue failed too).
    await stack.redis.del(ctx.keys.launchIdempotency(key));
    const second = await submit({ idempotencyKey: key });
    expect(second.launchId).not.toBe(first.launchId);
    await ctx.queues.launch.remove(second.launchId);

    const swept = await sweepLostLaunches(deps(), { nowMs: Date.now() + GRACE_MS });
    expect(swept.settled).toEqual([first.launchId]);
    expect(swept.keptForRetry).toEqual([second.launchId]);
    // Cleaned up for the next tests.
    await stack.redis.del(ctx.keys.launchIdempotency(key));
    expect((await sweepLostLaunches(deps(), { nowMs: Date.now() + GRACE_MS })).settled).toEqual([
      second.launchId,
    ]);
  });

  it('never touches a launch whose job still waits or is delayed in the queue, however old', async () => {
    const waiting = await submit();
    const delayed = await submit();
    const queue = ctx.queues.launch;
    const job = (await queue.getJob(delayed.launchId))!;
    await job.remove();
    await queue.add(LAUNCH_JOB, job.data as LaunchJob, { jobId: delayed.launchId, delay: 3_600_000 });
    const launches = createLaunchStore(ctx);
    const before = await Promise.all([launches.get(waiting.launchId), launches.get(delayed.launchId)]);
    recorded.audit.length = 0;
    recorded.events.length = 0;

    const swept = await sweepLostLaunches(deps(), { nowMs: Date.now() + 7 * 24 * 3600_000 });
    expect(swept).toMatchObject({ scanned: 2, settled: [], keptForRetry: [], dropped: [], stopped: false });
    const after = await Promise.all([launches.get(waiting.launchId), launches.get(delayed.launchId)]);
    expect(after).toEqual(before);
    expect(after.map((l) => l?.status)).toEqual(['queued', 'queued']);
    expect(await queue.getJobState(waiting.launchId)).toBe('waiting');
    expect(await queue.getJobState(delayed.launchId)).toBe('delayed');
    expect(await indexed(waiting.launchId)).toBe(true);
    expect(recorded.audit).toEqual([]);
    expect(recorded.events).toEqual([]);

    // Cleaned up: once their jobs are gone, the sweep fails them.
    await queue.remove(waiting.launchId);
    await queue.remove(delayed.launchId);
    const cleaned = await sweepLostLaunches(deps(), { nowMs: Date.now() + GRACE_MS });
    expect(cleaned.settled.sort()).toEqual([waiting.launchId, delayed.launchId].sort());
  });

  it('only takes out an index entry whose launch record is gone or no longer queued', async () => {
    const launches = createLaunchStore(ctx);
    const running = await submit();
    await ctx.queues.launch.remove(running.launchId);
    // Begun by a worker of a release that did not keep the index: running, still indexed.
    await stack.redis.hset(ctx.keys.launch(running.launchId), 'status', 'running');
    const ghost = '00000000-0000-4000-8000-000000000000';
    await stack.redis.zadd(indexKey(), 1, ghost);
    recorded.events.length = 0;

    const swept = await sweepLostLaunches(deps(), { nowMs: Date.now() + GRACE_MS });
    expect(swept.settled).toEqual([]);
    expect(swept.dropped.sort()).toEqual([ghost, running.launchId].sort());
    expect((await launches.get(running.launchId))?.status).toBe('running');
    expect(await launches.get(ghost)).toBeNull();
    expect(recorded.events).toEqual([]);
    expect(await stack.redis.exists(indexKey())).toBe(0);
    await stack.redis.del(ctx.keys.launch(running.launchId));
  });

  it('goes round the index maxScan entries at a time, so old entries that stay do not hide a lost launch behind them', async () => {
    const staying = [await submit(), await submit(), await submit()];
    const lost = await submit();
    await ctx.queues.launch.remove(lost.launchId);
    const nowMs = Date.now() + GRACE_MS;
    // Two pages: the lost launch is on one of them (the index's order is requestedAt, then id).
    const first = await sweepLostLaunches(deps(), { nowMs, maxScan: 2 });
    expect(first.scanned).toBe(2);
    // A full page: the next sweep continues after it rather than reading the same head again.
    expect(await stack.redis.exists(lostLaunchSweepCursorKey(ctx.keys))).toBe(1);
    const second = await sweepLostLaunches(deps(), { nowMs, maxScan: 2 });
    expect(second.scanned).toBe(2);
    expect([...first.settled, ...second.settled]).toEqual([lost.launchId]);
    // Past the end: nothing read, and the one after starts at the head again.
    const third = await sweepLostLaunches(deps(), { nowMs, maxScan: 2 });
    expect(third).toMatchObject({ scanned: 0, settled: [] });
    expect(await stack.redis.exists(lostLaunchSweepCursorKey(ctx.keys))).toBe(0);
    const fourth = await sweepLostLaunches(deps(), { nowMs, maxScan: 2 });
    expect(fourth.scanned).toBe(2);
    // Cleaned up: their jobs gone, a sweep from the head fails them.
    await Promise.all(staying.map(({ launchId }) => ctx.queues.launch.remove(launchId)));
    await stack.redis.del(lostLaunchSweepCursorKey(ctx.keys));
    expect((await sweepLostLaunches(deps(), { nowMs })).settled).toHaveLength(3);
    expect(await stack.redis.exists(indexKey())).toBe(0);
  });

  it('runs beside the launch worker: the scheduled sweep fails a launch whose job was removed', async () => {
    const { launchId } = await submit();
    await ctx.queues.launch.remove(launchId);
    recorded.events.length = 0;
    const { launch, settled } = await failedByScheduledSweep(ctx, workers, 'lost', launchId);
    expect(launch.error).toMatch(/removed from the queue/);
    expect(settled).toEqual([launchId]);
    expect(failuresOf(launchId).events).toHaveLength(1);
  });
});
