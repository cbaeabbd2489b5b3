import type { Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUES } from '../../src/shared/keys.js';
import { tryAcquireCampaignLock } from '../../src/shared/lifecycle/lock.js';
import { jobDuration } from '../../src/shared/metrics.js';
import { createAdjustWorker } from '../../src/workers/adjust-worker.js';
import { createAuditWorker } from '../../src/workers/audit-worker.js';
import { createComplianceWorker } from '../../src/workers/compliance-worker.js';
import { api, campaignConfig, startStack, waitFor, waitForLaunch, type Stack } from '../e2e/stack.js';

/** The three values `cxo_job_duration_seconds{outcome}` takes on every queue (docs/operations.md). */
const RUN_OUTCOMES = ['completed', 'failed', 'delayed'];

async function outcomesOf(queue: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const v of (await jobDuration.get()).values) {
    if (v.metricName !== 'cxo_job_duration_seconds_count' || v.labels.queue !== queue) continue;
    counts.set(String(v.labels.outcome), v.value);
  }
  return counts;
}

/**
 * A dashboard that sums `outcome="completed"` over every queue must count launch and command runs
 * too: the launch and adjust workers label a run that finished `completed`, as the others do, whatever
 * the launch or the command came to (that is what cxo_launches_total and cxo_lifecycle_commands_total
 * say). Real Redis, the sandbox over HTTP, real workers.
 */
describe('job duration outcomes', () => {
  let stack: Stack;
  let adjust: Worker | undefined;
  beforeAll(async () => {
    stack = await startStack({ launchWorker: true });
  });
  afterAll(async () => {
    await adjust?.close();
    await stack?.close();
  });

  it('labels finished launch and command runs completed, and uses no other values', async () => {
    const launchesBefore = (await outcomesOf('launch')).get('completed') ?? 0;
    const reply = await api(stack, 'POST', '/v1/campaigns', { body: campaignConfig({ name: 'Labels' }) });
    const launch = await waitForLaunch(stack, String(reply.body.launchId));
    expect(launch).toMatchObject({ status: 'succeeded', campaignStatus: 'active' });
    await waitFor('the launch run to be measured', async () =>
      ((await outcomesOf('launch')).get('completed') ?? 0) > launchesBefore ? true : undefined,
    );

    adjust = createAdjustWorker(stack.ctx);
    const campaignId = String(launch.campaignId);
    const pause = await api(stack, 'POST', `/v1/campaigns/${campaignId}/actions`, {
      body: { action: 'pause' },
    });
    expect(pause.status).toBe(202);
    await waitFor('the pause command run to be measured', async () =>
      (await outcomesOf('adjust')).get('completed') ? true : undefined,
    );

    for (const queue of ['launch', 'adjust']) {
      for (const outcome of (await outcomesOf(queue)).keys()) expect(RUN_OUTCOMES, queue).toContain(outcome);
    }
  });

  it("counts a command's runs that wait for its campaign's lock as delayed", async () => {
    const reply = await api(stack, 'POST', '/v1/campaigns', { body: campaignConfig({ name: 'Locked' }) });
    const launch = await waitForLaunch(stack, String(reply.body.launchId));
    const campaignId = String(launch.campaignId);
    adjust ??= createAdjustWorker(stack.ctx);
    const delayedBefore = (await outcomesOf('adjust')).get('delayed') ?? 0;
    const completedBefore = (await outcomesOf('adjust')).get('completed') ?? 0;
    // Someone else (a poll's pacing turn, in production) holds the campaign's lock.
    const held = await tryAcquireCampaignLock({ ...stack.ctx, owner: 'test:holder' }, campaignId);
    expect(held).not.toBeNull();
    try {
      const pause = await api(stack, 'POST', `/v1/campaigns/${campaignId}/actions`, {
        body: { action: 'pause' },
      });
      expect(pause.status).toBe(202);
      await waitFor('a run turned away by the lock to be measured', async () =>
        ((await outcomesOf('adjust')).get('delayed') ?? 0) > delayedBefore ? true : undefined,
      );
      expect((await outcomesOf('adjust')).get('completed') ?? 0).toBe(completedBefore);
    } finally {
      await held!.release();
    }
    await waitFor('the command to run once the lock is free', async () =>
      ((await outcomesOf('adjust')).get('completed') ?? 0) > completedBefore ? true : undefined,
    );
  });

  it('fails, and counts as failed, a compliance or audit job whose name its worker does not know', async () => {
    const workers = [createComplianceWorker(stack.ctx), createAuditWorker(stack.ctx)];
    try {
      for (const queue of [QUEUES.compliance, QUEUES.audit] as const) {
        const failedBefore = (await outcomesOf(queue)).get('failed') ?? 0;
        const job = await stack.ctx.queues[queue].add('mystery', {});
        const state = await waitFor(`the ${queue} job to be refused`, async () => {
          const s = await stack.ctx.queues[queue].getJobState(job.id!);
          return s === 'failed' || s === 'completed' ? s : undefined;
        });
        expect(state, queue).toBe('failed');
        const failed = await stack.ctx.queues[queue].getJob(job.id!);
        expect(failed?.failedReason).toMatch(new RegExp(`unknown ${queue} job name "mystery"`));
        // Failed for good: no retry spent on a job no attempt can run.
        expect(failed?.attemptsMade).toBe(1);
        expect(((await outcomesOf(queue)).get('failed') ?? 0) - failedBefore, queue).toBe(1);
      }
    } finally {
      await Promise.all(workers.map((w) => w.close()));
    }
  });
});
