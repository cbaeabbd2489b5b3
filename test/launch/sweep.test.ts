import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LAUNCH_JOB } from '../../src/producers/launch-submit.js';
import type { AuditInput } from '../../src/shared/audit/types.js';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import type { AppContext } from '../../src/shared/context.js';
import { toCreateCampaignRequest } from '../../src/shared/cxone/to-wire.js';
import { CXONE_ENDPOINTS } from '../../src/shared/cxone/wire.js';
import { ACTIVATE_JOB, activateJobId, type LaunchJob } from '../../src/shared/jobs.js';
import { QUEUES } from '../../src/shared/keys.js';
import { createLaunchStore } from '../../src/shared/launch-store.js';
import {
  isAfterCursor,
  isLaunchJobId,
  launchSweepCursorKey,
  launchSweepLeaseKey,
  parseSweepCursor,
  sweepGivenUpLaunches,
  takeLaunchSweepLease,
  withLaunchSweep,
  type LaunchSweepResult,
} from '../../src/workers/launch-sweep.js';
import { createLaunchWorker, finishGivenUpLaunch, processLaunch } from '../../src/workers/launch-worker.js';
import { FAST_LOCKS, sandboxStatus, startStack, waitFor, type Stack } from '../e2e/stack.js';
import { scriptFaults } from '../support/sandbox-faults.js';
import { lastAttemptLaunch } from './last-attempt.js';
import { recording, type Recorded } from './recording.js';
import { holdLaunchJob } from './sweep-helpers.js';

/** Runs once, when the next CXone read of a campaign (a failure's cleanup, first) has answered. */
let afterGetCampaign: (() => Promise<void>) | undefined;

/**
 * A launch whose worker got as far as creating its campaign, then died: the job is failed for good by
 * a worker that records nothing — what a kill, or a forced close, leaves of the `failed` handler.
 */
async function cutOffLaunch(stack: Stack): Promise<{ launchId: string; campaignId: string }> {
  const { launchId, job } = await lastAttemptLaunch(stack.ctx);
  const launches = createLaunchStore(stack.ctx);
  await launches.begin(launchId);
  const created = await stack.ctx.cxone.createCampaign(
    toCreateCampaignRequest((job.data as LaunchJob).config),
  );
  await launches.recordCreated(launchId, created.id, created.version);
  return { launchId, campaignId: created.id };
}

/** Fails every job now waiting in the launch queue, recording nothing (no launch worker's handlers). */
async function failWaitingJobs(stack: Stack, ids: string[]): Promise<void> {
  const killer = new Worker(
    QUEUES.launch,
    async () => {
      throw new UnrecoverableError('worker killed mid-run');
    },
    { connection: stack.ctx.redis, prefix: stack.ctx.keys.prefix },
  );
  try {
    await waitFor('the jobs to fail', async () => {
      const states = await Promise.all(ids.map((id) => stack.ctx.queues.launch.getJobState(id)));
      return states.every((s) => s === 'failed');
    });
  } finally {
    await killer.close();
  }
}

describe('launch sweep: its pure parts', () => {
  it('tells launch jobs from activations, and orders entries after the cursor', () => {
    expect(isLaunchJobId('0f8fad5b-d9cb-469f-a165-70867728950e')).toBe(true);
    expect(isLaunchJobId(activateJobId('c-1'))).toBe(false);
    expect(parseSweepCursor('1700:abc')).toEqual({ score: 1700, id: 'abc' });
    expect(parseSweepCursor('garbage')).toBeNull();
    expect(parseSweepCursor(null)).toBeNull();
    const cursor = { score: 10, id: 'b' };
    expect(isAfterCursor({ score: 10, id: 'b' }, cursor)).toBe(false);
    expect(isAfterCursor({ score: 10, id: 'a' }, cursor)).toBe(false);
    expect(isAfterCursor({ score: 10, id: 'c' }, cursor)).toBe(true);
    expect(isAfterCursor({ score: 9, id: 'z' }, cursor)).toBe(false);
    expect(isAfterCursor({ score: 11, id: 'a' }, cursor)).toBe(true);
  });
});

