import type { Worker } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AuditTrailStore } from '../../src/shared/audit/trail.js';
import type { AuditInput } from '../../src/shared/audit/types.js';
import { CXONE_ENDPOINTS } from '../../src/shared/cxone/wire.js';
import { createCommandStore } from '../../src/shared/lifecycle/commands.js';
import { getCommand } from '../../src/shared/lifecycle/enqueue.js';
import { createLaunchStore } from '../../src/shared/launch-store.js';
import { createAdjustWorker } from '../../src/workers/adjust-worker.js';
import { processLaunch } from '../../src/workers/launch-worker.js';
import { api, startStack, waitFor, type Stack } from '../e2e/stack.js';
import { scriptFaults } from '../support/sandbox-faults.js';
import { lastAttemptLaunch, launchDeps } from './last-attempt.js';

/**
 * A failed launch whose campaign CXone no longer knows (404): deleted from under it, or a CXone that
 * lost its state — a sandbox restarted, which keeps everything in memory. Nothing is left on CXone to
 * cancel, so the launch must not read "not cancelled, a stop pending" (cancelCommandId) for a stop
 * that can only meet the same 404 and fail at once; it says why in `cleanupError`, on the record and
 * in GET /v1/launches/{id}, as for a stale record's failed stop. Real Redis, the sandbox and the API
 * over HTTP; the sandbox's reset forgets every campaign as a restart does.
 */
