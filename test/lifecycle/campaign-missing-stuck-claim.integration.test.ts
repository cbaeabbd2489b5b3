import { afterEach, describe, expect, it } from 'vitest';
import { noteMissingOnCxone } from '../../src/shared/campaign-missing.js';
import { CampaignStore } from '../../src/shared/campaign-store.js';
import type { EventPublisherStore } from '../../src/shared/events/publisher.js';
import { runPollCycle } from '../../src/shared/polling/poll-cycle.js';
import { ALICE, startCommandApi, type CommandApi } from './command-api.js';
import { died, dyingContext, eventWritten } from './dying-context.js';

/**
 * A look that met CXone's 404 claimed the disappearance, recorded and announced it, and died before
 * the record's note. CXone then answered for the campaign again (a 404 of a tenant misconfigured for
 * a moment) — the look's retry, if any, finds the campaign there. Before, nothing removed the claim:
 * a found-again clears only a noted disappearance, so a real deletion a day later was named by the
 * old time, its `campaign_missing` record and `campaign.missing` event taken for the old ones'
 * repeats and never written, and the view said missing since long before.
 */
let api: CommandApi | undefined;

afterEach(async () => {
  await api?.close();
  api = undefined;
});

interface TrailRecord {
  action: string;
}

async function told(api: CommandApi, campaignId: string) {
  const { h } = api;
  const trail = await (h.ctx.audit as unknown as { list(id: string): Promise<TrailRecord[]> }).list(
    campaignId,
  );
  const events = await (h.ctx.events as EventPublisherStore).recent(100, campaignId);
  return {
    records: trail.filter((r) => r.action === 'campaign_missing').length,
    since: events
      .filter((e) => e.type === 'campaign.missing')
      .map((e) => (e.data as { since: string }).since)
      .sort(),
  };
}

/** The interrupted look: claim, record and event written, the record's note never. */
async function lookDiedBeforeItsNote(api: CommandApi, campaignId: string): Promise<string> {
  await noteMissingOnCxone(dyingContext(api.h.ctx, eventWritten), campaignId, 'api', 'api:alice').catch(died);
  expect((await new CampaignStore(api.h.ctx).get(campaignId))?.missingOnCxone).toBeUndefined();
  const { since } = await told(api, campaignId);
  expect(since).toHaveLength(1);
  return since[0]!;
}

/** The campaign's view read from CXone, not served from the record (which is fresh for 10 s). */
async function readView(api: CommandApi, campaignId: string) {
  await new CampaignStore(api.h.ctx).patch(campaignId, { syncedAt: '2026-01-01T00:00:00.000Z' });
  const res = await api.app.inject({ method: 'GET', url: `/v1/campaigns/${campaignId}`, headers: ALICE });
  expect(res.statusCode).toBe(200);
  return res.json() as { missingOnCxone?: { since: string } };
}

async function cxoneForgetsEveryCampaign(api: CommandApi): Promise<void> {
  // Apart from the first look's time, whatever the clock's resolution.
  await new Promise((r) => setTimeout(r, 5));
  const reset = await fetch(`${api.h.sandbox.url}/__sandbox/reset`, { method: 'POST' });
  expect(reset.status).toBe(200);
}

describe('a look that died before its note, then CXone answered again', () => {
  it('a read finding the campaign leaves a later deletion told under its own time', async () => {
    api = await startCommandApi();
    const campaign = await api.h.campaign('active');
    const first = await lookDiedBeforeItsNote(api, campaign.id);

    const back = await readView(api, campaign.id);
    expect(back).not.toHaveProperty('missingOnCxone');

    await cxoneForgetsEveryCampaign(api);
    const since = (await readView(api, campaign.id)).missingOnCxone?.since;
    expect(since).toEqual(expect.any(String));
    expect(since).not.toBe(first);
    expect(await told(api, campaign.id)).toEqual({ records: 2, since: [first, since] });
  });

  it("a poll reading the campaign's statistics leaves a later deletion told under its own time", async () => {
    api = await startCommandApi();
    const { h } = api;
    const campaign = await h.campaign('active');
    const first = await lookDiedBeforeItsNote(api, campaign.id);

    expect(await runPollCycle(h.ctx, campaign.id)).toMatchObject({ kind: 'polled' });

    await cxoneForgetsEveryCampaign(api);
    expect(await runPollCycle(h.ctx, campaign.id)).toEqual({ kind: 'unknown' });
    const since = (await new CampaignStore(h.ctx).get(campaign.id))?.missingOnCxone?.since;
    expect(since).toEqual(expect.any(String));
    expect(since).not.toBe(first);
    expect(await told(api, campaign.id)).toEqual({ records: 2, since: [first, since] });
  });
});
