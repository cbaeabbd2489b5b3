import type { Worker } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AuditTrailStore } from '../../src/shared/audit/trail.js';
import type { CampaignConfigInput } from '../../src/shared/campaign-config.js';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import { CXONE_ENDPOINTS } from '../../src/shared/cxone/wire.js';
import { enqueueCommand, getCommand } from '../../src/shared/lifecycle/enqueue.js';
import { createLaunchStore } from '../../src/shared/launch-store.js';
import { createAdjustWorker } from '../../src/workers/adjust-worker.js';
import { processLaunch } from '../../src/workers/launch-worker.js';
import { api, patchOnSandbox, sandboxStatus, startStack, waitFor, type Stack } from '../e2e/stack.js';
import { sandboxFaults, scriptFaults } from '../support/sandbox-faults.js';
import { lastAttemptLaunch, launchDeps } from './last-attempt.js';
import { expectWatched } from './watched.js';

/**
 * When CXone fails a failed launch's cleanup, the cancel is handed to the adjust queue as a `stop`,
 * which runs later — by then an operator may have started the draft in CXone's console. That stop
 * keeps the cleanup's rule: a running campaign with no campaign record (every activation of ours
 * syncs one first), or one marked started outside, is left running, and the launch and the trail say
 * so; a campaign the orchestrator activated is stopped, and an operator's own stop runs as asked.
 * Real Redis, the sandbox and the API over HTTP.
 */
/** Florida's recipients (its 20:00 close, stricter than the federal 21:00) and a zone keeping their clock. */
const FLORIDA = {
  complianceTimeZone: 'America/New_York',
  recipientStates: ['FL'],
  allowedCallTimes: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'] as const, start: '09:00', end: '20:00' }],
} as Partial<CampaignConfigInput>;

