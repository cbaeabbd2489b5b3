import { describe, expect, it } from 'vitest';
import { api, campaignConfig } from '../e2e/stack.js';
import { stackForSuite } from '../support/stack-suite.js';

/**
 * The compliance refinement runs whatever else failed (`when: () => true`), so it is handed bodies of
 * any shape: none may make it throw (a TypeError there would be a 500, not a 400). Each body below
 * gets the launch's 400 validation_failed and /validate's 200 {valid: false}, with the same issues
 * and nothing enqueued. And a list past its size is no reason to hide the rest's compliance problems.
 */
const suite = stackForSuite();

const window = (start: string, end: string, days: unknown[] = ['mon']) => ({ days, start, end });
const late = window('09:00', '22:00', ['fri']);
const LATE = {
  path: 'allowedCallTimes.1.end',
  message:
    '22:00 is after 21:00 local time (calling hours, TCPA 47 CFR 64.1200(c)(1); FTC TSR 16 CFR 310.4(c))',
};
const valid = campaignConfig() as unknown as Record<string, unknown>;
const wrongTypes = Object.fromEntries(Object.keys(valid).map((key) => [key, 7]));

async function refusedBoth(body: unknown): Promise<Array<{ path: string; message: string }>> {
  const launched = await api(suite.stack, 'POST', '/v1/campaigns', { body });
  expect(launched.status).toBe(400);
  expect(launched.body.error).toBe('validation_failed');
  const checked = await api(suite.stack, 'POST', '/v1/campaigns/validate', { body });
  expect(checked.status).toBe(200);
  expect(checked.body).toEqual({ valid: false, issues: launched.body.issues });
  return launched.body.issues as Array<{ path: string; message: string }>;
}

describe('a body of any shape', () => {
  const bodies: Array<{ label: string; body: unknown }> = [
    { label: 'null', body: null },
    { label: 'an array', body: [] },
    { label: 'an array of configs', body: [valid] },
    { label: 'a string', body: 'config' },
    { label: 'a number', body: 7 },
    { label: 'an empty object', body: {} },
    {
      label: 'every field of a wrong type',
      body: { ...wrongTypes, recipientStates: 7, compliance: 7, pacing: 7 },
    },
    { label: 'every field null', body: Object.fromEntries(Object.keys(valid).map((key) => [key, null])) },
    { label: 'windows as an object', body: { ...valid, allowedCallTimes: { 0: late, length: 1 } } },
    {
      label: 'windows of every wrong shape',
      body: {
        ...valid,
        name: 1,
        allowedCallTimes: [null, 1, 'mon', [], {}, window(9 as never, 22 as never)],
      },
    },
    { label: 'days as an object', body: { ...valid, allowedCallTimes: [{ ...late, days: { 0: 'mon' } }] } },
    {
      label: 'states and compliance of every wrong shape',
      body: { ...valid, name: 1, recipientStates: [null, 1, {}, 'FL'], compliance: { regime: ['OFCOM'] } },
    },
    { label: 'compliance as an array', body: { ...valid, name: 1, compliance: [], recipientStates: ['NY'] } },
    {
      label: 'a list of windows filling the body limit',
      body: { ...valid, allowedCallTimes: Array.from({ length: 1200 }, () => window('07:00', '22:00')) },
    },
  ];
  for (const { label, body } of bodies) {
    it(`refuses ${label} with 400 (and /validate says the same), enqueueing nothing`, async () => {
      const before = await suite.queued();
      const issues = await refusedBoth(body);
      expect(issues.length).toBeGreaterThan(0);
      expect(await suite.queued()).toBe(before);
    });
  }
});

describe('a list past its size beside a compliance problem', () => {
  it('names a window listing eight days and, in another window, an end past 21:00', async () => {
    const eight = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun', 'mon'];
    const issues = await refusedBoth({ ...valid, allowedCallTimes: [window('09:00', '17:00', eight), late] });
    expect(issues).toEqual([
      { path: 'allowedCallTimes.0.days', message: 'Too big: expected array to have <=7 items' },
      LATE,
    ]);
  });

  it('names 29 windows and the OFCOM regime declared for US recipients', async () => {
    const issues = await refusedBoth({
      ...valid,
      allowedCallTimes: Array.from({ length: 29 }, () => window('09:00', '17:00')),
      complianceTimeZone: 'America/New_York',
      recipientStates: ['NY'],
      compliance: { regime: 'OFCOM' },
    });
    expect(issues.map((i) => i.path)).toEqual(['allowedCallTimes', 'compliance.regime']);
  });
});
