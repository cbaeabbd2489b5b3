import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApiApp } from '../../src/producers/app.js';
import { CampaignStore } from '../../src/shared/campaign-store.js';
import { createCommandOrder } from '../../src/shared/lifecycle/order.js';
import { problemsOfMalformedPatch } from '../../src/shared/lifecycle/config-view.js';
import { startHarness, testCampaignConfig, type Harness } from './harness.js';
import { sandboxCounters } from '../support/sandbox-counters.js';

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
  const endpoints = await sandboxCounters(h.sandbox);
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

  it('does not name a problem the campaign already had beside a malformed cut of the call rate', async () => {
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

  it('names a held problem beside any change but a cut of the call rate or the agent capacity', () => {
    const held = { ...testCampaignConfig(), allowedCallTimes: [LATE_MONDAY] };
    const late = { path: 'allowedCallTimes.0.end', message: PAST_HOURS };
    const shape = [{ path: 'name', message: 'must not be empty' }];
    expect(problemsOfMalformedPatch(held, [], { name: '', allowedCallTimes: [LATE_MONDAY] }, shape)).toEqual([
      late,
    ]);
    // Fixed, `{name: …}` would be refused for the window too (validateChange): named now.
    expect(problemsOfMalformedPatch(held, [], { name: '' }, shape)).toEqual([late]);
    // A cut goes through despite it; a malformed reducing field counts as one, a raise does not.
    const capacity = [{ path: 'dialerStrategy.agentCapacity', message: 'must be a whole number' }];
    const cut = { dialerStrategy: { callRate: 0.3, agentCapacity: 1.5 } };
    expect(problemsOfMalformedPatch(held, [], cut, capacity)).toEqual([]);
    const raise = { dialerStrategy: { callRate: 0.9, agentCapacity: 1.5 } };
    expect(problemsOfMalformedPatch(held, [], raise, capacity)).toEqual([late]);
  });

  it('names a drop from a list past its maximum, whose entries zod left unparsed', () => {
    const sixtyOne = Array.from({ length: 61 }, () => 'NY');
    const shape = [{ path: 'recipientStates', message: 'Too big: expected array to have <=60 items' }];
    expect(problemsOfMalformedPatch(current, ['FL'], { recipientStates: sixtyOne }, shape)).toEqual([
      { path: 'recipientStates', message: expect.stringMatching(/^cannot drop FL: /) },
    ]);
    // …and leaves it to the shape errors when an entry is spelt wrong, whether zod named it or not.
    const withFl = [...sixtyOne.slice(1), 'fl'];
    expect(problemsOfMalformedPatch(current, ['FL'], { recipientStates: withFl }, shape)).toEqual([]);
  });
});

describe('PATCH /v1/campaigns/{id}: a malformed patch is merged as a well-formed one would be', () => {
  it('replaces the pacing thresholds whole, never naming a clash the fixed patch would not have', async () => {
    const campaign = await h.campaign(
      'active',
      testCampaignConfig({
        pacing: {
          strategy: 'threshold',
          targetAbandonment: 0.025,
          pollIntervalMs: 15_000,
          thresholds: {
            lowerAnswerRate: 0.1,
            upperAnswerRate: 0.2,
            minCallRate: 0.1,
            maxCallRate: 1,
            step: 0.15,
          },
        },
      }),
    );
    // `thresholds` is one field: {lowerAnswerRate: 0.5} leaves the other bounds at their defaults
    // (upperAnswerRate 0.65), not at the campaign's 0.2 — no "lower must be below upper" here.
    const malformed = await call('PATCH', `/v1/campaigns/${campaign.id}`, {
      pacing: { thresholds: { lowerAnswerRate: 0.5 } },
      dialerStrategy: { callRate: 5 },
    });
    expect(malformed.status).toBe(400);
    expect(malformed.body.issues).toEqual([RATE_TOO_BIG]);
    // The same patch with its shape fixed goes through.
    const fixed = await call('PATCH', `/v1/campaigns/${campaign.id}`, {
      pacing: { thresholds: { lowerAnswerRate: 0.5 } },
      dialerStrategy: { callRate: 0.4 },
    });
    expect(fixed.status).toBe(202);
  });
});

describe('PATCH /v1/campaigns/{id}: a held problem is named when the fixed patch would be refused for it', () => {
  /** An active campaign whose window CXone's console widened past 21:00, synced into the record by a poll. */
  async function widenedInConsole() {
    const campaign = await h.campaign('active');
    const changed = await h.consoleChange(campaign.id, {
      complianceSettings: { allowedCallTimes: [LATE_MONDAY] },
    });
    await new CampaignStore(h.ctx).syncFromCxone(changed);
    return campaign;
  }
  const late = { path: 'allowedCallTimes.0.end', message: PAST_HOURS };

  it('names it beside a change that is not a cut, as the same change fixed is refused', async () => {
    const campaign = await widenedInConsole();
    const malformed = await call('PATCH', `/v1/campaigns/${campaign.id}`, { name: '' });
    expect(malformed.status).toBe(400);
    expect(malformed.body.issues).toEqual([{ path: 'name', message: 'must not be empty' }, late]);
    const fixed = await call('PATCH', `/v1/campaigns/${campaign.id}`, { name: 'Renamed' });
    expect(fixed.status).toBe(400);
    expect(fixed.body.issues).toEqual([late]);
    // An action's patch alike, its shape error at its place in the body.
    const action = await call('POST', `/v1/campaigns/${campaign.id}/actions`, {
      action: 'pause',
      patch: { name: '' },
    });
    expect(action.body.issues).toEqual([{ path: 'patch.name', message: 'must not be empty' }, late]);
  });

  it('leaves it out beside a cut, as the same cut fixed goes through', async () => {
    const campaign = await widenedInConsole();
    const malformed = await call('PATCH', `/v1/campaigns/${campaign.id}`, {
      dialerStrategy: { callRate: 0.3, agentCapacity: 1.5 },
    });
    expect(malformed.status).toBe(400);
    expect(malformed.body.issues).toEqual([
      { path: 'dialerStrategy.agentCapacity', message: 'must be a whole number' },
    ]);
    const fixed = await call('PATCH', `/v1/campaigns/${campaign.id}`, {
      dialerStrategy: { callRate: 0.3, agentCapacity: 10 },
    });
    expect(fixed.status).toBe(202);
  });
});
