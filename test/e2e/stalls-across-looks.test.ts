import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Job } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditTrailStore } from '../../src/shared/audit/trail.js';
import { activateJobId } from '../../src/shared/jobs.js';
import { createLaunchWorker } from '../../src/workers/launch-worker.js';
import { startWorkers, type RunningWorkers } from '../../src/workers/index.js';
import { recordingLogger } from '../support/log-capture.js';
import {
  api,
  campaignConfig,
  FAST_LOCKS,
  sandboxStatus,
  startStack,
  testEnv,
  waitFor,
  waitForLaunch,
  type Stack,
} from './stack.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/held-launch-worker-process.ts', import.meta.url));

/**
 * BullMQ counts a job's stalls for the job's whole life and fails it once they pass maxStalledCount
 * (2). A scheduled campaign's `activate` job lives until the campaign's start — days or weeks of
 * looks, every 2 minutes, each of which moves the same job back to delayed. Three worker crashes
 * that each caught a different look (a rolling deploy past its deadline, an OOM kill, a node lost)
 * failed the job for good — "job stalled more than allowable limit" — and the campaign was never
 * activated, while every look in between had run to its end. The stall limit is meant for a run that
 * keeps killing its workers, so a look that ran to its end starts the count again.
 */
describe('an activation whose looks are cut short by worker crashes, one at a time', () => {
  let stack: Stack;
  const victims: ChildProcess[] = [];
  let rescuer: RunningWorkers | undefined;
  const launchIdOf = new Map<string, string>();

  beforeEach(async () => {
    stack = await startStack({ launchWorker: true });
  });
  afterEach(async () => {
    for (const child of victims.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    await rescuer?.close(2_000);
    rescuer = undefined;
    await stack.close();
  });

  /** A launch worker process that takes jobs only once told `run` (see the fixture). */
  async function spawnHeldWorker(): Promise<ChildProcess> {
    const proc = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
      env: { ...process.env, ...testEnv(stack.prefix, stack.sandbox.url) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    victims.push(proc);
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise<void>((resolve, reject) => {
      proc.stdout?.on('data', (d: Buffer) => {
        if (d.toString().includes('ready')) resolve();
      });
      proc.once('exit', (code) => reject(new Error(`worker process exited early (${code}): ${stderr}`)));
    });
    return proc;
  }

  async function activateJob(campaignId: string): Promise<Job> {
    const job = await stack.ctx.queues.launch.getJob(activateJobId(campaignId));
    if (!job) throw new Error(`no activate job for ${campaignId}`);
    return job;
  }

  /** The look due now runs in `victim`, which is killed while its read of the campaign is in flight. */
  async function crashDuringLook(victim: ChildProcess, campaignId: string): Promise<void> {
    stack.sandbox.setFaults({ latencyMs: 1_500 });
    await (await activateJob(campaignId)).promote();
    victim.stdin?.write('run\n');
    await waitFor(
      'the look to be taken by the worker process',
      async () => (await stack.ctx.queues.launch.getJobState(activateJobId(campaignId))) === 'active',
      10_000,
      20,
    );
    await kill(victim);
    stack.sandbox.setFaults({ latencyMs: 0 });
  }

  async function kill(victim: ChildProcess): Promise<void> {
    const exited = new Promise((r) => victim.once('exit', r));
    victim.kill('SIGKILL');
    await exited;
  }

  /**
   * A worker of this process takes the stalled look back and runs it to its end, which moves the job
   * back to delayed for the next look — or BullMQ fails it. Closed after, so the next look is the
   * next victim's.
   */
  async function recover(campaignId: string, logger = stack.ctx.logger): Promise<string> {
    const stalled: string[] = [];
    rescuer = await startWorkers({ ...stack.ctx, logger }, [
      [
        'launch',
        (c) => {
          const worker = createLaunchWorker(c, FAST_LOCKS);
          worker.on('stalled', (jobId) => stalled.push(jobId));
          return worker;
        },
      ],
    ]);
    const state = await waitFor(
      'the look to be taken back and to end',
      async () => {
        if (!stalled.includes(activateJobId(campaignId))) return undefined;
        const now = await stack.ctx.queues.launch.getJobState(activateJobId(campaignId));
        return now === 'delayed' || now === 'failed' ? now : undefined;
      },
      12_000,
      20,
    );
    await rescuer.close(2_000);
    rescuer = undefined;
    return state;
  }

  /**
   * A campaign launched to start in two days: scheduled, its `activate` job delayed until its next
   * look. Only the held processes and the rescuer take the looks from here on.
   */
  async function scheduledCampaign(name: string): Promise<string> {
    const start = new Date(Date.now() + 2 * 24 * 3600_000).toISOString();
    const reply = await api(stack, 'POST', '/v1/campaigns', {
      body: campaignConfig({ name, startDateTime: start }),
    });
    const launch = await waitForLaunch(stack, String(reply.body.launchId));
    expect(launch).toMatchObject({ status: 'succeeded', campaignStatus: 'scheduled' });
    await stack.workers?.close(2_000);
    launchIdOf.set(String(launch.campaignId), String(launch.launchId));
    return String(launch.campaignId);
  }

  it('is not failed for stalls when every look in between ran to its end', async () => {
    const campaignId = await scheduledCampaign('Scheduled, looked at');
    // Started side by side: a process takes seconds to start.
    const held = await Promise.all([spawnHeldWorker(), spawnHeldWorker(), spawnHeldWorker()]);

    const outcomes: string[] = [];
    for (const victim of held) {
      await crashDuringLook(victim, campaignId);
      outcomes.push(await recover(campaignId));
    }

    const job = await activateJob(campaignId);
    expect({ outcomes, failedReason: job.failedReason }).toEqual({
      outcomes: ['delayed', 'delayed', 'delayed'],
      failedReason: undefined,
    });
    expect(sandboxStatus(stack.sandbox, campaignId)).toBe('scheduled');
  }, 40_000);

  it('is still failed by the stall limit when one look keeps killing its workers', async () => {
    const campaignId = await scheduledCampaign('Scheduled, poison look');
    const held = await Promise.all([spawnHeldWorker(), spawnHeldWorker(), spawnHeldWorker()]);

    stack.sandbox.setFaults({ latencyMs: 1_500 });
    await (await activateJob(campaignId)).promote();
    let runs = 0;
    for (const victim of held) {
      // Each process takes the look its predecessor died in (its stall check hands it over).
      victim.stdin?.write('run\n');
      runs = await waitFor(
        'the look to be taken by the next worker process',
        async () => {
          const started = (await activateJob(campaignId)).attemptsStarted;
          return started > runs ? started : undefined;
        },
        10_000,
        20,
      );
      await kill(victim);
    }
    stack.sandbox.setFaults({ latencyMs: 0 });

    const { logger, lines } = recordingLogger();
    expect(await recover(campaignId, logger)).toBe('failed');
    expect((await activateJob(campaignId)).failedReason).toBe('job stalled more than allowable limit');
    // The stall line said the job was back in the queue; this one says it will not run again.
    expect(lines.filter((l) => l.msg.startsWith('job failed for good without running again'))).toEqual([
      expect.objectContaining({
        level: 50,
        worker: 'launch',
        jobId: activateJobId(campaignId),
        stalls: 3,
        maxStalledCount: 2,
      }),
    ]);
    // Recorded as any activation that failed for good: the launch no longer reads as waiting for a
    // start that will never come, and the trail says why.
    const launch = await waitFor(
      'the given-up activation to be recorded on its launch',
      async () => {
        const reply = await api(stack, 'GET', `/v1/launches/${launchIdOf.get(campaignId)}`);
        return reply.body.activationError ? reply.body : undefined;
      },
      5_000,
    );
    expect(launch.activationError).toMatch(
      /^job stalled more than allowable limit: the activation was given up/,
    );
    const trail = await (stack.ctx.audit as AuditTrailStore).list(campaignId);
    expect(trail.filter((r) => r.action === 'launch_failed').map((r) => r.details)).toEqual([
      expect.objectContaining({ stage: 'activation', reason: launch.activationError }),
    ]);
  }, 40_000);
});
