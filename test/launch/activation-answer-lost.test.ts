import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditTrailStore } from '../../src/shared/audit/trail.js';
import { campaignConfigSchema } from '../../src/shared/campaign-schema.js';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import { toCreateCampaignRequest } from '../../src/shared/cxone/to-wire.js';
import { recentEventsKey } from '../../src/shared/events/publisher.js';
import type { EventEnvelope } from '../../src/shared/events/types.js';
import { createLaunchStore } from '../../src/shared/launch-store.js';
import { streamField } from '../../src/shared/stream-entry.js';
import { processActivate } from '../../src/workers/launch-worker.js';
import { campaignConfig, startStack, type Stack } from '../e2e/stack.js';
import { scriptFaults } from '../support/sandbox-faults.js';
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

  async function eventsOf(campaignId: string, type: string): Promise<EventEnvelope[]> {
    const entries = (await stack.ctx.redis.xrange(recentEventsKey(stack.ctx.keys), '-', '+')) as [
      string,
      string[],
    ][];
    return entries
      .map(([, fields]) => JSON.parse(streamField(fields, 'b')!) as EventEnvelope)
      .filter((e) => e.type === type && e.campaignId === campaignId);
  }

  const stateChanges = (campaignId: string) => eventsOf(campaignId, 'campaign.state.changed');

  /** The next campaign PATCH is carried out by CXone, then answered 502 (a gateway after the commit). */
  async function scriptLostActivation(): Promise<void> {
    await scriptFaults(stack.sandbox, {
      failNext: 1,
      status: 502,
      endpoint: 'PATCH /api/v2/campaigns/:id',
      applied: true,
    });
  }

  it('is announced by the retry when the activating write was applied but its answer lost', async () => {
    const { id, launchId } = await dueCampaign();
    await scriptLostActivation();

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

  it('records the safe start the lost activation carried, once: pacing_decision, event, the anchor', async () => {
    const { id, launchId } = await dueCampaign();
    await scriptLostActivation();
    await expect(
      processActivate(launchWorkerDeps(stack.ctx), fakeActivationJob(id, launchId).job, 't'),
    ).rejects.toThrow();
    expect((await stack.ctx.cxone.getCampaign(id)).dialerSettings.callRate).toBe(0.1);

    await processActivate(launchWorkerDeps(stack.ctx), fakeActivationJob(id, launchId).job, 't');
    await processActivate(launchWorkerDeps(stack.ctx), fakeActivationJob(id, launchId).job, 't');

    const decisions = (await (stack.ctx.audit as AuditTrailStore).list(id)).filter(
      (r) => r.action === 'pacing_decision',
    );
    expect(decisions).toEqual([
      expect.objectContaining({
        actor: 'worker:launch',
        details: expect.objectContaining({ reason: 'safe start', previousCallRate: 0.5 }),
      }),
    ]);
    expect(await eventsOf(id, 'campaign.pacing.adjusted')).toHaveLength(1);
    expect((await createCampaignStore(stack.ctx).get(id))?.pacing).toMatchObject({
      state: null,
      lastDecision: { reason: 'safe start', previousCallRate: 0.5, callRate: 0.1 },
      startAnchor: { requestedCallRate: 0.5, startCallRate: 0.1, agents: 10 },
    });
  });

  it('recognises its own lost activation after a GET refreshed the record from CXone in between', async () => {
    const { id, launchId } = await dueCampaign();
    const campaigns = createCampaignStore(stack.ctx);
    await scriptLostActivation();
    // One job object for both runs: a redelivery carries what the first run saved in its data.
    const { job } = fakeActivationJob(id, launchId);
    await expect(processActivate(launchWorkerDeps(stack.ctx), job, 't')).rejects.toThrow();
    // A GET of the campaign refreshes a stale record from CXone as routes/campaigns.ts refreshView
    // does: the record now shows the start rate the lost write set, not the rate it was planned from.
    await campaigns.syncFromCxone(await stack.ctx.cxone.getCampaign(id), {}, { onlyIfKnown: true });
    expect((await campaigns.get(id))?.config.dialerStrategy.callRate).toBe(0.1);

    await processActivate(launchWorkerDeps(stack.ctx), job, 't');

    const decisions = (await (stack.ctx.audit as AuditTrailStore).list(id)).filter(
      (r) => r.action === 'pacing_decision',
    );
    expect(decisions).toEqual([
      expect.objectContaining({
        details: expect.objectContaining({
          reason: 'safe start',
          previousCallRate: 0.5,
          output: expect.objectContaining({ callRate: 0.1 }),
        }),
      }),
    ]);
    expect((await campaigns.get(id))?.pacing).toMatchObject({
      lastDecision: { reason: 'safe start', previousCallRate: 0.5, callRate: 0.1 },
      startAnchor: { requestedCallRate: 0.5, startCallRate: 0.1, agents: 10 },
    });
    expect(await stateChanges(id)).toHaveLength(1);
  });

  it("takes no console activation for the launch's own: taken over as started outside, not announced as its start", async () => {
    const { id, launchId } = await dueCampaign();
    // Activated in CXone's console at its rate, before the job came to it.
    const console = await fetch(`${stack.sandbox.url}/__sandbox/campaigns/${id}/console`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ status: 'active' }),
    });
    expect(console.status).toBe(200);

    await processActivate(launchWorkerDeps(stack.ctx), fakeActivationJob(id, launchId).job, 't');

    // No activating write of the orchestrator's was noted: the operator's start, recorded as such and
    // brought down to the safe start as one found before the start is — never the launch's own start.
    const trail = await (stack.ctx.audit as AuditTrailStore).list(id);
    expect(trail[0]).toMatchObject({
      action: 'state_changed',
      details: { from: 'scheduled', to: 'active', changedIn: 'cxone' },
    });
    expect((await stack.ctx.cxone.getCampaign(id)).dialerSettings.callRate).toBeLessThan(0.5);
    const changes = await stateChanges(id);
    expect(changes.map((e) => e.data['reason'])).toEqual(['activated-outside-before-start']);
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