describe('the cleanup of a failed launch whose campaign CXone no longer knows', () => {
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
  const sandboxControl = (path: string, body?: unknown) =>
    fetch(`${stack.sandbox.url}/__sandbox/${path}`, {
      method: 'POST',
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
  /** The campaign_missing records of the campaign's chain: who wrote them, and what they say. */
  const missingRecords = async (campaignId: string) =>
    (await (stack.ctx.audit as AuditTrailStore).list(campaignId))
      .filter((r) => r.action === 'campaign_missing')
      .map((r) => ({ actor: r.actor, details: r.details }));
  /** The cleanup error a 404 leaves, written out (not built by the code under test). */
  const goneText = (campaignId: string, stopId?: string) =>
    `${stopId ? `the stop ${stopId}` : 'the cancel'} failed (not_found: CXone answered 404 for campaign ${campaignId}: ` +
    "deleted outside the orchestrator or another tenant's; nothing was cancelled)";
  /** The record and GET /v1/launches/{id} both say why nothing was cancelled, and name no stop. */
  const expectGone = async (launchId: string, campaignId: string, stopId?: string) => {
    const record = await createLaunchStore(stack.ctx).get(launchId);
    expect(record).toMatchObject({
      status: 'failed',
      cancelled: false,
      cleanupError: goneText(campaignId, stopId),
    });
    expect(record?.cancelCommandId).toBeUndefined();
    const view = await api(stack, 'GET', `/v1/launches/${launchId}`);
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({
      status: 'failed',
      campaignId,
      cancelled: false,
      cleanupError: goneText(campaignId, stopId),
    });
    expect(view.body).not.toHaveProperty('cancelCommandId');
  };
  const stopsQueuedFor = async (campaignId: string) =>
    (await stack.ctx.queues.adjust.getJobs(['waiting', 'delayed', 'prioritized', 'active'])).filter(
      (j) => (j.data as { campaignId?: string }).campaignId === campaignId,
    );

  it('queues no stop when the cancel finds the campaign gone, and leaves no stop pending on the launch', async () => {
    // First attempt: the campaign is created, then its schedule PATCH gets a 503 (retried later).
    const { launchId, job } = await lastAttemptLaunch(stack.ctx, { attemptsMade: 0 });
    await scriptFaults(stack.sandbox, { failNext: 1, status: 503, endpoint: CXONE_ENDPOINTS.updateCampaign });
    await processLaunch(deps(), job).catch(() => undefined);
    const launches = createLaunchStore(stack.ctx);
    const running = await launches.get(launchId);
    expect(running).toMatchObject({ status: 'running', campaignId: expect.any(String) });
    const campaignId = String(running?.campaignId);

    // CXone forgets the campaign (a sandbox restart), and the retry meets its 404.
    expect((await sandboxControl('reset')).status).toBe(200);
    const retry = Object.assign(Object.create(job) as typeof job, { attemptsMade: 1 });
    await processLaunch(deps(), retry).catch(() => undefined);

    const record = await launches.get(launchId);
    expect(record).toMatchObject({ status: 'failed', campaignId, cancelled: false });
    expect(record?.error).toMatch(/not found on CXone/);
    expect(record?.cancelCommandId).toBeUndefined();
    expect(await stopsQueuedFor(campaignId)).toHaveLength(0);
    expect(await launches.launchOfCampaign(campaignId)).toBeNull();
    // The trail says why it was not cancelled, as for any 404 of a campaign: once.
    expect(await missingRecords(campaignId)).toEqual([
      { actor: 'worker:launch', details: { seenBy: 'cleanup', launchId } },
    ]);
    await expectGone(launchId, campaignId);
  });

  it('drops the pending stop from the launch when the stop queued for its cleanup finds the campaign gone', async () => {
    // Last attempt: the schedule PATCH and the cancel PATCH both get 503, so a stop is queued.
    const { launchId, job } = await lastAttemptLaunch(stack.ctx);
    await scriptFaults(stack.sandbox, { failNext: 2, status: 503, endpoint: CXONE_ENDPOINTS.updateCampaign });
    await processLaunch(deps(), job).catch(() => undefined);
    const launches = createLaunchStore(stack.ctx);
    const record = await launches.get(launchId);
    expect(record).toMatchObject({ status: 'failed', cancelled: false, cancelCommandId: expect.any(String) });
    const campaignId = String(record?.campaignId);
    const stopId = String(record?.cancelCommandId);

    // CXone comes back without the campaign before the stop runs.
    expect((await sandboxControl('reset')).status).toBe(200);
    adjust = createAdjustWorker(stack.ctx);
    const stop = await waitFor('the stop command to finish', async () => {
      const command = await getCommand(stack.ctx, stopId);
      return command && command.status !== 'queued' && command.status !== 'running' ? command : undefined;
    });
    expect(stop).toMatchObject({ status: 'failed', error: { kind: 'not_found' } });
    // The stop is over and there is nothing on CXone to stop: the launch no longer names it.
    const settled = await waitFor('the launch to drop its pending stop', async () => {
      const now = await launches.get(launchId);
      return now?.cancelCommandId === undefined ? now : undefined;
    });
    expect(settled).toMatchObject({ status: 'failed', campaignId, cancelled: false });
    expect(await launches.launchOfCampaign(campaignId)).toBeNull();
    // Written by the stop's worker just after it dropped the stop from the launch (adjust-worker.ts).
    const missing = await waitFor('the campaign_missing record', async () => {
      const records = await missingRecords(campaignId);
      return records.length > 0 ? records : undefined;
    });
    expect(missing).toEqual([{ actor: 'worker:launch', details: { seenBy: 'cleanup', launchId } }]);
    await expectGone(launchId, campaignId, stopId);
  });

  it('drops the pending stop when the stop meets the 404 before the failure is written', async () => {
    // Last attempt, a stop queued as above; the stop runs — and fails on the 404 — while the launch
    // worker is between queuing it and writing the failure (held at its launch_failed audit record).
    const { launchId, job } = await lastAttemptLaunch(stack.ctx);
    await scriptFaults(stack.sandbox, { failNext: 2, status: 503, endpoint: CXONE_ENDPOINTS.updateCampaign });
    const launches = createLaunchStore(stack.ctx);
    const trail = stack.ctx.audit as AuditTrailStore;
    let stopId: string | undefined;
    const holdAtFailure = async (input: AuditInput) => {
      if (input.action !== 'launch_failed') return;
      stopId = String(input.details?.cancelCommandId);
      const campaignId = String((await launches.get(launchId))?.campaignId);
      expect((await sandboxControl('reset')).status).toBe(200);
      adjust = createAdjustWorker(stack.ctx);
      // The stop's job has failed for good: its worker is done with the launch (it noted it failing).
      await waitFor('the stop job to fail', async () =>
        (await (await stack.ctx.queues.adjust.getJob(String(stopId)))?.getState()) === 'failed'
          ? true
          : undefined,
      );
      expect(await launches.launchOfCampaign(campaignId)).toBeNull();
      expect((await launches.get(launchId))?.status).toBe('running');
    };
    const held = {
      ...stack.ctx,
      audit: Object.assign(Object.create(trail) as AuditTrailStore, {
        append: async (input: AuditInput) => {
          await holdAtFailure(input);
          return trail.append(input);
        },
        appendWithOutcome: async (input: AuditInput) => {
          await holdAtFailure(input);
          return trail.appendWithOutcome(input);
        },
      }),
    };
    await processLaunch({ ...deps(), ctx: held }, job).catch(() => undefined);

    expect(stopId).toBeDefined();
    expect(await getCommand(stack.ctx, String(stopId))).toMatchObject({
      status: 'failed',
      error: { kind: 'not_found' },
    });
    const record = await launches.get(launchId);
    expect(record).toMatchObject({ status: 'failed', cancelled: false });
    // Written after the stop had failed: the launch worker itself finds the stop over.
    expect(record?.cancelCommandId).toBeUndefined();
    expect(await missingRecords(String(record?.campaignId))).toHaveLength(1);
    await expectGone(launchId, String(record?.campaignId), stopId);
  });

  it('drops the pending stop when the stop job is redelivered after its 404 was recorded', async () => {
    const { launchId, job } = await lastAttemptLaunch(stack.ctx);
    await scriptFaults(stack.sandbox, { failNext: 2, status: 503, endpoint: CXONE_ENDPOINTS.updateCampaign });
    await processLaunch(deps(), job).catch(() => undefined);
    const launches = createLaunchStore(stack.ctx);
    const record = await launches.get(launchId);
    const stopId = String(record?.cancelCommandId);
    const campaignId = String(record?.campaignId);
    expect((await sandboxControl('reset')).status).toBe(200);
    // A worker recorded the stop failed on the 404, then died before saying so on the launch: its job
    // is delivered again.
    await createCommandStore(stack.ctx).update(
      stopId,
      {
        status: 'failed',
        finishedAt: new Date().toISOString(),
        error: { kind: 'not_found', status: 404, message: `not found on CXone (campaign ${campaignId})` },
      },
      new Date(),
    );
    adjust = createAdjustWorker(stack.ctx);
    await waitFor('the redelivered stop job to complete', async () =>
      (await (await stack.ctx.queues.adjust.getJob(stopId))?.getState()) === 'completed' ? true : undefined,
    );
    const settled = await launches.get(launchId);
    expect(settled).toMatchObject({ status: 'failed', campaignId, cancelled: false });
    expect(settled?.cancelCommandId).toBeUndefined();
    expect(await launches.launchOfCampaign(campaignId)).toBeNull();
    await expectGone(launchId, campaignId, stopId);
  });
});
