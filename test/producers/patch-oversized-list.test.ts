import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateChange } from '../../src/shared/lifecycle/config-view.js';
import { createCommandOrder } from '../../src/shared/lifecycle/order.js';
import { api, campaignConfig, patchOnSandbox, startStack, waitForLaunch, type Stack } from '../e2e/stack.js';

/** 29 calling windows (one past the schema's 28), the last ending past the federal 21:00. */
function twentyNineWindows() {
  const windows = Array.from({ length: 28 }, () => ({ days: ['mon'], start: '09:00', end: '17:00' }));
  return [...windows, { days: ['tue'], start: '09:00', end: '21:30' }];
}

const TOO_MANY = { path: 'allowedCallTimes', message: expect.stringMatching(/28/) };
const PAST_HOURS = {
  path: 'allowedCallTimes.28.end',
  message: expect.stringMatching(/^21:30 is after 21:00 local time/),
};

/**
 * A PATCH is checked as POST /v1/campaigns and /validate check a config (checkCampaignConfig's rules):
 * a list past its maximum in the config the change leaves does not hide the compliance problems of the
 * rest. Real Redis, the sandbox over HTTP, the API and the launch worker; the 29 windows are set in
 * CXone's console (CXone's contract has no maximum), as a PATCH cannot send them.
 */
describe('PATCH /v1/campaigns/{id} on a campaign whose windows are past their maximum', () => {
  let stack: Stack;
  let campaignId: string;

  beforeAll(async () => {
    stack = await startStack({ launchWorker: true });
    const reply = await api(stack, 'POST', '/v1/campaigns', { body: campaignConfig({ name: 'Oversized' }) });
    expect(reply.status).toBe(202);
    const launch = await waitForLaunch(stack, String(reply.body.launchId));
    expect(launch.status).toBe('succeeded');
    campaignId = String(launch.campaignId);
    const changed = await patchOnSandbox(stack.sandbox, campaignId, {
      complianceSettings: { allowedCallTimes: twentyNineWindows() },
    });
    expect(changed.status).toBe(200);
  });

  afterAll(async () => {
    await stack?.close();
  });

  it('answers the size error and the compliance problems of the rest, and queues nothing', async () => {
    const reply = await api(stack, 'PATCH', `/v1/campaigns/${campaignId}`, { body: { name: 'Renamed' } });
    expect(reply.status).toBe(400);
    expect(reply.body.error).toBe('validation_failed');
    expect(reply.body.issues).toEqual([TOO_MANY, PAST_HOURS]);
    expect(await createCommandOrder(stack.ctx).pending(campaignId)).toEqual([]);
  });

  it('still lets a rate cut through: it brings no problem of its own', async () => {
    // From the rate the campaign runs at now (the launch's safe start may have lowered it).
    const view = await api(stack, 'GET', `/v1/campaigns/${campaignId}`);
    const { callRate } = (view.body.config as { dialerStrategy: { callRate: number } }).dialerStrategy;
    const cut = Math.max(0.1, Math.round((callRate - 0.05) * 100) / 100);
    const reply = await api(stack, 'PATCH', `/v1/campaigns/${campaignId}`, {
      body: { dialerStrategy: { callRate: cut } },
    });
    expect(reply.status).toBe(202);
  });
});

describe('validateChange (the PATCH, action and rebase check)', () => {
  const current = {
    ...campaignConfig(),
    allowedCallTimes: twentyNineWindows(),
  } as unknown as Parameters<typeof validateChange>[0];

  it('names every problem of a config with a list past its maximum', () => {
    const merged = { ...current, name: 'Renamed' };
    expect(validateChange(current, merged, { name: 'Renamed' })).toEqual({
      ok: false,
      issues: [TOO_MANY, PAST_HOURS],
    });
  });

  it('tells what a cut brings from what the config already held, with the same check on both', () => {
    const cut = { ...current, dialerStrategy: { ...current.dialerStrategy, callRate: 0.3 } };
    expect(validateChange(current, cut, { 'dialerStrategy.callRate': 0.3 })).toMatchObject({ ok: true });
    const raise = { ...current, dialerStrategy: { ...current.dialerStrategy, callRate: 0.9 } };
    expect(validateChange(current, raise, { 'dialerStrategy.callRate': 0.9 })).toEqual({
      ok: false,
      issues: [TOO_MANY, PAST_HOURS],
    });
  });

  it('compares findings only under a cut, where the windows are the ones the config holds', () => {
    // Four windows, the third past 21:00; a PATCH replaces them with three, the last past 21:00 too:
    // `allowedCallTimes.2.end` with the same message on both sides, but a different window. Not a
    // cut, so it is refused with every problem of the result, never matched against what was held.
    const held = {
      ...campaignConfig(),
      allowedCallTimes: [
        { days: ['mon'], start: '09:00', end: '17:00' },
        { days: ['tue'], start: '09:00', end: '17:00' },
        { days: ['wed'], start: '09:00', end: '21:30' },
        { days: ['thu'], start: '09:00', end: '17:00' },
      ],
    } as unknown as Parameters<typeof validateChange>[0];
    const windows = [
      { days: ['fri'], start: '09:00', end: '17:00' },
      { days: ['sat'], start: '10:00', end: '17:00' },
      { days: ['sun'], start: '10:00', end: '21:30' },
    ];
    const pastHours = [
      { path: 'allowedCallTimes.2.end', message: expect.stringMatching(/^21:30 is after 21:00/) },
    ];
    expect(
      validateChange(held, { ...held, allowedCallTimes: windows }, { allowedCallTimes: windows }),
    ).toEqual({
      ok: false,
      issues: pastHours,
    });
    // With a cut beside it, still not only a cut.
    const both = {
      ...held,
      allowedCallTimes: windows,
      dialerStrategy: { ...held.dialerStrategy, callRate: 0.3 },
    };
    expect(validateChange(held, both, { allowedCallTimes: windows, 'dialerStrategy.callRate': 0.3 })).toEqual(
      { ok: false, issues: pastHours },
    );
    // The cut alone goes through: its windows are the config's own, index for index.
    const cut = { ...held, dialerStrategy: { ...held.dialerStrategy, callRate: 0.3 } };
    expect(validateChange(held, cut, { 'dialerStrategy.callRate': 0.3 })).toMatchObject({ ok: true });
  });
});