describe('launch sweep over real Redis and the sandbox', () => {
  const recorded: Recorded = { audit: [], events: [] };
  let stack: Stack;
  const workers: Worker[] = [];
  beforeAll(async () => {
    stack = await startStack({
      api: false,
      ctxOverrides: recording(recorded, (cxone) => ({
        getCampaign: async (...args: Parameters<AppContext['cxone']['getCampaign']>) => {
          const campaign = await cxone.getCampaign(...args);
          const hook = afterGetCampaign;
          afterGetCampaign = undefined;
          await hook?.();
          return campaign;
        },
      })),
    });
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.close(true)));
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('settles a launch whose given-up handling was cut off, after the grace; waiting, active and delayed ones are never touched', async () => {
    const { ctx } = stack;
    const launches = createLaunchStore(ctx);
    const deps = { ctx, launches, campaigns: createCampaignStore(ctx) };
    const queue = ctx.queues.launch;

    const cutOff = await cutOffLaunch(stack);
    // A launch whose processor recorded its failure: its failed job is nothing left to do.
    const recordedFailure = await lastAttemptLaunch(ctx);
    await launches.begin(recordedFailure.launchId);
    await launches.finish(recordedFailure.launchId, { status: 'failed', error: 'CXone said no' });
    // An activation that failed for good: not a launch job, never looked up as one.
    const activation = activateJobId('campaign-of-another-launch');
    await queue.add(
      ACTIVATE_JOB,
      { launchId: 'other', campaignId: 'campaign-of-another-launch', actor: 'test' },
      { jobId: activation },
    );
    await failWaitingJobs(stack, [cutOff.launchId, recordedFailure.launchId, activation]);
    const failedAt = (await queue.getJob(cutOff.launchId))!.finishedOn!;

    // Launches whose job is still the fleet's to run: active (held by a worker), waiting, delayed.
    const active = await lastAttemptLaunch(ctx);
    const { release } = await holdLaunchJob(ctx, active.launchId, workers);
    const waiting = await lastAttemptLaunch(ctx);
    const delayed = await lastAttemptLaunch(ctx);
    await queue.remove(delayed.launchId);
    await queue.add(LAUNCH_JOB, delayed.job.data as LaunchJob, { jobId: delayed.launchId, delay: 3_600_000 });
    for (const { launchId } of [active, waiting, delayed]) await launches.begin(launchId);
    const untouched = [active, waiting, delayed];
    const before = await Promise.all(untouched.map(({ launchId }) => launches.get(launchId)));
    expect(before.map((l) => l?.status)).toEqual(['running', 'running', 'running']);
    recorded.audit.length = 0;
    recorded.events.length = 0;

    const graceMs = 60_000;
    // Within the grace the `failed` handler may still be recording it: left alone.
    const early = await sweepGivenUpLaunches(deps, { nowMs: failedAt + graceMs - 1, graceMs });
    expect(early.settled).toEqual([]);
    expect((await launches.get(cutOff.launchId))?.status).toBe('running');

    const swept = await sweepGivenUpLaunches(deps, { nowMs: Date.now() + graceMs, graceMs });
    expect(swept.settled).toEqual([cutOff.launchId]);
    const launch = await launches.get(cutOff.launchId);
    expect(launch).toMatchObject({
      status: 'failed',
      campaignId: cutOff.campaignId,
      cancelled: true,
      campaignStatus: 'cancelled',
    });
    expect(launch?.error).toMatch(/given up: worker killed mid-run .*settled by the launch sweep/);
    expect(sandboxStatus(stack.sandbox, cutOff.campaignId)).toBe('cancelled');
    expect(await launches.launchOfCampaign(cutOff.campaignId)).toBeNull();
    expect(recorded.audit.filter((a) => a.action === 'launch_failed')).toEqual([
      expect.objectContaining({
        campaignId: cutOff.campaignId,
        details: expect.objectContaining({ launchId: cutOff.launchId, cancelledOnCxone: true }),
      }),
    ]);
    expect(recorded.events.filter((e) => e.type === 'campaign.launch.failed')).toEqual([
      expect.objectContaining({
        data: expect.objectContaining({ launchId: cutOff.launchId, cancelled: true }),
      }),
    ]);
    expect((await launches.get(recordedFailure.launchId))?.error).toBe('CXone said no');

    // Never touched: same records, same job states.
    const after = await Promise.all(untouched.map(({ launchId }) => launches.get(launchId)));
    expect(after).toEqual(before);
    expect(await Promise.all(untouched.map(({ launchId }) => queue.getJobState(launchId)))).toEqual([
      'active',
      'waiting',
      'delayed',
    ]);

    // The cursor is past what it settled: the next sweep reads nothing again.
    const again = await sweepGivenUpLaunches(deps, { nowMs: Date.now() + graceMs, graceMs });
    expect(again).toEqual({ scanned: 0, settled: [], stopped: false });
    expect(recorded.events.filter((e) => e.type === 'campaign.launch.failed')).toHaveLength(1);

    release();
    await waitFor(
      'the held job to finish',
      async () => (await queue.getJobState(active.launchId)) !== 'active',
    );
    await queue.remove(delayed.launchId);
    await queue.remove(waiting.launchId);
  });

  it('runs beside the launch worker: several processes sweeping settle a cut-off launch once, within the interval', async () => {
    const { ctx } = stack;
    const launches = createLaunchStore(ctx);
    const cutOff = await cutOffLaunch(stack);
    await failWaitingJobs(stack, [cutOff.launchId]);
    recorded.events.length = 0;

    const intervalMs = 200;
    const sweeps: LaunchSweepResult[] = [];
    for (let i = 0; i < 3; i++) {
      workers.push(
        withLaunchSweep(ctx, createLaunchWorker(ctx, FAST_LOCKS), {
          intervalMs,
          graceMs: 0,
          onSwept: (result) => sweeps.push(result),
        }),
      );
    }
    // Waited for as long as a loaded machine needs, not a second of wall clock: these sweeps run every
    // 200 ms, so one that ignored its interval (the default's is a minute) still never settles it here.
    const launch = await waitFor(
      'the sweep to settle the launch',
      async () => {
        const l = await launches.get(cutOff.launchId);
        return l?.status === 'failed' ? l : undefined;
      },
      undefined,
      20,
    );
    expect(launch).toMatchObject({ cancelled: true, campaignStatus: 'cancelled' });
    // The turn that settled it reports once its whole pass is done; then three more turns, however
    // long they take, in which no process settles it again.
    const settledAt = await waitFor('the sweep that settled it to report', async () => {
      const at = sweeps.findIndex((s) => s.settled.includes(cutOff.launchId));
      return at >= 0 ? at + 1 : undefined;
    });
    await waitFor('three more sweeps', async () => sweeps.length >= settledAt + 3, undefined, 20);
    expect(recorded.events.filter((e) => e.type === 'campaign.launch.failed')).toHaveLength(1);
    expect(sweeps.flatMap((s) => s.settled)).toEqual([cutOff.launchId]);
    await Promise.all(workers.splice(0).map((w) => w.close()));
    expect(await stack.redis.exists(launchSweepCursorKey(ctx.keys))).toBe(1);
  });

  it('stops before a settlement once its worker is closing, leaving the launch to the next sweep', async () => {
    const { ctx } = stack;
    const launches = createLaunchStore(ctx);
    const deps = { ctx, launches, campaigns: createCampaignStore(ctx) };
    await stack.redis.del(launchSweepCursorKey(ctx.keys));
    const cutOff = await cutOffLaunch(stack);
    await failWaitingJobs(stack, [cutOff.launchId]);
    const nowMs = Date.now() + 1;
    const stopped = await sweepGivenUpLaunches(deps, { nowMs, graceMs: 0, mayContinue: async () => false });
    expect(stopped).toMatchObject({ settled: [], stopped: true });
    expect((await launches.get(cutOff.launchId))?.status).toBe('running');
    const next = await sweepGivenUpLaunches(deps, { nowMs, graceMs: 0 });
    expect(next.settled).toEqual([cutOff.launchId]);
  });

  it("takes the holder's next turn over its own lease; any other process finds it held until it lapses", async () => {
    const { ctx } = stack;
    const key = launchSweepLeaseKey(ctx.keys);
    await stack.redis.del(key);
    const intervalMs = 10_000;
    const first = await takeLaunchSweepLease(ctx.redis, ctx.keys, intervalMs);
    expect(first).not.toBeNull();
    await first!.end();
    // The turn still runs (the holder's next tick comes a round trip before it lapses).
    expect(await stack.redis.pttl(key)).toBeGreaterThan(intervalMs - 1_000);
    expect(await takeLaunchSweepLease(ctx.redis, ctx.keys, intervalMs)).toBeNull();
    expect(
      await takeLaunchSweepLease(ctx.redis, ctx.keys, intervalMs, Date.now, 'another-process'),
    ).toBeNull();
    const next = await takeLaunchSweepLease(ctx.redis, ctx.keys, intervalMs, Date.now, first!.token);
    expect(next?.token).toBe(first!.token);
    // A sweep that ran past its turn frees the lease for whoever ticks next.
    const late = await takeLaunchSweepLease(ctx.redis, ctx.keys, 1, Date.now, first!.token);
    await new Promise((r) => setTimeout(r, 5));
    await late!.end();
    expect(await stack.redis.exists(key)).toBe(0);
  });

  it('sweeps once per interval across the fleet, one process or three; a dead holder blocks it only until its lease lapses', async () => {
    const { ctx } = stack;
    const key = launchSweepLeaseKey(ctx.keys);
    const intervalMs = 100;
    const wanted = 6;

    /** The fleet's sweeps (when each ended, under which turn) until `wanted` of them have run. */
    async function sweepsOf(processes: number) {
      await stack.redis.del(key);
      const sweeps: { at: number; token: string }[] = [];
      const started = Date.now();
      const fleet = Array.from({ length: processes }, () =>
        withLaunchSweep(ctx, createLaunchWorker(ctx, FAST_LOCKS), {
          intervalMs,
          graceMs: 0,
          onSwept: (_result, { token }) => sweeps.push({ at: Date.now() - started, token }),
        }),
      );
      workers.push(...fleet);
      // However slow a loaded machine makes the ticks, it gets there.
      await waitFor(`${wanted} sweeps`, async () => sweeps.length >= wanted, 15_000, 20);
      const elapsed = Date.now() - started;
      await Promise.all(fleet.map((w) => w.close()));
      workers.length = 0;
      return { sweeps, elapsed };
    }

    // Causal, not counted against the clock (a loaded CI machine delays and skips ticks): a fleet of
    // one takes every turn over its own lease, so each sweep runs under the same token; a holder that
    // found its own lease held would skip that tick and come back only once it had lapsed, under a new
    // token.
    const alone = await sweepsOf(1);
    expect(new Set(alone.sweeps.map((s) => s.token)).size, JSON.stringify(alone.sweeps)).toBe(1);
    // And never more than once per interval, one process or three: ticks that come late only make
    // fewer sweeps, so this bound holds under load (one interval of slack for the first and last).
    for (const { sweeps, elapsed } of [alone, await sweepsOf(3)]) {
      expect(sweeps.length, JSON.stringify(sweeps)).toBeLessThanOrEqual(Math.floor(elapsed / intervalMs) + 2);
    }

    // A process that died mid-sweep left its lease: nobody sweeps until it lapses, then someone does.
    const leftMs = 400;
    const started = Date.now();
    await stack.redis.set(key, 'a-dead-process', 'PX', leftMs);
    const times: number[] = [];
    workers.push(
      withLaunchSweep(ctx, createLaunchWorker(ctx, FAST_LOCKS), {
        intervalMs,
        graceMs: 0,
        onSwept: () => times.push(Date.now() - started),
      }),
    );
    await waitFor('a sweep', async () => times.length > 0, 15_000, 10);
    expect(times[0]).toBeGreaterThanOrEqual(leftMs);
  });

  describe("a `failed` handler and the sweep recording one launch's failure at once: one announces it", () => {
    const launchFailures = (launchId: string) => ({
      audit: recorded.audit.filter(
        (a) => a.action === 'launch_failed' && (a.details as { launchId?: string }).launchId === launchId,
      ),
      events: recorded.events.filter(
        (e) => e.type === 'campaign.launch.failed' && e.data.launchId === launchId,
      ),
    });

    /** A cut-off launch whose job sits failed, and the handler's and the sweep's ways to record it. */
    async function bothRecorders(handlerLeaseMs?: number) {
      const { ctx } = stack;
      await stack.redis.del(launchSweepCursorKey(ctx.keys));
      const cutOff = await cutOffLaunch(stack);
      await failWaitingJobs(stack, [cutOff.launchId]);
      const job = (await ctx.queues.launch.getJob(cutOff.launchId))!;
      const stalled = new Error('job stalled more than allowable limit');
      const handlerDeps = {
        ctx,
        launches: createLaunchStore({ ...ctx, failureRecorderLeaseMs: handlerLeaseMs }),
        campaigns: createCampaignStore(ctx),
      };
      const sweepDeps = { ctx, launches: createLaunchStore(ctx), campaigns: createCampaignStore(ctx) };
      return {
        ...cutOff,
        handler: () => finishGivenUpLaunch(handlerDeps, job, stalled),
        sweep: () => sweepGivenUpLaunches(sweepDeps, { nowMs: Date.now() + 1, graceMs: 0 }),
      };
    }

    /** Holds the next failure's cleanup (its CXone read) until the returned release is called. */
    function holdNextCleanup(): { reached: Promise<void>; release: () => void } {
      let reach!: () => void;
      let release!: () => void;
      const reached = new Promise<void>((r) => (reach = r));
      const gate = new Promise<void>((r) => (release = r));
      afterGetCampaign = async () => {
        reach();
        await gate;
      };
      return { reached, release };
    }

    it('the handler first: the sweep finds the failure held, says nothing and comes back to it', async () => {
      const { launchId, handler, sweep } = await bothRecorders();
      const hold = holdNextCleanup();
      const handling = handler();
      await hold.reached;
      const meanwhile = await sweep();
      expect(meanwhile).toMatchObject({ settled: [], stopped: true });
      hold.release();
      expect(await handling).toBe(true);
      expect(await sweep()).toMatchObject({ settled: [], stopped: false });
      expect((await createLaunchStore(stack.ctx).get(launchId))?.status).toBe('failed');
      const { audit, events } = launchFailures(launchId);
      expect(audit).toHaveLength(1);
      expect(events).toHaveLength(1);
    });

    /**
     * A handler slower than its lease: it holds the launch and waits on its cleanup past the lease;
     * the sweep takes the failure over and settles it. The handler is left held (`hold.release()`).
     */
    async function sweepOvertakesSlowHandler() {
      const handlerLeaseMs = 50;
      const both = await bothRecorders(handlerLeaseMs);
      const hold = holdNextCleanup();
      const handling = both.handler();
      await hold.reached;
      await new Promise((r) => setTimeout(r, handlerLeaseMs * 2));
      expect((await both.sweep()).settled).toEqual([both.launchId]);
      return { ...both, hold, handling };
    }

    it('the sweep first: the handler finds the failure held and says nothing', async () => {
      const { launchId, handler, sweep } = await bothRecorders();
      const hold = holdNextCleanup();
      const sweeping = sweep();
      await hold.reached;
      expect(await handler()).toBe(false);
      hold.release();
      expect((await sweeping).settled).toEqual([launchId]);
      expect(await handler()).toBe(false);
      const { audit, events } = launchFailures(launchId);
      expect(audit).toHaveLength(1);
      expect(events).toHaveLength(1);
    });

    it('a handler slower than its lease: the sweep takes the failure over and announces it; the handler, back, says nothing', async () => {
      const { launchId, campaignId, hold, handling } = await sweepOvertakesSlowHandler();
      hold.release();
      expect(await handling).toBe(false);
      expect(await createLaunchStore(stack.ctx).get(launchId)).toMatchObject({
        status: 'failed',
        cancelled: true,
      });
      expect(sandboxStatus(stack.sandbox, campaignId)).toBe('cancelled');
      const { audit, events } = launchFailures(launchId);
      expect(audit).toHaveLength(1);
      expect(events).toHaveLength(1);
    });

    it('a handler slower than its lease whose cancel then fails: it queues no stop for the campaign the sweep already cancelled', async () => {
      const { launchId, campaignId, hold, handling } = await sweepOvertakesSlowHandler();
      expect(sandboxStatus(stack.sandbox, campaignId)).toBe('cancelled');
      // CXone refuses the handler's late cancel (its If-Match write), as it would while failing.
      await scriptFaults(stack.sandbox, {
        failNext: 1,
        status: 503,
        endpoint: CXONE_ENDPOINTS.updateCampaign,
      });
      hold.release();
      expect(await handling).toBe(false);
      const stops = (
        await stack.ctx.queues.adjust.getJobs(['waiting', 'delayed', 'prioritized', 'active'])
      ).filter((j) => (j.data as { campaignId?: string }).campaignId === campaignId);
      expect(stops).toEqual([]);
      const launch = await createLaunchStore(stack.ctx).get(launchId);
      expect(launch).toMatchObject({ status: 'failed', cancelled: true, campaignStatus: 'cancelled' });
      expect(launch?.cancelCommandId).toBeUndefined();
      const { audit, events } = launchFailures(launchId);
      expect(audit).toHaveLength(1);
      expect(events).toHaveLength(1);
    });

    it("a run that lost its job's lock mid-failure says nothing: the given-up handler that took the job over announces it once", async () => {
      const { ctx } = stack;
      // A launch that created its campaign; its job is run by hand under a lock token (run A).
      const { launchId, job } = await lastAttemptLaunch(ctx);
      const launches = createLaunchStore(ctx);
      await launches.begin(launchId);
      const created = await ctx.cxone.createCampaign(toCreateCampaignRequest((job.data as LaunchJob).config));
      await launches.recordCreated(launchId, created.id, created.version);
      const runner = new Worker(QUEUES.launch, null, { connection: ctx.redis, prefix: ctx.keys.prefix });
      workers.push(runner);
      const token = 'run-a';
      const active = (await runner.getNextJob(token))!;
      expect(active.id).toBe(launchId);
      Object.assign(active, { attemptsMade: job.attemptsMade });

      // Run A: CXone refuses its read for good, and its failure's cleanup is held (its worker stalls).
      const hold = holdNextCleanup();
      let reads = 0;
      const ctxA: AppContext = {
        ...ctx,
        cxone: {
          ...ctx.cxone,
          getCampaign: async (...args: Parameters<AppContext['cxone']['getCampaign']>) => {
            if (++reads === 1) throw new UnrecoverableError('CXone refused the read');
            return ctx.cxone.getCampaign(...args);
          },
        },
      };
      const runA = processLaunch(
        { ctx: ctxA, launches, campaigns: createCampaignStore(ctx), lockMs: 30_000 },
        active,
        token,
      ).catch(() => undefined);
      await hold.reached;

      // Meanwhile BullMQ gave the job up (its lock lapsed): another worker's `failed` handler records
      // the failure, under the same recorder name, and is held at its audit record.
      await stack.redis.del(`${ctx.queues.launch.toKey(launchId)}:lock`);
      let auditReached!: () => void;
      let releaseAudit!: () => void;
      const atAudit = new Promise<void>((r) => (auditReached = r));
      const auditGate = new Promise<void>((r) => (releaseAudit = r));
      const heldAudit = Object.create(ctx.audit) as AppContext['audit'] & {
        appendWithOutcome(input: AuditInput): Promise<unknown>;
      };
      heldAudit.appendWithOutcome = async (input: AuditInput) => {
        if (input.action === 'launch_failed') {
          auditReached();
          await auditGate;
        }
        return (ctx.audit as typeof heldAudit).appendWithOutcome(input);
      };
      const givenUp = Object.assign(Object.create(active) as Job, {
        getState: async () => 'failed' as const,
      });
      const handling = finishGivenUpLaunch(
        { ctx: { ...ctx, audit: heldAudit }, launches, campaigns: createCampaignStore(ctx) },
        givenUp,
        new Error('job stalled more than allowable limit'),
      );
      await atAudit;

      // Run A wakes: it no longer owns its job, so it records and announces nothing.
      hold.release();
      await runA;
      releaseAudit();
      expect(await handling).toBe(true);
      expect(await launches.get(launchId)).toMatchObject({ status: 'failed', cancelled: true });
      expect(sandboxStatus(stack.sandbox, created.id)).toBe('cancelled');
      const { audit, events } = launchFailures(launchId);
      expect(audit).toHaveLength(1);
      expect(events).toHaveLength(1);
      await ctx.queues.launch.remove(launchId).catch(() => 0);
    });
  });
});
