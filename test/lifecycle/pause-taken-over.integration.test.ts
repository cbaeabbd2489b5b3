import type { Worker } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { REASON_WINDOW } from '../../src/shared/compliance/enforcement.js';
import { COMPLIANCE_ACTOR } from '../../src/shared/compliance/record.js';
import { setWindowState } from '../../src/shared/compliance/state-store.js';
import { enqueueCommand } from '../../src/shared/lifecycle/enqueue.js';
import { createAdjustWorker } from '../../src/workers/adjust-worker.js';
import { ALICE, startCommandApi, type CommandApi } from './command-api.js';

/**
 * A pause of a campaign the requester saw paused (it takes the pause over: docs/lifecycle.md) that
 * runs after someone resumed the campaign. Resumed by an operator in CXone's console, or by another
 * operator's command, it is a decision made after the requester looked: the pause is a conflict, not
 * written over it. Resumed by the orchestrator's own automation (the calling window at its open), it
 * is no one's decision against the requester's, and the pause holds the campaign as asked.
 */
let api: CommandApi;
let worker: Worker | undefined;

beforeAll(async () => {
  api = await startCommandApi();
  // Commands are queued first and run once a test starts a worker.
  await api.worker.close();
});

afterEach(async () => {
  await worker?.close();
  worker = undefined;
});

afterAll(() => api?.close());

async function work() {
  worker = createAdjustWorker(api.h.ctx);
  await worker.waitUntilReady();
}

async function pauseAs(id: string, headers: Record<string, string> = ALICE) {
  const res = await api.app.inject({
    method: 'POST',
    url: `/v1/campaigns/${id}/actions`,
    headers,
    payload: { action: 'pause' },
  });
  expect(res.statusCode).toBe(202);
  return (res.json() as { commandId: string }).commandId;
}

describe('a pause taking over a pause, run after the campaign was resumed', () => {
  it('is a conflict when an operator resumed it in the console: the resume is kept', async () => {
    const { h } = api;
    const campaign = await h.campaign('paused');
    const commandId = await pauseAs(campaign.id);
    await h.consoleChange(campaign.id, { status: 'active' });
    await work();
    const done = await h.waitForCommand(commandId);
    expect(done.status).toBe('conflict');
    expect(done.conflict?.conflicts).toEqual([
      { field: 'status', base: 'paused', ours: 'paused', theirs: 'active' },
    ]);
    expect((await h.ctx.cxone.getCampaign(campaign.id)).status).toBe('active');
  });

  it("is a conflict when another operator's command resumed it", async () => {
    const { h, app } = api;
    const campaign = await h.campaign('paused');
    const resume = await app.inject({
      method: 'POST',
      url: `/v1/campaigns/${campaign.id}/actions`,
      headers: { ...ALICE, 'x-actor': 'bob' },
      payload: { action: 'resume' },
    });
    expect(resume.statusCode).toBe(202);
    const commandId = await pauseAs(campaign.id);
    await work();
    expect((await h.waitForCommand(commandId)).status).toBe('conflict');
    expect((await h.ctx.cxone.getCampaign(campaign.id)).status).toBe('active');
  });

  it("is no conflict for compliance's own pause: resumed since, the campaign is paused again", async () => {
    const { h } = api;
    const campaign = await h.campaign('paused');
    // The calling window's pause at its close, whose first run found the campaign paused (its base,
    // saved for later runs) and failed after (a Redis blip, say); an operator resumed it since.
    const window = await enqueueCommand(h.ctx, {
      campaignId: campaign.id,
      actor: COMPLIANCE_ACTOR,
      reason: REASON_WINDOW,
      action: 'pause',
      base: { status: 'paused' },
    });
    await h.consoleChange(campaign.id, { status: 'active' });
    await work();
    expect(await h.waitForCommand(window.commandId)).toMatchObject({
      status: 'succeeded',
      result: { status: 'paused' },
    });
    expect((await h.ctx.cxone.getCampaign(campaign.id)).status).toBe('paused');
  });

  it("holds the campaign paused when the orchestrator's own automation resumed it", async () => {
    const { h } = api;
    const campaign = await h.campaign('paused');
    // The calling window paused it at its close; its resume at the open is queued just before the
    // operator's pause.
    const closedAt = Date.now() - 60_000;
    await setWindowState(h.ctx, campaign.id, {
      pausedAt: new Date(closedAt).toISOString(),
      lastTransitionMs: closedAt,
    });
    const window = await enqueueCommand(h.ctx, {
      campaignId: campaign.id,
      actor: 'compliance',
      reason: 'compliance-window',
      action: 'resume',
    });
    const commandId = await pauseAs(campaign.id);
    await work();
    expect(await h.waitForCommand(window.commandId)).toMatchObject({
      status: 'succeeded',
      result: { status: 'active' },
    });
    const done = await h.waitForCommand(commandId);
    expect(done).toMatchObject({ status: 'succeeded', result: { status: 'paused' } });
    expect((await h.ctx.cxone.getCampaign(campaign.id)).status).toBe('paused');
  });
});
