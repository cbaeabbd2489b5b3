import type { Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobDuration } from '../../src/shared/metrics.js';
import { createAdjustWorker } from '../../src/workers/adjust-worker.js';
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
});