describe("the stop a failed launch's cleanup queued, for a campaign started outside the orchestrator since", () => {
  let stack: Stack;
  let adjust: Worker | undefined;
  beforeAll(async () => {
    stack = await startStack();
  });
  // Every test starts with no adjust worker: one left running would take the next test's stop early.
  afterEach(async () => {
    await adjust?.close();
    adjust = undefined;
  });
  afterAll(async () => {
    await stack?.close();
  });

  const deps = () => launchDeps(stack.ctx);

  /**
   * A last-attempt launch whose schedule write and whose cleanup's read meet CXone's 503: a stop queued,
   * and no campaign record (the launch never got to sync one). For Florida's recipients, which only the
   * launch's config names (CXone never sees them).
   */
  const failWithStopQueued = async () => {
    const { launchId, job } = await lastAttemptLaunch(stack.ctx, {}, FLORIDA);
    await scriptFaults(stack.sandbox, { failNext: 1, status: 503, endpoint: CXONE_ENDPOINTS.updateCampaign });
    await scriptFaults(stack.sandbox, { failNext: 1, status: 503, endpoint: CXONE_ENDPOINTS.getCampaign });
    await expect(processLaunch(deps(), job)).rejects.toThrow();
    expect((await sandboxFaults(stack.sandbox)).scripted, 'both faults fired').toEqual([]);
    const record = await createLaunchStore(stack.ctx).get(launchId);
    expect(record).toMatchObject({ status: 'failed', cancelled: false, cancelCommandId: expect.any(String) });
    const campaignId = String(record?.campaignId);
    expect(sandboxStatus(stack.sandbox, campaignId), 'the cleanup left its draft').toBe('draft');
    return { launchId, campaignId, stopId: String(record?.cancelCommandId) };
  };
  const stopFinished = (stopId: string) =>
    waitFor('the stop command to finish', async () => {
      const command = await getCommand(stack.ctx, stopId);
      return command && command.status !== 'queued' && command.status !== 'running' ? command : undefined;
    });

  it.each(['active', 'paused'] as const)(
    'leaves a draft an operator started (%s) before the stop ran, and says so on the launch and in the trail',
    async (status) => {
      const { launchId, campaignId, stopId } = await failWithStopQueued();
      // CXone answers again; before the stop gets to the campaign, an operator starts it in the console.
      expect((await patchOnSandbox(stack.sandbox, campaignId, { status: 'active' })).status).toBe(200);
      if (status === 'paused')
        expect((await patchOnSandbox(stack.sandbox, campaignId, { status: 'paused' })).status).toBe(200);

      adjust = createAdjustWorker(stack.ctx);
      const stop = await stopFinished(stopId);

      expect(sandboxStatus(stack.sandbox, campaignId)).toBe(status);
      expect(stop).toMatchObject({ status: 'failed', error: { kind: 'withdrawn' } });
      expect(stop?.error?.message).toContain(`campaign ${campaignId} was left ${status}, not cancelled`);
      const launches = createLaunchStore(stack.ctx);
      const launch = await launches.get(launchId);
      expect(launch).toMatchObject({
        status: 'failed',
        campaignId,
        cancelled: false,
        campaignStatus: status,
      });
      expect(launch?.cancelCommandId).toBeUndefined();
      expect(launch?.cleanupError).toContain('started outside the orchestrator');
      expect(launch?.cleanupError).toContain(stopId);
      expect(await launches.launchOfCampaign(campaignId)).toBeNull();
      const view = await api(stack, 'GET', `/v1/launches/${launchId}`);
      expect(view.body).toMatchObject({
        cancelled: false,
        campaignStatus: status,
        cleanupError: launch?.cleanupError,
      });
      expect(view.body).not.toHaveProperty('cancelCommandId');
      const trail = (await (stack.ctx.audit as AuditTrailStore).list(campaignId)).filter(
        (r) => r.action === 'launch_failed' && (r.details as { stage?: string }).stage === 'cleanup',
      );
      expect(trail).toHaveLength(1);
      expect(trail[0]?.details).toMatchObject({
        launchId,
        commandId: stopId,
        leftRunning: status,
        cleanupError: launch?.cleanupError,
        watched: true,
      });
      // Dialing (or able to, once resumed) with nobody's consent but the operator's: watched from now on.
      expect(launch?.cleanupError).toContain('it is watched');
      const record = await createCampaignStore(stack.ctx).get(campaignId);
      expect(record).toMatchObject({ launchId, status, startedOutside: { from: 'draft' } });
      // Watched by the launch's own config (from its campaign_created record), its state rules with it.
      expect(record?.config.recipientStates).toEqual(['FL']);
      await expectWatched(stack.ctx, campaignId);
    },
  );

  it('leaves running and watches a scheduled campaign an operator activated before the stop ran', async () => {
    const { launchId, campaignId, stopId } = await failWithStopQueued();
    // Scheduled, its record synced as a launch leaves it before an activation; then activated in the
    // console ahead of its start. No activating write of the orchestrator's was sent for it.
    await stack.ctx.cxone.updateCampaign(
      campaignId,
      (await stack.ctx.cxone.getCampaign(campaignId)).version,
      {
        status: 'scheduled',
      },
    );
    const campaigns = createCampaignStore(stack.ctx);
    await campaigns.syncFromCxone(await stack.ctx.cxone.getCampaign(campaignId), { launchId });
    expect((await patchOnSandbox(stack.sandbox, campaignId, { status: 'active' })).status).toBe(200);

    adjust = createAdjustWorker(stack.ctx);
    expect(await stopFinished(stopId)).toMatchObject({ status: 'failed', error: { kind: 'withdrawn' } });

    expect(sandboxStatus(stack.sandbox, campaignId)).toBe('active');
    expect(await campaigns.get(campaignId)).toMatchObject({ startedOutside: { from: 'scheduled' } });
    await expectWatched(stack.ctx, campaignId);
  });

  it('still stops the campaign the orchestrator activated (its record notes the activating write, no mark)', async () => {
    const { launchId, campaignId, stopId } = await failWithStopQueued();
    const before = await stack.ctx.cxone.getCampaign(campaignId);
    expect((await patchOnSandbox(stack.sandbox, campaignId, { status: 'active' })).status).toBe(200);
    // As an activation of ours leaves it: the record synced (its launch named), the activating write
    // noted before it was sent (activationSent), no startedOutside.
    const campaigns = createCampaignStore(stack.ctx);
    await campaigns.syncFromCxone(await stack.ctx.cxone.getCampaign(campaignId), {
      launchId,
      activationSent: before.version,
    });

    adjust = createAdjustWorker(stack.ctx);
    expect(await stopFinished(stopId)).toMatchObject({ status: 'succeeded' });
    expect(['cancelled', 'completed']).toContain(sandboxStatus(stack.sandbox, campaignId));
    const launch = await waitFor('the launch to note its stop', async () => {
      const now = await createLaunchStore(stack.ctx).get(launchId);
      return now?.cancelCommandId === undefined ? now : undefined;
    });
    expect(launch?.cleanupError).toBeUndefined();
  });

  it("runs an operator's own stop of a campaign marked started outside", async () => {
    const { launchId, campaignId, stopId } = await failWithStopQueued();
    expect((await patchOnSandbox(stack.sandbox, campaignId, { status: 'active' })).status).toBe(200);
    adjust = createAdjustWorker(stack.ctx);
    expect(await stopFinished(stopId)).toMatchObject({ status: 'failed', error: { kind: 'withdrawn' } });
    // Taken over as started outside (the mark a takeover writes), then stopped by an operator.
    const campaigns = createCampaignStore(stack.ctx);
    await campaigns.syncFromCxone(await stack.ctx.cxone.getCampaign(campaignId), {
      launchId,
      startedOutside: { at: new Date().toISOString(), from: 'draft' },
    });
    const { commandId } = await enqueueCommand(stack.ctx, {
      campaignId,
      actor: 'api:ops',
      reason: 'operator',
      action: 'stop',
    });
    expect(await stopFinished(commandId)).toMatchObject({ status: 'succeeded' });
    expect(['cancelled', 'completed']).toContain(sandboxStatus(stack.sandbox, campaignId));
  });
});
