import type { Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import { CXONE_ENDPOINTS } from '../../src/shared/cxone/wire.js';
import { getCommand } from '../../src/shared/lifecycle/enqueue.js';
import { createLaunchStore } from '../../src/shared/launch-store.js';
import { createAdjustWorker } from '../../src/workers/adjust-worker.js';
import { processLaunch } from '../../src/workers/launch-worker.js';
import { startStack, waitFor, type Stack } from '../e2e/stack.js';
import { scriptFaults } from '../support/sandbox-faults.js';
import { lastAttemptLaunch } from './last-attempt.js';

/**
 * A launch that fails for good after CXone created its campaign, while CXone also refuses the cancel
 * (it is failing: often why the launch failed). The campaign must not be left half-launched: the
 * cancel goes to the adjust queue as a stop command, retried until CXone answers, and the launch
 * record says so. Real Redis, the sandbox over HTTP with scripted 503s.
 */
describe('the cleanup of a failed launch when CXone refuses the cancel', () => {
  let stack: Stack;
  let adjust: Worker | undefined;
  beforeAll(async () => {
    stack = await startStack({ api: false });
  });
  afterAll(async () => {
    await adjust?.close();
    await stack?.close();
  });

  /** A launch on its last attempt whose schedule PATCH and cancel PATCH both get 503: failed, a stop queued. */
  async function launchFailingWithRefusedCancel() {
    const { launchId, job } = await lastAttemptLaunch(stack.ctx);
    await scriptFaults(stack.sandbox, { failNext: 2, status: 503, endpoint: CXONE_ENDPOINTS.updateCampaign });
    const launches = createLaunchStore(stack.ctx);
    await processLaunch(
      { ctx: stack.ctx, launches, campaigns: createCampaignStore(stack.ctx), lockMs: 30_000 },
      job,
    ).catch(() => undefined);
    return { launchId, launches, record: await launches.get(launchId) };
  }

  it('queues a stop that cancels the campaign once CXone answers, and names it on the launch', async () => {
    const { launchId, launches, record } = await launchFailingWithRefusedCancel();
    expect(record).toMatchObject({ status: 'failed', cancelled: false, cancelCommandId: expect.any(String) });
    // A 503 on the last of the job's attempts: the reason says the retries ran out, and what to do.
    expect(record?.error).toMatch(
      /503.*\(gave up after \d+ attempts; once CXone answers again, submit the launch again\)$/,
    );
    const campaignId = String(record?.campaignId);
    expect((await stack.ctx.cxone.getCampaign(campaignId)).status).toBe('draft');
    expect(await getCommand(stack.ctx, String(record?.cancelCommandId))).toMatchObject({
      campaignId,
      action: 'stop',
      status: 'queued',
    });

    // CXone answers again: the adjust worker carries the stop out.
    adjust = createAdjustWorker(stack.ctx);
    await waitFor('the campaign to be cancelled', async () =>
      (await stack.ctx.cxone.getCampaign(campaignId)).status === 'cancelled' ? true : undefined,
    );
    // The command is marked finished after its CXone write and its records, so wait for that mark.
    const finished = await waitFor('the stop command to finish', async () => {
      const command = await getCommand(stack.ctx, String(record?.cancelCommandId));
      return command && command.status !== 'queued' && command.status !== 'running' ? command : undefined;
    });
    expect(finished).toMatchObject({ status: 'succeeded' });
    // And the launch says so: cancelled, at the version the stop left, no stop pending any more.
    const cleaned = await waitFor('the launch to record the cancel', async () => {
      const now = await launches.get(launchId);
      return now?.cancelled === true ? now : undefined;
    });
    const onCxone = await stack.ctx.cxone.getCampaign(campaignId);
    expect(cleaned).toMatchObject({
      status: 'failed',
      campaignStatus: 'cancelled',
      cxoneVersion: onCxone.version,
    });
    expect(cleaned.cancelCommandId).toBeUndefined();
    expect(await launches.launchOfCampaign(campaignId)).toBeNull();
    await adjust.close();
    adjust = undefined;
  });

  it('records the campaign as ended when the queued stop finds it already ended by someone else', async () => {
    const { launchId, launches, record } = await launchFailingWithRefusedCancel();
    expect(record).toMatchObject({ status: 'failed', cancelled: false, cancelCommandId: expect.any(String) });
    const campaignId = String(record?.campaignId);

    // Before the stop runs, an operator cancels the campaign in CXone's console.
    const consoleCancel = await fetch(`${stack.sandbox.url}/__sandbox/campaigns/${campaignId}/console`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ status: 'cancelled' }),
    });
    expect(consoleCancel.status).toBe(200);
    const ended = (await consoleCancel.json()) as { version: number };

    adjust = createAdjustWorker(stack.ctx);
    const finished = await waitFor('the stop command to finish', async () => {
      const command = await getCommand(stack.ctx, String(record?.cancelCommandId));
      return command && command.status !== 'queued' && command.status !== 'running' ? command : undefined;
    });
    expect(finished).toMatchObject({ status: 'succeeded' });
    // The stop had nothing left to do, but its purpose is met: the launch no longer reads "not
    // cancelled, a stop pending", and no marker leads to it any more.
    const cleaned = await waitFor('the launch to record the ended campaign', async () => {
      const now = await launches.get(launchId);
      return now?.cancelCommandId === undefined ? now : undefined;
    });
    expect(cleaned).toMatchObject({
      status: 'failed',
      cancelled: true,
      campaignStatus: 'cancelled',
      cxoneVersion: ended.version,
    });
    expect(await launches.launchOfCampaign(campaignId)).toBeNull();
  });
});
