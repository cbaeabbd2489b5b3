import { afterEach, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/sandbox/server.js';
import { CXONE_SCOPES } from '../../src/shared/cxone/wire.js';
import { scriptFaults, sandboxFaults } from '../support/sandbox-faults.js';
import { call, createCampaign, FLEET, start } from './helpers.js';

const STATS = 'outbound:campaigns:stats:read';
const ALL = CXONE_SCOPES.join(' ');

async function login(sandbox: RunningSandbox, scope?: string) {
  return call(sandbox, 'POST', '/oauth2/token', {
    form: {
      grant_type: 'client_credentials',
      client_id: FLEET.clientId,
      client_secret: FLEET.clientSecret,
      ...(scope !== undefined ? { scope } : {}),
    },
  });
}

/**
 * An OAuth server may grant fewer scopes than asked (RFC 6749 §3.3), saying so only in the token
 * response's `scope`: the sandbox does it on `POST /__sandbox/faults {withholdScopes}`.
 */
describe('scopes the sandbox withholds', () => {
  let sandbox: RunningSandbox | undefined;
  afterEach(async () => {
    await sandbox?.close();
    sandbox = undefined;
  });

  it('are left out of the token quietly (200, its scope says so), and their endpoints answer 403', async () => {
    sandbox = await start();
    await scriptFaults(sandbox, { withholdScopes: [STATS] });
    expect((await sandboxFaults(sandbox)).withheldScopes).toEqual([STATS]);
    for (const asked of [ALL, undefined]) {
      const res = await login(sandbox, asked);
      expect(res.status).toBe(200);
      expect(String(res.body.scope).split(' ').sort()).toEqual([
        'outbound:campaigns:read',
        'outbound:campaigns:write',
      ]);
    }
    const token = String((await login(sandbox, ALL)).body.access_token);
    const created = await createCampaign(sandbox, token);
    expect(created.status).toBe(201);
    const stats = await call(sandbox, 'GET', `/api/v2/outbound/campaigns/${String(created.body.id)}/stats`, {
      token,
    });
    expect(stats.status).toBe(403);
    expect(stats.body).toMatchObject({ error: 'insufficient_scope', requiredScope: STATS });
  });

  it('are granted again after DELETE /__sandbox/faults, a reset, or an empty list', async () => {
    sandbox = await start();
    const full = async () => String((await login(sandbox!, ALL)).body.scope).split(' ').length;
    await scriptFaults(sandbox, { withholdScopes: [STATS] });
    expect(await full()).toBe(2);
    await scriptFaults(sandbox, { withholdScopes: [] });
    expect(await full()).toBe(3);
    await scriptFaults(sandbox, { withholdScopes: [STATS] });
    expect((await call(sandbox, 'DELETE', '/__sandbox/faults')).body).toMatchObject({ withheldScopes: [] });
    expect(await full()).toBe(3);
    await scriptFaults(sandbox, { withholdScopes: [STATS] });
    expect((await call(sandbox, 'POST', '/__sandbox/reset')).status).toBe(200);
    expect(await full()).toBe(3);
  });

  it('refuse the request (400 invalid_scope) when nothing asked for is left to grant', async () => {
    sandbox = await start();
    await scriptFaults(sandbox, { withholdScopes: [STATS] });
    const res = await login(sandbox, STATS);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_scope' });
    expect(String(res.body.error_description)).toContain(STATS);
  });

  it('must be scopes the sandbox knows', async () => {
    sandbox = await start();
    const res = await call(sandbox, 'POST', '/__sandbox/faults', { body: { withholdScopes: ['nope'] } });
    expect(res.status).toBe(422);
  });
});
