import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignConfigSchema } from '../../src/shared/campaign-schema.js';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import { toCreateCampaignRequest } from '../../src/shared/cxone/to-wire.js';
import { recentEventsKey } from '../../src/shared/events/publisher.js';
import type { EventEnvelope } from '../../src/shared/events/types.js';
import { createLaunchStore } from '../../src/shared/launch-store.js';
import { streamField } from '../../src/shared/stream-entry.js';
import { processActivate } from '../../src/workers/launch-worker.js';
import { campaignConfig, startStack, type Stack } from '../e2e/stack.js';
import { fakeActivationJob, launchWorkerDeps, succeededLaunch } from './activation-job.js';

/**
 * A scheduled campaign's activation is announced (`campaign.state.changed`, `scheduled-start`) once,
 * also when the activating PATCH went through on CXone but its answer was lost (a gateway 502 after
 * CXone applied it): the job's retry finds the campaign active and must still say it began dialing —
 * it used to take the "already active" path, which noted the launch and announced nothing, so a
 * webhook consumer never learnt the campaign went live. Real Redis, the sandbox over HTTP.
 */
describe('the announcement of a scheduled start', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ api: false });
  });
  afterAll(async () => {
    await stack?.close();
  });

  /** A campaign scheduled by a succeeded launch whose start is due now. */
  async function dueCampaign() {
    const config = campaignConfigSchema.parse(
      campaignConfig({ startDateTime: new Date(Date.now() - 60_000).toISOString() }),
    );
    const created = await stack.ctx.cxone.createCampaign(toCreateCampaignRequest(config));
    const scheduled = await stack.ctx.cxone.updateCampaign(created.id, created.version, {
      status: 'scheduled',
    });
    const launchId = await succeededLaunch(stack.ctx, created.id);
    await createCampaignStore(stack.ctx).syncFromCxone(scheduled, { config, launchId });
    return { id: created.id, launchId };
  }

  async function stateChanges(campaignId: string): Promise<EventEnvelope[]> {
    const entries = (await stack.ctx.redis.xrange(recentEventsKey(stack.ctx.keys), '-', '+')) as [
      string,
      string[],
    ][];
    return entries
      .map(([, fields]) => JSON.parse(streamField(fields, 'b')!) as EventEnvelope)
      .filter((e) => e.type === 'campaign.state.changed' && e.campaignId === campaignId);
  }

  it('is announced by the retry when the activating write was applied but its answer lost', async () => {
    const { id, launchId } = await dueCampaign();
    const scripted = await fetch(`${stack.sandbox.url}/__sandbox/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        failNext: 1,
        status: 502,
        endpoint: 'PATCH /api/v2/campaigns/:id',
        applied: true,
      }),
    });
    expect(scripted.status).toBe(200);

    await expect(
      processActivate(launchWorkerDeps(stack.ctx), fakeActivationJob(id, launchId).job, 't'),
    ).rejects.toThrow();
    expect((await stack.ctx.cxone.getCampaign(id)).status).toBe('active');
    expect(await stateChanges(id)).toEqual([]);

    const result = await processActivate(
      launchWorkerDeps(stack.ctx),
      fakeActivationJob(id, launchId).job,
      't',
    );

    expect(result).toMatchObject({ outcome: 'succeeded', campaignStatus: 'active' });
    const events = await stateChanges(id);
    expect(events).toHaveLength(1);
    expect(events[0]!.data).toMatchObject({ from: 'scheduled', to: 'active', reason: 'scheduled-start' });
    expect(await createLaunchStore(stack.ctx).get(launchId)).toMatchObject({
      campaignStatus: 'active',
      activatedAt: expect.any(String),
    });
    // A further redelivery announces nothing again.
    await processActivate(launchWorkerDeps(stack.ctx), fakeActivationJob(id, launchId).job, 't');
    expect(await stateChanges(id)).toHaveLength(1);
  });

  it('is announced once by a run that activates, and not again by a redelivery', async () => {
    const { id, launchId } = await dueCampaign();

    await processActivate(launchWorkerDeps(stack.ctx), fakeActivationJob(id, launchId).job, 't');
    await processActivate(launchWorkerDeps(stack.ctx), fakeActivationJob(id, launchId).job, 't');

    const events = await stateChanges(id);
    expect(events).toHaveLength(1);
    expect(events[0]!.data).toMatchObject({ from: 'scheduled', to: 'active', reason: 'scheduled-start' });
  });
});
