import { describe, expect, it } from 'vitest';
import { campaignHistory, sandboxForSuite } from '../support/sandbox-suite.js';
import { call, createBody, createCampaign, patch } from './helpers.js';

/**
 * What the sandbox refuses of `startDateTime` and of the calling hours is what the reference says
 * CXone refuses, no more: the format of the start (ISO 8601 with an offset) and the shape of each
 * window (call-window-shape.test.ts). It names no rule against a start in the past or against hours
 * outside the law, and the orchestrator relies on the first: it forwards the start it was given,
 * which is often past (examples/campaign.json's is; the launch then activates "now"). A sandbox
 * refusing either would break launches CXone takes, or pass off the orchestrator's own TCPA check
 * as the platform's.
 */
describe('sandbox startDateTime and calling-hour bounds', () => {
  const suite = sandboxForSuite();

  const iso = (ms: number) => new Date(ms).toISOString();
  const get = async (id: string) =>
    (await call(suite.sandbox, 'GET', `/api/v2/campaigns/${id}`, { token: suite.token })).body;

  it('takes a start in the past on create and keeps it as sent', async () => {
    const now = Date.now();
    for (const startDateTime of [
      iso(now - 5_000), // a start of "now" that waited in the launch queue
      iso(now - 400 * 86_400_000),
      '2026-01-05T09:00:00-05:00', // examples/campaign.json
    ]) {
      const created = await call(suite.sandbox, 'POST', '/api/v2/campaigns', {
        token: suite.token,
        body: createBody({ startDateTime }),
      });
      expect(created.status, startDateTime).toBe(201);
      expect(await get(created.body.id as string)).toMatchObject({ startDateTime, version: 1 });
    }
  });

  it('takes a PATCH of startDateTime to the past, as a versioned change', async () => {
    const id = (await createCampaign(suite.sandbox, suite.token)).body.id as string;
    const from = (await get(id)).startDateTime;
    const past = iso(Date.now() - 60_000);
    const patched = await patch(suite.sandbox, suite.token, id, 1, { startDateTime: past });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ version: 2, startDateTime: past });
    const last = (await campaignHistory(suite.sandbox, suite.token, id)).at(-1);
    expect(last).toMatchObject({ version: 2, changes: { startDateTime: { from, to: past } } });
  });

  const badStarts: Array<{ value: string; why: string }> = [
    { value: '2026-12-01T09:00:00', why: 'no offset' },
    { value: '2026-12-01 09:00', why: 'not ISO 8601' },
    { value: '2026-02-30T09:00:00Z', why: 'no such day' },
  ];
  for (const { value, why } of badStarts) {
    it(`refuses a start that is not an ISO 8601 date-time with an offset (${why}) with 422 naming it`, async () => {
      const before = suite.sandbox.campaignCount();
      const created = await call(suite.sandbox, 'POST', '/api/v2/campaigns', {
        token: suite.token,
        body: createBody({ startDateTime: value }),
      });
      expect(created.status).toBe(422);
      expect(created.body).toMatchObject({ error: 'validation_failed' });
      expect(created.body.errors).toEqual([{ field: 'startDateTime', message: expect.any(String) }]);
      expect(suite.sandbox.campaignCount()).toBe(before);

      const id = (await createCampaign(suite.sandbox, suite.token)).body.id as string;
      const patched = await patch(suite.sandbox, suite.token, id, 1, { startDateTime: value });
      expect(patched.status).toBe(422);
      expect(patched.body.errors).toEqual([{ field: 'startDateTime', message: expect.any(String) }]);
      expect(await get(id)).toMatchObject({ version: 1 });
    });
  }

  it('takes TCPA calling windows wider than the federal 08:00–21:00 on create and PATCH', async () => {
    const wide = [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '06:00', end: '23:00' }];
    const allDay = [{ days: ['sat', 'sun'], start: '00:00', end: '23:59' }];
    const body = createBody();
    body.complianceSettings.allowedCallTimes = wide as typeof body.complianceSettings.allowedCallTimes;
    expect(body.complianceSettings.regulatoryCompliance).toBe('TCPA');
    const created = await call(suite.sandbox, 'POST', '/api/v2/campaigns', { token: suite.token, body });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect((await get(id)).complianceSettings).toMatchObject({ allowedCallTimes: wide });

    const patched = await patch(suite.sandbox, suite.token, id, 1, {
      complianceSettings: { allowedCallTimes: allDay },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ version: 2, complianceSettings: { allowedCallTimes: allDay } });
  });
});
