import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CampaignStore } from '../../src/shared/campaign-store.js';
import type { CampaignConfig } from '../../src/shared/campaign-config.js';
import { createLaunchStore } from '../../src/shared/launch-store.js';
import { planActivation } from '../../src/workers/launch-plan.js';
import { testCampaignConfig, type Harness } from './harness.js';
import { ALICE, startCommandApi, type CommandApi } from './command-api.js';

/**
 * A PATCH of a scheduled campaign's calling windows moves its planned activation: the campaign's view
 * plans from the record on every read, and the launch record's `activateAt` must follow, or
 * `GET /v1/launches/{id}` goes on naming the old moment (the activation job notes a moved start only
 * once it was due). Producer app → adjust queue → worker → sandbox, real Redis and HTTP.
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

/** A config whose start lies on a Wednesday about half a year ahead, weekdays only, in New York. */
function weekdayConfig(): CampaignConfig {
  const start = DateTime.now()
    .setZone('America/New_York')
    .plus({ months: 6 })
    .set({ weekday: 3, hour: 10, minute: 0, second: 0, millisecond: 0 });
  return testCampaignConfig({
    startDateTime: start.toISO({ suppressMilliseconds: true })!,
    complianceTimeZone: 'America/New_York',
    allowedCallTimes: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00' }],
  });
}

/** A campaign of ours in `status`, with a succeeded launch that planned its activation at launch time. */
async function launched(status: 'scheduled' | 'active', config: CampaignConfig) {
  const campaign = await h.campaign(status, config);
  const launches = createLaunchStore(h.ctx);
  const launchId = randomUUID();
  await launches.create({
    launchId,
    actor: 'api:alice',
    name: config.name,
    requestedAt: new Date().toISOString(),
  });
  await launches.begin(launchId);
  await new CampaignStore(h.ctx).patch(campaign.id, { launchId });
  const activateAt = new Date(planActivation(config, Date.now()).activateAtMs).toISOString();
  await launches.finish(launchId, {
    status: 'succeeded',
    campaignId: campaign.id,
    campaignStatus: status,
    activateAt,
  });
  return { campaign, launchId, activateAt };
}

async function patchWindows(campaignId: string, allowedCallTimes: CampaignConfig['allowedCallTimes']) {
  const res = await app.inject({
    method: 'PATCH',
    url: `/v1/campaigns/${campaignId}`,
    headers: auth,
    payload: { allowedCallTimes },
  });
  expect(res.statusCode, res.body).toBe(202);
  const done = await h.waitForCommand((res.json() as { commandId: string }).commandId);
  expect(done.status).toBe('succeeded');
}

async function launchView(launchId: string) {
  const res = await app.inject({ method: 'GET', url: `/v1/launches/${launchId}`, headers: auth });
  expect(res.statusCode).toBe(200);
  return res.json() as { activateAt?: string };
}

describe("a scheduled campaign's calling windows changed after its launch", () => {
  it("moves the launch's activateAt to the campaign's new planned activation", async () => {
    const config = weekdayConfig();
    const { campaign, launchId, activateAt } = await launched('scheduled', config);
    expect((await launchView(launchId)).activateAt).toBe(activateAt);

    const weekend: CampaignConfig['allowedCallTimes'] = [
      { days: ['sat', 'sun'], start: '10:00', end: '16:00' },
    ];
    await patchWindows(campaign.id, weekend);

    const expected = new Date(
      planActivation({ ...config, allowedCallTimes: weekend }, Date.now()).activateAtMs,
    ).toISOString();
    expect(expected).not.toBe(activateAt);
    expect((await launchView(launchId)).activateAt).toBe(expected);
    const view = await app.inject({ method: 'GET', url: `/v1/campaigns/${campaign.id}`, headers: auth });
    expect((view.json() as { activateAt?: string }).activateAt).toBe(expected);
  });

  it('leaves the launch of a campaign that already dials as it is', async () => {
    const config = weekdayConfig();
    const { campaign, launchId, activateAt } = await launched('active', config);
    await patchWindows(campaign.id, [{ days: ['sat', 'sun'], start: '10:00', end: '16:00' }]);
    expect(await createLaunchStore(h.ctx).get(launchId)).toMatchObject({ activateAt });
  });
});
