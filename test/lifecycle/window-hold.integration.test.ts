import type { Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enforceWindow } from '../../src/shared/compliance/enforcement.js';
import { getWindowState, setWindowState } from '../../src/shared/compliance/state-store.js';
import { enqueueCommand } from '../../src/shared/lifecycle/enqueue.js';
import { createAdjustWorker } from '../../src/workers/adjust-worker.js';
import { startHarness, type Harness } from './harness.js';

/*
 * An operator's pause against the calling window's resume when both are queued at once, on real Redis
 * and the sandbox over HTTP: the adjust worker starts only once both wait, so they run in queue order.
 */
let h: Harness;
let worker: Worker | undefined;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await worker?.close();
  await h?.close();
});

describe('an operator pause queued as the window opens', () => {
  it('withdraws the window resume queued behind it: the campaign stays paused', async () => {
    const campaign = await h.campaign('paused');
    await setWindowState(h.ctx, campaign.id, { pausedAt: new Date(Date.now() - 3_600_000).toISOString() });
    // The operator's pause is accepted (the campaign is paused) and waits, CXone being slow, say...
    const { commandId: operatorPause } = await enqueueCommand(h.ctx, {
      campaignId: campaign.id,
      actor: 'api:alice',
      reason: 'operator',
      action: 'pause',
    });
    // ...when the window opens and queues its resume behind it.
    expect(
      (await enforceWindow(h.ctx, { campaignId: campaign.id, kind: 'open', atMs: Date.now() })).outcome,
    ).toBe('resumed');
    const windowResume = (await getWindowState(h.ctx, campaign.id)).resumeCommandId as string;

    worker = createAdjustWorker(h.ctx);
    await worker.waitUntilReady();
    expect((await h.waitForCommand(operatorPause)).status).toBe('succeeded');
    const resume = await h.waitForCommand(windowResume);
    expect(resume).toMatchObject({ status: 'failed', error: { kind: 'withdrawn' } });
    expect(resume.error?.message).toMatch(/no longer holds this campaign's pause/);
    expect(
      (h.sandbox.getCampaignState(campaign.id) as { resource: { status: string } }).resource.status,
    ).toBe('paused');
    // Nor does the window's re-check resume it.
    const verify = await enforceWindow(h.ctx, { campaignId: campaign.id, kind: 'verify', atMs: Date.now() });
    expect(verify.outcome).toBe('nothing');
  });
});
