import { describe, expect, it } from 'vitest';
import { campaignHistory, sandboxForSuite } from '../support/sandbox-suite.js';
import { activeCampaign, call, createCampaign, patch } from './helpers.js';

/**
 * The seed's PATCH bodies (seed-tutorial.txt, Step 2 and the complete example) carry the version
 * they were written against beside If-Match: `{...changes, status, version}`. That is the contract's
 * own request, not an unknown field: the sandbox takes it, and holds it to the same rule as If-Match
 * (it must be the campaign's current version), so it is never a way around the version check.
 */
describe('sandbox PATCH with the version in the body, as the seed sends it', () => {
  const suite = sandboxForSuite();

  it("applies the seed's monitor adjustment {dialerSettings, status, version} at the current version", async () => {
    const { id, version } = await activeCampaign(suite.sandbox, suite.token);
    const adjusted = await patch(suite.sandbox, suite.token, id, version, {
      dialerSettings: { callRate: 0.6 },
      status: 'active',
      version,
    });
    expect(adjusted.status).toBe(200);
    expect(adjusted.body).toMatchObject({ version: version + 1, status: 'active' });
    expect(adjusted.body.dialerSettings).toMatchObject({ callRate: 0.6 });
    // The version is the precondition, not a change: history records the call rate alone.
    const last = (await campaignHistory(suite.sandbox, suite.token, id)).at(-1);
    expect(last).toMatchObject({ version: version + 1, action: 'updated' });
    expect(Object.keys(last?.changes ?? {})).toEqual(['dialerSettings.callRate']);
  });

  it('answers 409 version_conflict with currentVersion when the body version is stale, and changes nothing', async () => {
    const id = (await createCampaign(suite.sandbox, suite.token)).body.id as string;
    expect((await patch(suite.sandbox, suite.token, id, 1, { name: 'second' })).status).toBe(200);
    // If-Match is current, the body's version is not: the client wrote against version 1.
    const stale = await patch(suite.sandbox, suite.token, id, 2, { name: 'third', version: 1 });
    expect(stale.status).toBe(409);
    expect(stale.body).toMatchObject({ error: 'version_conflict', currentVersion: 2 });
    // A body version ahead of the campaign is no better.
    const ahead = await patch(suite.sandbox, suite.token, id, 2, { name: 'third', version: 3 });
    expect(ahead).toMatchObject({ status: 409, body: { error: 'version_conflict', currentVersion: 2 } });
    const now = await call(suite.sandbox, 'GET', `/api/v2/campaigns/${id}`, { token: suite.token });
    expect(now.body).toMatchObject({ version: 2, name: 'second' });
    expect(await campaignHistory(suite.sandbox, suite.token, id)).toHaveLength(2);
  });

  it('refuses a body version that is not a whole number from 1, naming version among the other problems', async () => {
    const id = (await createCampaign(suite.sandbox, suite.token)).body.id as string;
    for (const version of ['1', 0, 1.5, null, -1]) {
      const bad = await patch(suite.sandbox, suite.token, id, 1, {
        version,
        dialerSettings: { callRate: 7 },
      });
      expect(bad.status, JSON.stringify(version)).toBe(422);
      expect((bad.body.errors as { field: string }[]).map((e) => e.field).sort()).toEqual([
        'dialerSettings.callRate',
        'version',
      ]);
    }
    // A version alone names nothing to change, like an empty body.
    const nothing = await patch(suite.sandbox, suite.token, id, 1, { version: 1 });
    expect(nothing.status).toBe(422);
    expect(nothing.body.errors).toEqual([{ field: '(body)', message: 'must change at least one field' }]);
    const untouched = await call(suite.sandbox, 'GET', `/api/v2/campaigns/${id}`, { token: suite.token });
    expect(untouched.body).toMatchObject({ version: 1 });
  });

  it('still needs If-Match: a body version does not stand in for it', async () => {
    const id = (await createCampaign(suite.sandbox, suite.token)).body.id as string;
    const missing = await call(suite.sandbox, 'PATCH', `/api/v2/campaigns/${id}`, {
      token: suite.token,
      body: { name: 'renamed', version: 1 },
    });
    expect(missing).toMatchObject({ status: 428, body: { error: 'precondition_required' } });
  });

  it('answers 409 when If-Match is stale and the body version current: whichever is stale wins', async () => {
    const id = (await createCampaign(suite.sandbox, suite.token)).body.id as string;
    expect((await patch(suite.sandbox, suite.token, id, 1, { name: 'second' })).status).toBe(200);
    const stale = await patch(suite.sandbox, suite.token, id, 1, { name: 'third', version: 2 });
    expect(stale).toMatchObject({ status: 409, body: { error: 'version_conflict', currentVersion: 2 } });
    const now = await call(suite.sandbox, 'GET', `/api/v2/campaigns/${id}`, { token: suite.token });
    expect(now.body).toMatchObject({ version: 2, name: 'second' });
  });

  it('answers 422 before 409: a stale body version beside an invalid field names the field', async () => {
    const id = (await createCampaign(suite.sandbox, suite.token)).body.id as string;
    expect((await patch(suite.sandbox, suite.token, id, 1, { name: 'second' })).status).toBe(200);
    const both = await patch(suite.sandbox, suite.token, id, 2, {
      version: 1,
      dialerSettings: { callRate: 7 },
    });
    expect(both.status).toBe(422);
    expect((both.body.errors as { field: string }[]).map((e) => e.field)).toEqual([
      'dialerSettings.callRate',
    ]);
  });

  it('is refused by the console route, which always writes on the current version', async () => {
    const id = (await createCampaign(suite.sandbox, suite.token)).body.id as string;
    const consoled = await call(suite.sandbox, 'POST', `/__sandbox/campaigns/${id}/console`, {
      body: { name: 'console', version: 1 },
    });
    expect(consoled.status).toBe(422);
    expect(consoled.body.errors).toEqual([{ field: 'version', message: expect.any(String) }]);
    const now = await call(suite.sandbox, 'GET', `/api/v2/campaigns/${id}`, { token: suite.token });
    expect(now.body).toMatchObject({ version: 1 });
  });
});
