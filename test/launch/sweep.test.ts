import { UnrecoverableError, Worker } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LAUNCH_JOB } from '../../src/producers/launch-submit.js';
import type { AuditInput } from '../../src/shared/audit/types.js';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import type { AppContext } from '../../src/shared/context.js';
import { toCreateCampaignRequest } from '../../src/shared/cxone/to-wire.js';
import { ACTIVATE_JOB, activateJobId, type LaunchJob } from '../../src/shared/jobs.js';
import { QUEUES } from '../../src/shared/keys.js';
import { createLaunchStore } from '../../src/shared/launch-store.js';
import {
  isAfterCursor,
  isLaunchJobId,
  launchSweepCursorKey,
  parseSweepCursor,
  sweepGivenUpLaunches,
  withLaunchSweep,
  type LaunchSweepResult,
} from '../../src/workers/launch-sweep.js';
import { createLaunchWorker } from '../../src/workers/launch-worker.js';
import { FAST_LOCKS, sandboxStatus, startStack, waitFor, type Stack } from '../e2e/stack.js';
import { lastAttemptLaunch } from './last-attempt.js';

/** What the fleet recorded while the test ran: its audit records and its events. */
interface Recorded {
  audit: AuditInput[];
  events: { type: string; data: Record<string, unknown> }[];
}

function recording(recorded: Recorded) {
  return (base: AppContext): Partial<AppContext> => {
    const audit = Object.create(base.audit) as AppContext['audit'] & {
      appendWithOutcome(input: AuditInput): Promise<unknown>;
    };
    const realAudit = base.audit as typeof audit;
    audit.appendWithOutcome = async (input: AuditInput) => {
      recorded.audit.push(input);
      return realAudit.appendWithOutcome(input);
    };
    const events = Object.create(base.events) as AppContext['events'];
    events.publish = async (...args: Parameters<AppContext['events']['publish']>) => {
      recorded.events.push({ type: args[0], data: args[2] as Record<string, unknown> });
      return base.events.publish(...args);
    };
    return { audit, events };
  };
}

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
    stack = await startStack({ api: false, ctxOverrides: recording(recorded) });
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
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const holder = new Worker(QUEUES.launch, () => gate, {
      connection: ctx.redis,
      prefix: ctx.keys.prefix,
      concurrency: 1,
    });
    workers.push(holder);
    await waitFor(
      'the job to be active',
      async () => (await queue.getJobState(active.launchId)) === 'active',
    );
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
    const launch = await waitFor(
      'the sweep to settle the launch',
      async () => {
        const l = await launches.get(cutOff.launchId);
        return l?.status === 'failed' ? l : undefined;
      },
      intervalMs * 5,
      20,
    );
    expect(launch).toMatchObject({ cancelled: true, campaignStatus: 'cancelled' });
    // A few more turns: no process settles it again.
    await new Promise((r) => setTimeout(r, intervalMs * 3));
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
});
