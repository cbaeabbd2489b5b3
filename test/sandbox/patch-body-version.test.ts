import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/sandbox/server.js';
import { historyPageSchema } from '../../src/shared/cxone/wire.js';
import { activeCampaign, call, createCampaign, patch, start, tokenFor } from './helpers.js';

/**
 * The seed's PATCH bodies (seed-tutorial.txt, Step 2 and the complete example) carry the version
 * they were written against beside If-Match: `{...changes, status, version}`. That is the contract's
 * own request, not an unknown field: the sandbox takes it, and holds it to the same rule as If-Match
 * (it must be the campaign's current version), so it is never a way around the version check.
 */
describe('sandbox PATCH with the version in the body, as the seed sends it', () => {
  let sandbox: RunningSandbox;
  let token: string;
  beforeAll(async () => {
    sandbox = await start();
    token = await tokenFor(sandbox);
  });
  afterAll(async () => {
    await sandbox.close();
  });

  async function records(id: string) {
    const res = await call(sandbox, 'GET', `/api/v2/outbound/campaigns/${id}/history?pageSize=500`, {
      token,
    });
    return historyPageSchema.parse(res.body).records;
  }

  it("applies the seed's monitor adjustment {dialerSettings, status, version} at the current version", async () => {
    const { id, version } = await activeCampaign(sandbox, token);
    const adjusted = await patch(sandbox, token, id, version, {
      dialerSettings: { callRate: 0.6 },
      status: 'active',
      version,
    });
    expect(adjusted.status).toBe(200);
    expect(adjusted.body).toMatchObject({ version: version + 1, status: 'active' });
    expect(adjusted.body.dialerSettings).toMatchObject({ callRate: 0.6 });
    // The version is the precondition, not a change: history records the call rate alone.
    const last = (await records(id)).at(-1);
    expect(last).toMatchObject({ version: version + 1, action: 'updated' });
    expect(Object.keys(last?.changes ?? {})).toEqual(['dialerSettings.callRate']);
  });

  it('answers 409 version_conflict with currentVersion when the body version is stale, and changes nothing', async () => {
    const id = (await createCampaign(sandbox, token)).body.id as string;
    expect((await patch(sandbox, token, id, 1, { name: 'second' })).status).toBe(200);
    // If-Match is current, the body's version is not: the client wrote against version 1.
    const stale = await patch(sandbox, token, id, 2, { name: 'third', version: 1 });
    expect(stale.status).toBe(409);
    expect(stale.body).toMatchObject({ error: 'version_conflict', currentVersion: 2 });
    // A body version ahead of the campaign is no better.
    const ahead = await patch(sandbox, token, id, 2, { name: 'third', version: 3 });
    expect(ahead).toMatchObject({ status: 409, body: { error: 'version_conflict', currentVersion: 2 } });
    const now = await call(sandbox, 'GET', `/api/v2/campaigns/${id}`, { token });
    expect(now.body).toMatchObject({ version: 2, name: 'second' });
    expect(await records(id)).toHaveLength(2);
  });

  it('refuses a body version that is not a whole number from 1, naming version among the other problems', async () => {
    const id = (await createCampaign(sandbox, token)).body.id as string;
    for (const version of ['1', 0, 1.5, null, -1]) {
      const bad = await patch(sandbox, token, id, 1, { version, dialerSettings: { callRate: 7 } });
      expect(bad.status, JSON.stringify(version)).toBe(422);
      expect((bad.body.errors as { field: string }[]).map((e) => e.field).sort()).toEqual([
        'dialerSettings.callRate',
        'version',
      ]);
    }
    // A version alone names nothing to change, like an empty body.
    const nothing = await patch(sandbox, token, id, 1, { version: 1 });
    expect(nothing.status).toBe(422);
    expect(nothing.body.errors).toEqual([{ field: '(body)', message: 'must change at least one field' }]);
    const untouched = await call(sandbox, 'GET', `/api/v2/campaigns/${id}`, { token });
    expect(untouched.body).toMatchObject({ version: 1 });
  });

  it('still needs If-Match: a body version does not stand in for it', async () => {
    const id = (await createCampaign(sandbox, token)).body.id as string;
    const missing = await call(sandbox, 'PATCH', `/api/v2/campaigns/${id}`, {
      token,
      body: { name: 'renamed', version: 1 },
    });
    expect(missing).toMatchObject({ status: 428, body: { error: 'precondition_required' } });
  });
});
