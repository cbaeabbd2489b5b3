import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApiApp } from '../../src/producers/app.js';
import { CampaignStore } from '../../src/shared/campaign-store.js';
import { createCommandOrder } from '../../src/shared/lifecycle/order.js';
import { problemsOfMalformedPatch } from '../../src/shared/lifecycle/config-view.js';
import { startHarness, testCampaignConfig, type Harness } from './harness.js';

/**
 * A PATCH (or an action's patch) is answered with every problem at once, as a launch and /validate
 * are: its shape errors, the dropped-states refusal and the compliance problems of what is usable of
 * it merged onto the campaign — and a malformed one without spending CXone's budget on a read. Real
 * Redis, the sandbox and the API over real HTTP.
 */
let h: Harness;
let app: FastifyInstance;
let apiUrl: string;

beforeAll(async () => {
  h = await startHarness();
  app = await buildApiApp(h.ctx);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  apiUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

afterAll(async () => {
  await app?.close();
  await h?.close();
});

async function call(method: string, path: string, body: unknown) {
  const res = await fetch(`${apiUrl}${path}`, {
    method,
    headers: {
      authorization: 'Bearer lifecycle-test-token',
      'x-actor': 'alice',
      'content-type': 'application/json',
    },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Every request the sandbox has seen, all endpoints together. */
async function cxoneRequests(): Promise<number> {
  const res = await fetch(`${h.sandbox.url}/__sandbox/counters`);
  const { endpoints } = (await res.json()) as { endpoints: Record<string, { requests: number }> };
  return Object.values(endpoints).reduce((sum, e) => sum + e.requests, 0);
}

const PAST_HOURS = expect.stringMatching(/^22:00 is after 21:00 local time/);
const RATE_TOO_BIG = { path: 'dialerStrategy.callRate', message: expect.stringMatching(/<=1/) };
const EIGHT_DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun', 'mon'];
const LATE_MONDAY = { days: ['mon' as const], start: '08:00', end: '22:00' };

describe('PATCH /v1/campaigns/{id}: every problem of the patch in one answer', () => {
  it('names a shape error and the calling-hours breach beside it, without a CXone read or a queued command', async () => {
    const campaign = await h.campaign('active');
    const before = await cxoneRequests();
    const reply = await call('PATCH', `/v1/campaigns/${campaign.id}`, {
      allowedCallTimes: [LATE_MONDAY],
      dialerStrategy: { callRate: 5 },
    });
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({
      error: 'validation_failed',
      issues: [RATE_TOO_BIG, { path: 'allowedCallTimes.0.end', message: PAST_HOURS }],
    });
    expect((reply.body.issues as unknown[]).length).toBe(2);
    // The base was the orchestrator's record: no token, no GET, nothing spent on CXone's budget.
    expect(await cxoneRequests()).toBe(before);
    expect(await createCommandOrder(h.ctx).pending(campaign.id)).toEqual([]);
  });

  it("answers a window past its size with the rest's problems, as /validate answers the same windows", async () => {
    const campaign = await h.campaign('active');
    const windows = [
      { days: EIGHT_DAYS, start: '09:00', end: '17:00' },
      { days: ['tue'], start: '09:00', end: '22:00' },
    ];
    const reply = await call('PATCH', `/v1/campaigns/${campaign.id}`, { allowedCallTimes: windows });
    expect(reply.status).toBe(400);
    const issues = [
      { path: 'allowedCallTimes.0.days', message: expect.stringMatching(/<=7/) },
      { path: 'allowedCallTimes.1.end', message: PAST_HOURS },
    ];
    expect(reply.body.issues).toEqual(issues);
    const validated = await call('POST', '/v1/campaigns/validate', {
      ...testCampaignConfig(),
      allowedCallTimes: windows,
    });
    expect(validated.body).toEqual({ valid: false, issues: reply.body.issues });
  });

  it('names the dropped states beside the other problems, for a well-formed and a malformed patch', async () => {
    const campaign = await h.campaign(
      'active',
      testCampaignConfig({ complianceTimeZone: 'America/New_York', recipientStates: ['NJ', 'PA', 'NY'] }),
    );
    const dropped = {
      path: 'recipientStates',
      message: expect.stringMatching(/^cannot drop NJ, PA: /),
    };
    const late = { path: 'allowedCallTimes.0.end', message: PAST_HOURS };
    // Well-formed: checked on CXone's fresh read, as before, but no longer the drop alone.
    const wellFormed = await call('PATCH', `/v1/campaigns/${campaign.id}`, {
      recipientStates: ['NY'],
      allowedCallTimes: [LATE_MONDAY],
    });
    expect(wellFormed.status).toBe(400);
    expect(wellFormed.body.issues).toEqual([dropped, late]);

    const before = await cxoneRequests();
    const malformed = await call('PATCH', `/v1/campaigns/${campaign.id}`, {
      recipientStates: ['NY'],
      allowedCallTimes: [LATE_MONDAY],
      dialerStrategy: { callRate: 5 },
    });
    expect(malformed.status).toBe(400);
    expect(malformed.body.issues).toEqual([RATE_TOO_BIG, dropped, late]);
    // An action's patch the same way: its shape errors at their place in the body, the rest at the
    // config's paths, as a well-formed action's patch is answered.
    const action = await call('POST', `/v1/campaigns/${campaign.id}/actions`, {
      action: 'pause',
      patch: { recipientStates: ['NY'], allowedCallTimes: [LATE_MONDAY], dialerStrategy: { callRate: 5 } },
    });
    expect(action.status).toBe(400);
    expect(action.body.issues).toEqual([
      { ...RATE_TOO_BIG, path: 'patch.dialerStrategy.callRate' },
      dropped,
      late,
    ]);
    expect(await cxoneRequests()).toBe(before);
    expect(await createCommandOrder(h.ctx).pending(campaign.id)).toEqual([]);
  });

  it('does not name a problem the campaign already had in a field the patch leaves alone', async () => {
    const campaign = await h.campaign('active');
    // Widened past 21:00 in CXone's console; a poll's sync puts it in the record.
    const changed = await h.consoleChange(campaign.id, {
      complianceSettings: { allowedCallTimes: [LATE_MONDAY] },
    });
    await new CampaignStore(h.ctx).syncFromCxone(changed);
    const reply = await call('PATCH', `/v1/campaigns/${campaign.id}`, { dialerStrategy: { callRate: 5 } });
    expect(reply.status).toBe(400);
    expect(reply.body.issues).toEqual([RATE_TOO_BIG]);
  });

  it('answers a malformed patch 400 with its shape errors for a campaign it does not know', async () => {
    const reply = await call('PATCH', '/v1/campaigns/no-such-campaign', {
      allowedCallTimes: [LATE_MONDAY],
      dialerStrategy: { callRate: 5 },
    });
    expect(reply.status).toBe(400);
    expect(reply.body.issues).toEqual([RATE_TOO_BIG]);
    // A well-formed one is looked up, and is unknown.
    const known = await call('PATCH', '/v1/campaigns/no-such-campaign', {
      dialerStrategy: { callRate: 0.4 },
    });
    expect(known.status).toBe(404);
  });
});

describe('problemsOfMalformedPatch', () => {
  const current = testCampaignConfig({ complianceTimeZone: 'America/New_York', recipientStates: ['FL'] });

  it('leaves a misspelt state to its shape error rather than calling it a drop', () => {
    const shape = [
      { path: 'recipientStates.0', message: 'must be a two-letter USPS state code such as "FL"' },
    ];
    expect(problemsOfMalformedPatch(current, ['FL'], { recipientStates: ['fl'] }, shape)).toEqual([]);
  });

  it('names a held problem again where the patch rewrites the field that holds it', () => {
    const held = { ...testCampaignConfig(), allowedCallTimes: [LATE_MONDAY] };
    const shape = [{ path: 'name', message: 'must not be empty' }];
    const sent = { name: '', allowedCallTimes: [LATE_MONDAY] };
    expect(problemsOfMalformedPatch(held, [], sent, shape)).toEqual([
      { path: 'allowedCallTimes.0.end', message: PAST_HOURS },
    ]);
    expect(problemsOfMalformedPatch(held, [], { name: '' }, shape)).toEqual([]);
  });
});
