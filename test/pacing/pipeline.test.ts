import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SANDBOX_STALE_LIST_ID } from '../../src/sandbox/directory.js';
import type { AuditTrailStore } from '../../src/shared/audit/trail.js';
import type { CampaignResource } from '../../src/shared/cxone/wire.js';
import { getCommand } from '../../src/shared/lifecycle/enqueue.js';
import { QUEUES } from '../../src/shared/keys.js';
import { pacingDecisions } from '../../src/shared/metrics.js';
import { createAdjustWorker } from '../../src/workers/adjust-worker.js';
import { startWorkers, type RunningWorkers } from '../../src/workers/index.js';
import { createPollWorker } from '../../src/workers/poll-worker.js';
import { api, campaignConfig, startStack, waitFor, waitForLaunch, type Stack } from '../e2e/stack.js';

/**
 * Polling and pacing end to end over real HTTP and real Redis: a campaign launched through the API
 * is polled by its scheduler, the seed's threshold rule (deterministic here: the campaign dials the
 * sandbox's stale list, whose true contact rate is 0.15, far below 0.25) lowers its callRate, the
 * change travels through the lifecycle's adjust worker as a versioned PATCH, and stopping the
 * campaign removes its scheduler.
 */
describe('polling and pacing against the sandbox', () => {
  let stack: Stack;
  let workers: RunningWorkers;

  beforeAll(async () => {
    // 600× simulated time: each real second is ten minutes of dialing.
    stack = await startStack({ launchWorker: true, sandbox: { timeScale: 600, seed: 5 } });
    workers = await startWorkers(stack.ctx, [
      ['adjust', createAdjustWorker],
      ['poll', createPollWorker],
    ]);
  });
  afterAll(async () => {
    await workers?.close(2_000);
    await stack?.close();
  });

  const resourceOf = (id: string) =>
    (stack.sandbox.getCampaignState(id) as { resource: CampaignResource }).resource;

  it('polls, paces through versioned writes, records everything, and stops with the campaign', async () => {
    const reply = await api(stack, 'POST', '/v1/campaigns', {
      body: campaignConfig({
        name: 'Paced',
        // The sandbox answers at the list's contact rate, whatever the campaign declares.
        targetListId: SANDBOX_STALE_LIST_ID,
        dialerStrategy: { strategy: 'predictive', agentCapacity: 10, callRate: 0.3, answerRate: 0.15 },
        pacing: { strategy: 'threshold', pollIntervalMs: 1_000 },
      }),
    });
    expect(reply.status).toBe(202);
    const launch = await waitForLaunch(stack, String(reply.body.launchId));
    expect(launch.status).toBe('succeeded');
    const campaignId = String(launch.campaignId);
    // The version activation produced, as the launch recorded it; reading the sandbox here instead
    // would race the first poll, which may already have paced the campaign.
    const activeVersion = Number(launch.cxoneVersion);
    expect(activeVersion).toBeGreaterThanOrEqual(3);

    const scheduler = await stack.ctx.queues.poll.getJobScheduler(`poll:${campaignId}`);
    expect(scheduler?.every).toBe(1_000);

    // The first pacing change reaches CXone (the sandbox) as a new version with a lower callRate.
    const changed = await waitFor(
      'a pacing change to reach the sandbox',
      async () => {
        const r = resourceOf(campaignId);
        return r.dialerSettings.callRate < 0.3 ? r : undefined;
      },
      20_000,
    );
    expect(changed.version).toBeGreaterThan(activeVersion);
    expect(changed.dialerSettings.callRate).toBe(0.26);

    const audit = stack.ctx.audit as AuditTrailStore;
    const decisions = await waitFor('the pacing audit record', async () => {
      const list = (await audit.list(campaignId)).filter((r) => r.action === 'pacing_decision');
      return list.length > 0 ? list : undefined;
    });
    const first = decisions[0]!;
    expect(first.actor).toBe('worker:pacing');
    expect(first.details).toMatchObject({
      strategy: 'threshold',
      previousCallRate: 0.3,
      output: { callRate: 0.26 },
      direction: 'down',
      reason: 'answer rate below 0.25',
      commandReason: 'pacing',
    });
    const command = await waitFor('the pacing command to finish', async () => {
      const c = await getCommand(stack.ctx, String(first.details.commandId));
      return c && c.status !== 'queued' && c.status !== 'running' ? c : undefined;
    });
    expect(command).toMatchObject({ actor: 'worker:pacing', reason: 'pacing', status: 'succeeded' });

    // The API shows the stats, the efficiency score, the latest decision and the polling interval.
    const view = await waitFor('the campaign view with pacing', async () => {
      const r = await api(stack, 'GET', `/v1/campaigns/${campaignId}`);
      const pacing = r.body.pacing as { lastDecision?: unknown } | null;
      return pacing?.lastDecision && r.body.lastStats ? r.body : undefined;
    });
    expect(view.polling).toEqual({ effectiveIntervalMs: 1_000, desiredIntervalMs: 1_000 });
    expect((view.lastStats as { totalCalls: number }).totalCalls).toBeGreaterThan(0);
    expect((view.efficiency as { efficiencyScore: number }).efficiencyScore).toBeGreaterThanOrEqual(0);
    expect(view.pacing).toMatchObject({ strategy: 'threshold', lastAdjustment: { from: 0.3, to: 0.26 } });

    // Stopping the campaign (completed) removes its scheduler: polling follows the lifecycle.
    const stop = await api(stack, 'POST', `/v1/campaigns/${campaignId}/actions`, {
      body: { action: 'stop' },
    });
    expect(stop.status).toBe(202);
    await waitFor('the scheduler to be removed', async () =>
      (await stack.ctx.queues.poll.getJobScheduler(`poll:${campaignId}`)) ? undefined : true,
    );
    expect(resourceOf(campaignId).status).toBe('completed');
  });

  it('re-anchors a safe-started campaign on its measured answer rate, as a pacing decision through a command', async () => {
    const ups = async () =>
      (await pacingDecisions.get()).values.find(
        (v) => v.labels.strategy === 'abandonment-target' && v.labels.direction === 'up',
      )?.value ?? 0;
    const upsBefore = await ups();
    // A stale list (true contact rate 0.15) declared at the usual 0.35: started at one line per idle
    // agent, then moved to the start for what the statistics show.
    const reply = await api(stack, 'POST', '/v1/campaigns', {
      body: campaignConfig({
        name: 'Re-anchored',
        targetListId: SANDBOX_STALE_LIST_ID,
        dialerStrategy: { strategy: 'predictive', agentCapacity: 25, callRate: 0.9, answerRate: 0.35 },
        pacing: { strategy: 'abandonment-target', pollIntervalMs: 1_000 },
      }),
    });
    expect(reply.status).toBe(202);
    const launch = await waitForLaunch(stack, String(reply.body.launchId));
    expect(launch.status).toBe('succeeded');
    const campaignId = String(launch.campaignId);

    const audit = stack.ctx.audit as AuditTrailStore;
    const reanchor = await waitFor(
      'the re-anchor decision',
      async () =>
        (await audit.list(campaignId)).find(
          (r) => r.action === 'pacing_decision' && String(r.details.reason).startsWith('re-anchor'),
        ),
      20_000,
    );
    expect(reanchor.actor).toBe('worker:pacing');
    const to = (reanchor.details.output as { callRate: number }).callRate;
    expect(reanchor.details).toMatchObject({
      strategy: 'abandonment-target',
      previousCallRate: 0.1,
      direction: 'up',
      commandReason: 'pacing',
      inputs: { declaredAnswerRate: 0.35, requestedCallRate: 0.9 },
    });
    const inputs = reanchor.details.inputs as Record<string, number>;
    // Erring high (answers counted now over the dials that surely rang out), never under the list's 0.15.
    expect(inputs.measuredAnswerRate).toBeGreaterThan(0.1);
    expect(inputs.measuredAnswerRate).toBeLessThan(0.35);
    expect(inputs.answerRateUpperBound).toBeGreaterThan(inputs.measuredAnswerRate!);
    expect(inputs.settledDials).toBeGreaterThanOrEqual(60);
    // Toward the start for the measured rate (at most the start a true 0.15 gives, 0.57), one move of
    // at most 0.15 above the safe start.
    expect(to).toBeLessThanOrEqual(inputs.startForMeasuredCallRate!);
    expect(to).toBeGreaterThan(0.1);
    expect(to).toBeLessThanOrEqual(0.25);
    // Counted once queueAdjustment returns, which is after the decision's audit record is readable.
    await waitFor(
      'the up decision counted',
      async () => ((await ups()) >= upsBefore + 1 ? true : undefined),
      5_000,
    );
    expect(await ups()).toBeGreaterThanOrEqual(upsBefore + 1);
    const command = await waitFor('the re-anchor command to finish', async () => {
      const c = await getCommand(stack.ctx, String(reanchor.details.commandId));
      return c && c.status !== 'queued' && c.status !== 'running' ? c : undefined;
    });
    expect(command).toMatchObject({ actor: 'worker:pacing', reason: 'pacing', status: 'succeeded' });

    const stop = await api(stack, 'POST', `/v1/campaigns/${campaignId}/actions`, {
      body: { action: 'stop' },
    });
    expect(stop.status).toBe(202);
    await waitFor('the scheduler to be removed', async () =>
      (await stack.ctx.queues.poll.getJobScheduler(`poll:${campaignId}`)) ? undefined : true,
    );
  });
  it('brings a paused campaign down to its safe start through a command, so the resume dials one line per idle agent', async () => {
    const reply = await api(stack, 'POST', '/v1/campaigns', {
      body: campaignConfig({
        name: 'Paused',
        dialerStrategy: { strategy: 'predictive', agentCapacity: 25, callRate: 0.1, answerRate: 0.35 },
        pacing: { strategy: 'abandonment-target', pollIntervalMs: 1_000 },
      }),
    });
    const launch = await waitForLaunch(stack, String(reply.body.launchId));
    expect(launch.status).toBe('succeeded');
    const campaignId = String(launch.campaignId);
    // An operator's rate, then their pause. No poll looks at the campaign between the two: at 600×
    // every real second of it dials ten minutes at 0.5 lines per idle agent, and a loaded machine's
    // seconds let the abandonment guard's pause (which drops the rate to the floor itself) land
    // first, leaving pacing no drop to make. Paused polls skip the guard, so polling resumes then.
    const poller = workers.workers.find((w) => w.name === QUEUES.poll)!;
    await poller.pause();
    // The queue too, for its resume's wake-up: a worker resumed alone restarts on a blocking wait for
    // a marker the scheduler's due job never sets, and polled again only after BullMQ's drainDelay (5 s
    // or more); resuming the queue sets that marker.
    await stack.ctx.queues.poll.pause();
    const patch = await api(stack, 'PATCH', `/v1/campaigns/${campaignId}`, {
      body: { dialerStrategy: { callRate: 0.5 } },
    });
    expect(patch.status).toBe(202);
    await waitFor('the operator rate on CXone', async () =>
      resourceOf(campaignId).dialerSettings.callRate === 0.5 ? true : undefined,
    );
    const pause = await api(stack, 'POST', `/v1/campaigns/${campaignId}/actions`, {
      body: { action: 'pause' },
    });
    expect(pause.status).toBe(202);
    await waitFor('the pause on CXone', async () =>
      resourceOf(campaignId).status === 'paused' ? true : undefined,
    );
    poller.resume();
    await stack.ctx.queues.poll.resume();

    const dropped = await waitFor(
      'the drop to the safe start while paused',
      async () => {
        const r = resourceOf(campaignId);
        return r.status === 'paused' && r.dialerSettings.callRate === 0.1 ? r : undefined;
      },
      20_000,
    );
    expect(dropped.dialerSettings.callRate).toBe(0.1);
    const audit = stack.ctx.audit as AuditTrailStore;
    const decision = await waitFor('the pacing audit record', async () =>
      (await audit.list(campaignId)).find(
        (r) => r.action === 'pacing_decision' && String(r.details.reason).startsWith('paused'),
      ),
    );
    expect(decision).toMatchObject({
      actor: 'worker:pacing',
      details: { previousCallRate: 0.5, output: { callRate: 0.1 }, direction: 'down' },
    });

    const stop = await api(stack, 'POST', `/v1/campaigns/${campaignId}/actions`, {
      body: { action: 'stop' },
    });
    expect(stop.status).toBe(202);
    await waitFor('the scheduler to be removed', async () =>
      (await stack.ctx.queues.poll.getJobScheduler(`poll:${campaignId}`)) ? undefined : true,
    );
  });
});
