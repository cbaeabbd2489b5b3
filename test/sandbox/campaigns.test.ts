import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/sandbox/server.js';
import { SANDBOX_DIRECTORY } from '../../src/sandbox/directory.js';
import { campaignHistory } from '../support/sandbox-suite.js';
import { call, CONSOLE, createBody, createCampaign, patch, start, tokenFor } from './helpers.js';

describe('sandbox campaigns', () => {
  let sandbox: RunningSandbox;
  let token: string;
  let consoleToken: string;
  beforeAll(async () => {
    sandbox = await start();
    token = await tokenFor(sandbox);
    consoleToken = await tokenFor(sandbox, CONSOLE);
  });
  afterAll(async () => {
    await sandbox.close();
  });

  const history = (id: string) => campaignHistory(sandbox, token, id);

  it('creates a draft campaign at version 1 and serves it back', async () => {
    const body = createBody();
    const created = await createCampaign(sandbox, token, body);
    // The contract's answer and nothing more: the settings are read back with GET, as on CXone.
    expect(Object.keys(created.body).sort()).toEqual(['createdAt', 'id', 'status', 'version']);
    expect(created.body).toMatchObject({ version: 1, status: 'draft' });
    expect(created.headers.get('location')).toBe(`/api/v2/campaigns/${created.body.id}`);
    const got = await call(sandbox, 'GET', `/api/v2/campaigns/${created.body.id}`, { token });
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ ...body, id: created.body.id, version: 1, status: 'draft' });
    expect(sandbox.campaignCount()).toBeGreaterThanOrEqual(1);
  });

  it('refuses lists and skill groups the tenant lacks, and more agents than the group holds', async () => {
    const base = createBody();
    const unknownList = '11111111-2222-4333-8444-555555555555';
    const unknownGroup = '66666666-7777-4888-9999-000000000000';
    const refused = await call(sandbox, 'POST', '/api/v2/campaigns', {
      token,
      body: {
        ...base,
        targetListId: unknownList,
        dialerSettings: { ...base.dialerSettings, skillGroupId: unknownGroup },
      },
    });
    expect(refused.status).toBe(422);
    expect(refused.body.errors).toEqual([
      { field: 'targetListId', message: `no target list ${unknownList} in this tenant` },
      { field: 'dialerSettings.skillGroupId', message: `no skill group ${unknownGroup} in this tenant` },
    ]);
    // Named with every other problem of the body, in the same 422.
    const several = await call(sandbox, 'POST', '/api/v2/campaigns', {
      token,
      body: {
        ...base,
        type: 'progressive',
        targetListId: unknownList,
        dialerSettings: { ...base.dialerSettings, callRate: 5 },
      },
    });
    expect((several.body.errors as { field: string }[]).map((e) => e.field).sort()).toEqual([
      'dialerSettings.callRate',
      'targetListId',
      'type',
    ]);
    const collections = SANDBOX_DIRECTORY.skillGroups.find((g) => g.agents < 500)!;
    const tooMany = await call(sandbox, 'POST', '/api/v2/campaigns', {
      token,
      body: {
        ...base,
        dialerSettings: {
          ...base.dialerSettings,
          skillGroupId: collections.id,
          agentCapacity: collections.agents + 1,
        },
      },
    });
    expect(tooMany.status).toBe(422);
    expect(tooMany.body.errors).toEqual([
      {
        field: 'dialerSettings.agentCapacity',
        message: `${collections.agents + 1} is more than the ${collections.agents} agents of skill group "${collections.name}"`,
      },
    ]);

    // PATCH and the console are held to the same directory; nothing changes on a refusal.
    const created = await createCampaign(sandbox, token);
    const id = String(created.body.id);
    const moved = await patch(sandbox, token, id, 1, { dialerSettings: { skillGroupId: unknownGroup } });
    expect(moved.status).toBe(422);
    expect((moved.body.errors as { field: string }[]).map((e) => e.field)).toEqual([
      'dialerSettings.skillGroupId',
    ]);
    const shrunk = await patch(sandbox, token, id, 1, {
      dialerSettings: { skillGroupId: collections.id, agentCapacity: collections.agents + 1 },
    });
    expect(shrunk.status).toBe(422);
    expect((shrunk.body.errors as { field: string }[]).map((e) => e.field)).toEqual([
      'dialerSettings.agentCapacity',
    ]);
    const console = await call(sandbox, 'POST', `/__sandbox/campaigns/${id}/console`, {
      body: { dialerSettings: { skillGroupId: unknownGroup } },
    });
    expect(console.status).toBe(422);
    expect((await call(sandbox, 'GET', `/api/v2/campaigns/${id}`, { token })).body.version).toBe(1);

    // A tenant's own lists and groups are added through the control surface.
    const added = await call(sandbox, 'POST', '/__sandbox/directory', {
      body: {
        targetLists: [{ id: unknownList, name: 'Imported list' }],
        skillGroups: [{ id: unknownGroup, name: 'Night shift', agents: 30 }],
      },
    });
    expect(added.status).toBe(200);
    const accepted = await call(sandbox, 'POST', '/api/v2/campaigns', {
      token,
      body: {
        ...base,
        targetListId: unknownList,
        dialerSettings: { ...base.dialerSettings, skillGroupId: unknownGroup },
      },
    });
    expect(accepted.status).toBe(201);
  });

  it('answers 405 with Allow for a method a route does not serve, and 406 for an Accept it cannot meet', async () => {
    const created = await createCampaign(sandbox, token);
    const url = `/api/v2/campaigns/${String(created.body.id)}`;
    const deleted = await call(sandbox, 'DELETE', url, { token });
    expect(deleted.status).toBe(405);
    expect(deleted.headers.get('allow')).toBe('GET, PATCH');
    expect(deleted.body.error).toBe('method_not_allowed');
    const xml = await call(sandbox, 'GET', url, { token, headers: { accept: 'application/xml' } });
    expect(xml.status).toBe(406);
    expect(xml.body.error).toBe('not_acceptable');
    // The most specific range decides (RFC 9110 §12.5.1): a wider one does not outvote JSON's q=0.
    for (const accept of [
      'application/json;q=0, text/html',
      'application/json;q=0, */*',
      'application/json;q=0, application/*',
      'application/*;q=0, */*',
    ]) {
      const refusedJson = await call(sandbox, 'GET', url, { token, headers: { accept } });
      expect(refusedJson.status, accept).toBe(406);
    }
    for (const accept of [
      'application/json',
      '*/*',
      'application/*;q=0.5',
      'text/html, application/json;charset=utf-8',
      '*/*;q=0, application/json',
    ]) {
      expect((await call(sandbox, 'GET', url, { token, headers: { accept } })).status, accept).toBe(200);
    }
  });

  it("keeps a campaign's type its dialing mode: a create where they disagree is refused, a PATCH moves both", async () => {
    const base = createBody();
    const mismatched = await call(sandbox, 'POST', '/api/v2/campaigns', {
      token,
      body: { ...base, type: 'preview' },
    });
    expect(mismatched.status).toBe(422);
    expect(mismatched.body.errors).toEqual([
      {
        field: 'type',
        message: expect.stringMatching(/^must match dialerSettings.strategy \("predictive"\)/),
      },
    ]);
    const created = await createCampaign(sandbox, token);
    const moved = await patch(sandbox, token, String(created.body.id), 1, {
      dialerSettings: { strategy: 'progressive' },
    });
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({ type: 'progressive', dialerSettings: { strategy: 'progressive' } });
  });

  it('says "required" for a field left out, and refuses an If-Match version with a leading zero', async () => {
    const { name: _name, ...withoutName } = createBody();
    const missing = await call(sandbox, 'POST', '/api/v2/campaigns', { token, body: withoutName });
    expect(missing.status).toBe(422);
    expect(missing.body.errors).toEqual([{ field: 'name', message: 'required' }]);
    const created = await createCampaign(sandbox, token);
    const padded = await call(sandbox, 'PATCH', `/api/v2/campaigns/${String(created.body.id)}`, {
      token,
      body: { name: 'x' },
      headers: { 'if-match': 'version=01' },
    });
    expect(padded.status).toBe(400);
    expect(padded.body.error).toBe('invalid_if_match');
  });

  it('refuses a time zone spelt in another case than the tz database, on create and on PATCH, naming the spelling', async () => {
    const body = createBody();
    for (const zone of ['america/new_york', 'AMERICA/CHICAGO', 'Europe/london']) {
      const res = await call(sandbox, 'POST', '/api/v2/campaigns', {
        token,
        body: { ...body, complianceSettings: { ...body.complianceSettings, timeZone: zone } },
      });
      expect(res.status, zone).toBe(422);
      expect(res.body.errors, zone).toEqual([
        expect.objectContaining({ field: 'complianceSettings.timeZone' }),
      ]);
    }
    const id = (await createCampaign(sandbox, token)).body.id as string;
    const lower = await patch(sandbox, token, id, 1, { complianceSettings: { timeZone: 'europe/london' } });
    expect(lower.status).toBe(422);
    expect(String((lower.body.errors as { message: string }[])[0]?.message)).toContain('Europe/London');
    // The tz database's own spellings, links among them, stay valid.
    for (const [version, zone] of [
      [1, 'Europe/London'],
      [2, 'US/Eastern'],
      [3, 'UTC'],
    ] as const) {
      const res = await patch(sandbox, token, id, version, { complianceSettings: { timeZone: zone } });
      expect(res.status, zone).toBe(200);
    }
  });

  it('refuses a blank name or one with control characters, on create and on PATCH, naming name', async () => {
    for (const name of ['   ', '\t', 'Spring\nrenewals', 'a\u0000b', 'bell\u0007', 'a\u2028b', '\u200b']) {
      const res = await call(sandbox, 'POST', '/api/v2/campaigns', { token, body: createBody({ name }) });
      expect(res.status, JSON.stringify(name)).toBe(422);
      expect(res.body.errors, JSON.stringify(name)).toEqual([expect.objectContaining({ field: 'name' })]);
    }
    const id = (await createCampaign(sandbox, token)).body.id as string;
    const blank = await patch(sandbox, token, id, 1, { name: ' ' });
    expect(blank.status).toBe(422);
    expect(blank.body.errors).toEqual([
      expect.objectContaining({ field: 'name', message: 'must not be blank' }),
    ]);
    // Inner spaces and letters outside ASCII are ordinary names.
    const fine = await patch(sandbox, token, id, 1, { name: 'Rückruf – Frühjahr 2026' });
    expect(fine.status).toBe(200);
  });

  it('refuses a name holding a lone surrogate (no UTF-8 form), on create, PATCH and the console; pairs are fine', async () => {
    for (const name of ['Spring \ud800', '\udc00 renewals', 'a\udc00\ud800b']) {
      const res = await call(sandbox, 'POST', '/api/v2/campaigns', { token, body: createBody({ name }) });
      expect(res.status, JSON.stringify(name)).toBe(422);
      expect(res.body.errors, JSON.stringify(name)).toEqual([
        { field: 'name', message: 'must be valid Unicode text (it holds a lone surrogate)' },
      ]);
    }
    const id = (await createCampaign(sandbox, token)).body.id as string;
    expect((await patch(sandbox, token, id, 1, { name: 'x\ud83d' })).status).toBe(422);
    const console = await call(sandbox, 'POST', `/__sandbox/campaigns/${id}/console`, {
      body: { name: 'x\ud83d' },
    });
    expect(console.status).toBe(422);
    const paired = await patch(sandbox, token, id, 1, { name: 'Spring \ud83d\udcde renewals' });
    expect(paired.status).toBe(200);
    expect(paired.body.name).toBe('Spring 📞 renewals');
  });

  it('answers 422 naming every invalid and every unknown field, with dotted paths', async () => {
    const body = createBody() as unknown as Record<string, Record<string, unknown>>;
    const bad = {
      ...body,
      name: '',
      targetListId: 'not-a-uuid',
      colour: 'blue',
      dialerSettings: { ...body.dialerSettings, callRate: 2, agentCapacity: 0, turbo: true },
      complianceSettings: {
        ...body.complianceSettings,
        timeZone: 'Mars/Olympus',
        allowedCallTimes: [{ days: ['mon'], start: '18:00', end: '09:00' }],
      },
    };
    const res = await call(sandbox, 'POST', '/api/v2/campaigns', { token, body: bad });
    expect(res.status).toBe(422);
    expect(res.body.error).toBe('validation_failed');
    const fields = (res.body.errors as { field: string; message: string }[]).map((e) => e.field).sort();
    expect(fields).toEqual(
      [
        'colour',
        'complianceSettings.allowedCallTimes.0.end',
        'complianceSettings.timeZone',
        'dialerSettings.agentCapacity',
        'dialerSettings.callRate',
        'dialerSettings.turbo',
        'name',
        'targetListId',
      ].sort(),
    );
    const missing = await call(sandbox, 'POST', '/api/v2/campaigns', { token, body: { name: 'x' } });
    expect(missing.status).toBe(422);
    const missingFields = (missing.body.errors as { field: string }[]).map((e) => e.field);
    expect(missingFields).toEqual(
      expect.arrayContaining([
        'type',
        'startDateTime',
        'targetListId',
        'dialerSettings',
        'complianceSettings',
      ]),
    );
  });

  it('answers JSON errors for malformed bodies and unknown routes, never HTML', async () => {
    const notJson = await call(sandbox, 'POST', '/api/v2/campaigns', { token, body: '{"name":' });
    expect(notJson.status).toBe(400);
    expect(notJson.body.error).toBe('invalid_json');
    // JSON only: a form or plain-text body is a 415, never parsed into fields and applied.
    const created = (await createCampaign(sandbox, token)).body as { id: string; version: number };
    for (const contentType of ['application/x-www-form-urlencoded', 'text/plain']) {
      const patched = await call(sandbox, 'PATCH', `/api/v2/campaigns/${created.id}`, {
        token,
        body: 'name=renamed-by-form&status=cancelled',
        headers: { 'content-type': contentType, 'if-match': `version=${created.version}` },
      });
      expect(patched).toMatchObject({ status: 415, body: { error: 'unsupported_media_type' } });
      const posted = await call(sandbox, 'POST', '/api/v2/campaigns', {
        token,
        body: 'name=by-form',
        headers: { 'content-type': contentType },
      });
      expect(posted).toMatchObject({ status: 415, body: { error: 'unsupported_media_type' } });
    }
    const untouched = await call(sandbox, 'GET', `/api/v2/campaigns/${created.id}`, { token });
    expect(untouched.body).toMatchObject({ version: created.version, status: 'draft' });
    const huge = await call(sandbox, 'POST', '/api/v2/campaigns', {
      token,
      body: { ...createBody(), name: 'x'.repeat(300_000) },
    });
    expect(huge.status).toBe(413);
    expect(huge.body.error).toBe('payload_too_large');
    const route = await call(sandbox, 'GET', '/api/v3/nothing', { token });
    expect(route.status).toBe(404);
    expect(route.headers.get('content-type')).toContain('application/json');
    const unknown = await call(sandbox, 'GET', '/api/v2/campaigns/00000000-0000-0000-0000-000000000000', {
      token,
    });
    expect(unknown).toMatchObject({ status: 404, body: { error: 'not_found' } });
    // No automatic HEAD routes: they would answer outside the gateway (no token, no budget).
    const existing = (await createCampaign(sandbox, token)).body.id as string;
    const head = await fetch(`${sandbox.url}/api/v2/campaigns/${existing}`, { method: 'HEAD' });
    expect(head.status).toBe(405);
    expect(head.headers.get('allow')).toBe('GET, PATCH');
  });

  it('replays the same campaign for the same Idempotency-Key and body, and refuses a different body', async () => {
    const body = createBody();
    const headers = { 'idempotency-key': `launch-${Math.random()}` };
    const before = sandbox.campaignCount();
    const first = await call(sandbox, 'POST', '/api/v2/campaigns', { token, body, headers });
    const reordered = { ...body, dialerSettings: { ...body.dialerSettings } };
    const again = await call(sandbox, 'POST', '/api/v2/campaigns', { token, body: reordered, headers });
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(sandbox.campaignCount()).toBe(before + 1);

    const other = await call(sandbox, 'POST', '/api/v2/campaigns', {
      token,
      body: { ...body, name: 'something else' },
      headers,
    });
    expect(other.status).toBe(422);
    expect(other.body.error).toBe('idempotency_key_reused');
    expect(sandbox.campaignCount()).toBe(before + 1);
  });

  it('refuses a reused Idempotency-Key with a body nested too deep to compare as 422, not a 500', async () => {
    const headers = { 'idempotency-key': `deep-${Math.random()}` };
    const first = await call(sandbox, 'POST', '/api/v2/campaigns', { token, body: createBody(), headers });
    expect(first.status).toBe(201);
    const before = sandbox.campaignCount();
    // 100 000 levels of arrays: valid JSON well under the body limit, and no campaign.
    const depth = 100_000;
    const deep = `{"name":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    const again = await call(sandbox, 'POST', '/api/v2/campaigns', { token, body: deep, headers });
    expect(again.status).toBe(422);
    expect(again.body.error).toBe('idempotency_key_reused');
    expect(sandbox.campaignCount()).toBe(before);
  });

  it('requires If-Match on PATCH: 428 when missing, 409 with currentVersion on mismatch', async () => {
    const { body } = await createCampaign(sandbox, token);
    const id = body.id as string;
    const missing = await call(sandbox, 'PATCH', `/api/v2/campaigns/${id}`, {
      token,
      body: { name: 'renamed' },
    });
    expect(missing.status).toBe(428);
    expect(missing.body.error).toBe('precondition_required');
    const stale = await patch(sandbox, token, id, 7, { name: 'renamed' });
    expect(stale.status).toBe(409);
    expect(stale.body).toMatchObject({ error: 'version_conflict', currentVersion: 1 });
    for (const ifMatch of ['soon', '1', '"1"', 'W/"1"', '"version=1"', 'version=1, version=2']) {
      const malformed = await call(sandbox, 'PATCH', `/api/v2/campaigns/${id}`, {
        token,
        body: { name: 'renamed' },
        headers: { 'if-match': ifMatch },
      });
      expect(malformed, ifMatch).toMatchObject({ status: 400, body: { error: 'invalid_if_match' } });
    }
    const unknownField = await patch(sandbox, token, id, 1, { dialerSettings: { callRate: 0.6, boost: 1 } });
    expect(unknownField.status).toBe(422);
    expect(unknownField.body.errors).toEqual([{ field: 'dialerSettings.boost', message: 'unknown field' }]);
  });

  it('refuses complianceSettings.recipientStates on create, PATCH and the console: not in the v2 contract', async () => {
    const body = createBody() as unknown as { complianceSettings: Record<string, unknown> };
    const withStates = {
      ...body,
      complianceSettings: { ...body.complianceSettings, recipientStates: ['NY'] },
    };
    const before = sandbox.campaignCount();
    const created = await call(sandbox, 'POST', '/api/v2/campaigns', { token, body: withStates });
    expect(created.status).toBe(422);
    expect(created.body.errors).toEqual([
      { field: 'complianceSettings.recipientStates', message: 'unknown field' },
    ]);
    expect(sandbox.campaignCount()).toBe(before);

    const id = (await createCampaign(sandbox, token)).body.id as string;
    const patched = await patch(sandbox, token, id, 1, { complianceSettings: { recipientStates: ['NY'] } });
    expect(patched.status).toBe(422);
    expect(patched.body.errors).toEqual([
      { field: 'complianceSettings.recipientStates', message: 'unknown field' },
    ]);
    const consoled = await call(sandbox, 'POST', `/__sandbox/campaigns/${id}/console`, {
      body: { complianceSettings: { recipientStates: ['NY'] } },
    });
    expect(consoled.status).toBe(422);
    const got = await call(sandbox, 'GET', `/api/v2/campaigns/${id}`, { token });
    expect(got.body).toMatchObject({ version: 1 });
    expect(got.body.complianceSettings).not.toHaveProperty('recipientStates');
  });

  it('bumps the version by exactly one per change, merges nested settings field by field, and records history', async () => {
    const created = await createCampaign(sandbox, token);
    const id = created.body.id as string;
    const one = await patch(sandbox, token, id, 1, { dialerSettings: { callRate: 0.8 } });
    expect(one.status).toBe(200);
    expect(one.body.version).toBe(2);
    const settings = one.body.dialerSettings as Record<string, unknown>;
    expect(settings).toMatchObject({ callRate: 0.8, agentCapacity: 20, answerRate: 0.35, wrapUpTime: 30 });

    const two = await patch(sandbox, consoleToken, id, 2, {
      status: 'scheduled',
      complianceSettings: { doNotCallListCheck: false },
    });
    expect(two.body.version).toBe(3);
    expect((two.body.complianceSettings as Record<string, unknown>).timeZone).toBe('America/New_York');

    // Changing nothing is not a change: no new version, no history record.
    const same = await patch(sandbox, token, id, 3, { dialerSettings: { callRate: 0.8 } });
    expect(same.status).toBe(200);
    expect(same.body.version).toBe(3);

    const records = await history(id);
    expect(records.map((r) => r.version)).toEqual([1, 2, 3]);
    expect(records.map((r) => r.actor)).toEqual(['fleet-client', 'fleet-client', 'console-operator']);
    expect(records[1]?.changes).toEqual({ 'dialerSettings.callRate': { from: 0.5, to: 0.8 } });
    expect(records[2]?.changes).toEqual({
      status: { from: 'draft', to: 'scheduled' },
      'complianceSettings.doNotCallListCheck': { from: true, to: false },
    });
    expect(records[2]?.action).toBe('status_changed');
  });

  it('enforces the lifecycle: illegal transitions 409 naming from/to/allowed; final campaigns cannot change', async () => {
    const { body } = await createCampaign(sandbox, token);
    const id = body.id as string;
    const skip = await patch(sandbox, token, id, 1, { status: 'paused' });
    expect(skip.status).toBe(409);
    expect(skip.body).toMatchObject({ error: 'invalid_transition', from: 'draft', to: 'paused' });
    expect(skip.body.allowed).toEqual(['scheduled', 'active', 'cancelled']);
    expect(String(skip.body.message)).toContain('draft');

    let version = 1;
    for (const status of ['scheduled', 'active', 'paused', 'active', 'completed'] as const) {
      const res = await patch(sandbox, token, id, version, { status });
      expect(res.status, `${status}: ${JSON.stringify(res.body)}`).toBe(200);
      version = res.body.version as number;
    }
    expect(version).toBe(6);
    const reopen = await patch(sandbox, token, id, version, { status: 'active' });
    expect(reopen.status).toBe(409);
    const rename = await patch(sandbox, token, id, version, { name: 'later' });
    expect(rename.status).toBe(409);
    expect(rename.body.error).toBe('campaign_closed');
    const state = sandbox.getCampaignState(id) as { resource: { status: string; version: number } };
    expect(state.resource).toMatchObject({ status: 'completed', version: 6 });
  });

  it('starts a draft at once (draft → active), as the reference lifecycle does, and dials from then', async () => {
    // seed-tutorial.txt Step 2: campaigns go "through states such as draft, active, paused, and
    // completed". A stand-in refusing it hid a client that could not cope with a draft started in
    // CXone's console before its launch scheduled it.
    const { body } = await createCampaign(sandbox, token);
    const id = body.id as string;
    const started = await patch(sandbox, consoleToken, id, 1, { status: 'active' });
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    expect(started.body).toMatchObject({ status: 'active', version: 2 });
    const records = await history(id);
    expect(records.at(-1)).toMatchObject({
      action: 'status_changed',
      changes: { status: { from: 'draft', to: 'active' } },
    });
    // A draft started at once dials like a scheduled one started: its simulation exists from then.
    expect((sandbox.getCampaignState(id) as { dialer: unknown }).dialer).not.toBeNull();
  });

  it('lets an outside party change a campaign through the console control route, with history', async () => {
    const { body } = await createCampaign(sandbox, token);
    const id = body.id as string;
    const res = await call(sandbox, 'POST', `/__sandbox/campaigns/${id}/console`, {
      body: { status: 'cancelled' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'cancelled', version: 2 });
    const records = await history(id);
    expect(records.at(-1)).toMatchObject({
      actor: 'console-operator',
      changes: { status: { from: 'draft', to: 'cancelled' } },
    });
    const list = await call(sandbox, 'GET', '/__sandbox/campaigns');
    expect((list.body.campaigns as { id: string }[]).some((c) => c.id === id)).toBe(true);
  });

  it('lists only the campaigns created since a given time when asked', async () => {
    const earlier = (await createCampaign(sandbox, token)).body.id as string;
    await new Promise((r) => setTimeout(r, 5));
    const since = Date.now();
    const later = (await createCampaign(sandbox, token)).body.id as string;
    const res = await call(sandbox, 'GET', `/__sandbox/campaigns?createdSince=${since}`);
    const ids = (res.body.campaigns as { id: string }[]).map((c) => c.id);
    expect(ids).toContain(later);
    expect(ids).not.toContain(earlier);
    // Beyond year 9999 (still a safe integer): nothing, rather than everything.
    const farFuture = await call(sandbox, 'GET', `/__sandbox/campaigns?createdSince=${9e15}`);
    expect(farFuture.status).toBe(200);
    expect(farFuture.body.campaigns).toEqual([]);
    const bad = await call(sandbox, 'GET', '/__sandbox/campaigns?createdSince=yesterday');
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/createdSince/);
    // Plain decimal epoch milliseconds only: an empty value is no time (it listed every campaign),
    // and `1e3` or `0x10` are not read as 1000 and 16; nor is a value given twice.
    for (const query of [
      'createdSince=',
      'createdSince=1e3',
      'createdSince=0x10',
      'createdSince=%205',
      'createdSince=1&createdSince=2',
    ]) {
      const refused = await call(sandbox, 'GET', `/__sandbox/campaigns?${query}`);
      expect(refused.status, query).toBe(400);
      expect(refused.body.error, query).toBe('invalid_query');
    }
  });
});
