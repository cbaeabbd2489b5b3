import type { Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noteMissingOnCxone } from '../../src/shared/campaign-missing.js';
import { CampaignStore } from '../../src/shared/campaign-store.js';
import type { EventPublisherStore } from '../../src/shared/events/publisher.js';
import { listPolledCampaigns, stopPolling } from '../../src/shared/polling/schedulers.js';
import { createAdjustWorker } from '../../src/workers/adjust-worker.js';
import { ALICE, startCommandApi, type CommandApi } from './command-api.js';

/**
 * A command accepted while CXone still knew its campaign, run after CXone forgot it (deleted in the
 * console, a sandbox restarted): the command fails `not_found`, and the disappearance is recorded as
 * any look that meets the 404 records it (docs/api.md: "the first read, stats poll, command or
 * activation look to meet the 404 records it once"), so the campaign's view stops showing it alive.
 */
let api: CommandApi;
let worker: Worker | undefined;

beforeAll(async () => {
  api = await startCommandApi();
});

afterAll(async () => {
  await worker?.close();
  await api?.close();
});

describe('a command that meets CXone 404 when it runs', () => {
  it('fails not_found and notes the campaign missing once: record, view, trail and event', async () => {
    const { h, app } = api;
    const campaign = await h.campaign('active');
    // Accepted while CXone knows the campaign; nothing runs them yet.
    await api.worker.close();
    const sent = [
      await app.inject({
        method: 'PATCH',
        url: `/v1/campaigns/${campaign.id}`,
        headers: ALICE,
        payload: { dialerStrategy: { callRate: 0.7 } },
      }),
      await app.inject({
        method: 'POST',
        url: `/v1/campaigns/${campaign.id}/actions`,
        headers: ALICE,
        payload: { action: 'pause' },
      }),
    ];
    expect(sent.map((r) => r.statusCode)).toEqual([202, 202]);
    // CXone forgets every campaign (this file's own sandbox).
    const reset = await fetch(`${h.sandbox.url}/__sandbox/reset`, { method: 'POST' });
    expect(reset.status).toBe(200);

    worker = createAdjustWorker(h.ctx);
    await worker.waitUntilReady();
    for (const res of sent) {
      const done = await h.waitForCommand((res.json() as { commandId: string }).commandId);
      expect(done).toMatchObject({ status: 'failed', error: { kind: 'not_found', status: 404 } });
    }

    const record = await new CampaignStore(h.ctx).get(campaign.id);
    expect(record?.missingOnCxone?.since).toEqual(expect.any(String));
    const view = await app.inject({ method: 'GET', url: `/v1/campaigns/${campaign.id}`, headers: ALICE });
    expect(view.statusCode).toBe(200);
    expect(view.json()).toMatchObject({ missingOnCxone: { since: record?.missingOnCxone?.since } });

    // Once, however many commands met it, named for the requester whose command met it first.
    const trail = await (
      h.ctx.audit as unknown as {
        list(id: string): Promise<Array<{ action: string; actor: string; details: Record<string, unknown> }>>;
      }
    ).list(campaign.id);
    const missing = trail.filter((r) => r.action === 'campaign_missing');
    expect(missing).toEqual([
      expect.objectContaining({
        actor: 'api:alice',
        details: { lastStatus: 'active', lastVersion: campaign.version, seenBy: 'command' },
      }),
    ]);
    const events = await (h.ctx.events as EventPublisherStore).recent(100, campaign.id);
    expect(events.filter((e) => e.type === 'campaign.missing').map((e) => e.data)).toEqual([
      expect.objectContaining({ seenBy: 'command', since: record?.missingOnCxone?.since }),
    ]);
  });

  it("a command's fresh read that finds CXone answering again clears the note and polls the campaign again", async () => {
    const { h, app } = api;
    const campaign = await h.campaign('active');
    // A poll met a 404 a while ago (a tenant misconfigured for a while): noted, polling stopped.
    await noteMissingOnCxone(h.ctx, campaign.id, 'poll');
    await stopPolling(h.ctx, campaign.id);
    expect((await new CampaignStore(h.ctx).get(campaign.id))?.missingOnCxone).toBeDefined();

    // CXone knows it again; the operator steers it without looking at its view first.
    const res = await app.inject({
      method: 'PATCH',
      url: `/v1/campaigns/${campaign.id}`,
      headers: ALICE,
      payload: { dialerStrategy: { callRate: 0.6 } },
    });
    expect(res.statusCode).toBe(202);
    expect((await new CampaignStore(h.ctx).get(campaign.id))?.missingOnCxone).toBeUndefined();
    // Dialing, so polled again: the abandonment guard runs on every poll.
    expect((await listPolledCampaigns(h.ctx)).has(campaign.id)).toBe(true);
  });
});
