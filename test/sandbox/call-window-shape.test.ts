import { describe, expect, it } from 'vitest';
import { sandboxForSuite } from '../support/sandbox-suite.js';
import { call, createBody, createCampaign, patch } from './helpers.js';

/**
 * The calling windows CXone refuses in its create and update bodies, as the orchestrator refuses
 * them at submit (no days, an empty or midnight-crossing window, "24:00", a day in another case):
 * 422 with CXone's `{errors: [{field, message}]}`. And what CXone takes, the sandbox takes too: a
 * day listed twice (its console may save one) and windows of one day that overlap.
 */
describe('sandbox calling windows', () => {
  const suite = sandboxForSuite();

  const withWindows = (allowedCallTimes: unknown) => {
    const body = createBody();
    return { ...body, complianceSettings: { ...body.complianceSettings, allowedCallTimes } };
  };

  const refused: Array<{ label: string; windows: unknown; field: string; message: RegExp }> = [
    {
      label: 'no days',
      windows: [{ days: [], start: '09:00', end: '17:00' }],
      field: 'complianceSettings.allowedCallTimes.0.days',
      message: /at least one day/,
    },
    {
      label: 'start equal to end',
      windows: [{ days: ['mon'], start: '12:00', end: '12:00' }],
      field: 'complianceSettings.allowedCallTimes.0.end',
      message: /must be after start \(12:00\)/,
    },
    {
      label: 'a window crossing midnight',
      windows: [{ days: ['mon'], start: '20:00', end: '01:00' }],
      field: 'complianceSettings.allowedCallTimes.0.end',
      message: /must be after start \(20:00\)/,
    },
    {
      label: '"24:00"',
      windows: [{ days: ['mon'], start: '09:00', end: '24:00' }],
      field: 'complianceSettings.allowedCallTimes.0.end',
      message: /"24:00" is not one/,
    },
    {
      label: 'a day in upper case',
      windows: [{ days: ['tue', 'Mon'], start: '09:00', end: '17:00' }],
      field: 'complianceSettings.allowedCallTimes.0.days.1',
      message: /^"Mon" must be written "mon"/,
    },
  ];

  for (const c of refused) {
    it(`refuses ${c.label} on create and on update, with 422 naming the field`, async () => {
      const before = suite.sandbox.campaignCount();
      const created = await call(suite.sandbox, 'POST', '/api/v2/campaigns', {
        token: suite.token,
        body: withWindows(c.windows),
      });
      expect(created.status).toBe(422);
      expect(created.body).toMatchObject({ error: 'validation_failed' });
      expect(created.body.errors).toEqual([{ field: c.field, message: expect.stringMatching(c.message) }]);
      expect(suite.sandbox.campaignCount()).toBe(before);

      const id = (await createCampaign(suite.sandbox, suite.token)).body.id as string;
      const updated = await patch(suite.sandbox, suite.token, id, 1, {
        complianceSettings: { allowedCallTimes: c.windows },
      });
      expect(updated.status).toBe(422);
      expect(updated.body.errors).toEqual([{ field: c.field, message: expect.stringMatching(c.message) }]);
      const got = await call(suite.sandbox, 'GET', `/api/v2/campaigns/${id}`, { token: suite.token });
      expect(got.body).toMatchObject({ version: 1 });
    });
  }

  it('takes a day listed twice and overlapping windows of a day, as CXone does', async () => {
    const windows = [
      { days: ['mon', 'mon', 'tue'], start: '09:00', end: '17:00' },
      { days: ['mon'], start: '12:00', end: '19:00' },
    ];
    const created = await createCampaign(
      suite.sandbox,
      suite.token,
      withWindows(windows) as ReturnType<typeof createBody>,
    );
    const id = created.body.id as string;
    const got = await call(suite.sandbox, 'GET', `/api/v2/campaigns/${id}`, { token: suite.token });
    expect((got.body.complianceSettings as { allowedCallTimes: unknown }).allowedCallTimes).toEqual(windows);
    const updated = await patch(suite.sandbox, suite.token, id, 1, {
      complianceSettings: { allowedCallTimes: [...windows, { days: ['mon'], start: '09:00', end: '17:00' }] },
    });
    expect(updated.status).toBe(200);
  });
});
