import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CampaignStore } from '../../src/shared/campaign-store.js';
import { testCampaignConfig, type Harness } from './harness.js';
import { ALICE, adjustJobCount, startCommandApi, type CommandApi } from './command-api.js';

/**
 * A fixed offset (Etc/GMT+5, UTC) as a campaign's zone, end to end over real Redis and the sandbox
 * over HTTP: a PATCH (or an action's patch) that sets one is refused, naming complianceTimeZone, and
 * queues nothing; a campaign stored on one before the rule keeps taking changes to its other fields,
 * and a command setting one queued before the rule still runs.
 */
let h: Harness;
let app: FastifyInstance;
let api: CommandApi | undefined;
const auth = ALICE;

beforeAll(async () => {
  api = await startCommandApi();
  ({ h, app } = api);
});

afterAll(() => api?.close());

const queued = () => adjustJobCount(h);

const patchCampaign = (id: string, payload: Record<string, unknown>) =>
  app.inject({ method: 'PATCH', url: `/v1/campaigns/${id}`, headers: auth, payload });

type Issues = { issues: Array<{ path: string; message: string }> };

describe('a change that sets a fixed offset as the zone', () => {
  it('is refused with 400 naming complianceTimeZone, by PATCH and by an action’s patch, queueing nothing', async () => {
    const campaign = await h.campaign(
      'active',
      testCampaignConfig({ complianceTimeZone: 'America/New_York' }),
    );
    const before = await queued();
    for (const zone of ['Etc/GMT+5', 'UTC', 'Etc/UTC', 'etc/gmt+4']) {
      const res = await patchCampaign(campaign.id, { complianceTimeZone: zone });
      expect(res.statusCode, zone).toBe(400);
      const { issues } = res.json() as Issues;
      expect(
        issues.map((i) => i.path),
        zone,
      ).toEqual(['complianceTimeZone']);
      expect(issues[0]?.message, zone).toMatch(
        new RegExp(
          `^${zone.replace(/[+/]/g, '\\$&')} is a fixed offset .*name the called party's zone, e\\.g\\. `,
        ),
      );
    }
    const action = await app.inject({
      method: 'POST',
      url: `/v1/campaigns/${campaign.id}/actions`,
      headers: auth,
      payload: { action: 'pause', patch: { complianceTimeZone: 'Etc/GMT+5' } },
    });
    expect(action.statusCode).toBe(400);
    expect((action.json() as Issues).issues.map((i) => i.path)).toEqual(['complianceTimeZone']);
    // A malformed patch is answered in full too: the zone beside the shape error.
    const malformed = await patchCampaign(campaign.id, {
      complianceTimeZone: 'UTC',
      dialerStrategy: { callRate: 3 },
    });
    expect(malformed.statusCode).toBe(400);
    expect((malformed.json() as Issues).issues.map((i) => i.path).sort()).toEqual([
      'complianceTimeZone',
      'dialerStrategy.callRate',
    ]);
    expect(await queued()).toBe(before);
    expect((await h.ctx.cxone.getCampaign(campaign.id)).complianceSettings.timeZone).toBe('America/New_York');
  });
});

describe('a campaign stored on a fixed offset before the rule', () => {
  it('loads, and takes a raise of the call rate, a rename and a move to a place', async () => {
    const campaign = await h.campaign('active', testCampaignConfig({ complianceTimeZone: 'UTC' }));
    const view = await app.inject({ method: 'GET', url: `/v1/campaigns/${campaign.id}`, headers: auth });
    expect(view.statusCode).toBe(200);
    expect(view.json()).toMatchObject({ config: { complianceTimeZone: 'UTC' } });

    for (const payload of [
      { dialerStrategy: { callRate: 0.7 } },
      { name: 'Renamed on UTC' },
      { complianceTimeZone: 'Atlantic/Reykjavik' },
    ]) {
      const res = await patchCampaign(campaign.id, payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(202);
      const done = await h.waitForCommand((res.json() as { commandId: string }).commandId);
      expect(done.status, JSON.stringify(payload)).toBe('succeeded');
    }
    const onCxone = await h.ctx.cxone.getCampaign(campaign.id);
    expect(onCxone).toMatchObject({
      name: 'Renamed on UTC',
      dialerSettings: { callRate: 0.7 },
      complianceSettings: { timeZone: 'Atlantic/Reykjavik' },
    });
  });

  it('runs a command setting one that was queued before the rule', async () => {
    const campaign = await h.campaign(
      'active',
      testCampaignConfig({ complianceTimeZone: 'America/New_York' }),
    );
    // Enqueued as the API did before the rule: straight onto the adjust queue.
    const [commandId] = await h.enqueueInOrder([
      {
        campaignId: campaign.id,
        actor: 'api:alice',
        reason: 'operator',
        patch: { complianceTimeZone: 'Etc/GMT+5' },
      },
    ]);
    const done = await h.waitForCommand(commandId!);
    expect(done.status).toBe('succeeded');
    expect((await h.ctx.cxone.getCampaign(campaign.id)).complianceSettings.timeZone).toBe('Etc/GMT+5');
    expect((await new CampaignStore(h.ctx).get(campaign.id))?.config.complianceTimeZone).toBe('Etc/GMT+5');
  });
});
