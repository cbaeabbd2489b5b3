import { afterEach, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/sandbox/server.js';
import { call, CONSOLE, FLEET, start, tokenFor } from './helpers.js';

/**
 * CXone refuses a token before its expiry once the key behind it is deactivated or rotated. The
 * sandbox had no way to do that short of a restart, which forgets every campaign too: a client's
 * refresh on a 401 for a token it still believed valid could only be met by waiting out the TTL.
 * `DELETE /__sandbox/tokens` revokes issued tokens (one client's with `?clientId=`).
 */
describe('sandbox: revoking access tokens before they expire', () => {
  let sandbox: RunningSandbox | undefined;
  afterEach(async () => {
    await sandbox?.close();
    sandbox = undefined;
  });

  const get = (s: RunningSandbox, token: string) => call(s, 'GET', '/api/v2/campaigns/x', { token });

  it("refuses every revoked token with 401 invalid_token, one client's only when named; a new token works", async () => {
    sandbox = await start({ tokenTtlSeconds: 3600 });
    const fleet = await tokenFor(sandbox, FLEET);
    const fleetAgain = await tokenFor(sandbox, FLEET);
    const operator = await tokenFor(sandbox, CONSOLE);
    expect((await get(sandbox, fleet)).status).toBe(404);

    const one = await call(sandbox, 'DELETE', `/__sandbox/tokens?clientId=${FLEET.clientId}`);
    expect(one).toMatchObject({ status: 200, body: { revoked: 2 } });
    for (const token of [fleet, fleetAgain]) {
      const refused = await get(sandbox, token);
      expect(refused.status).toBe(401);
      expect(refused.body).toMatchObject({
        error: 'invalid_token',
        message: 'the access token is not valid',
      });
      expect(refused.headers.get('www-authenticate')).toContain('error="invalid_token"');
    }
    // The other client's token is left alone; a fresh token of the revoked client works.
    expect((await get(sandbox, operator)).status).toBe(404);
    expect((await get(sandbox, await tokenFor(sandbox, FLEET))).status).toBe(404);

    const all = await call(sandbox, 'DELETE', '/__sandbox/tokens');
    expect(all).toMatchObject({ status: 200, body: { revoked: 2 } });
    expect((await get(sandbox, operator)).status).toBe(401);
  });

  it('refuses an unknown or repeated query parameter, and is guarded like every control route', async () => {
    sandbox = await start({ adminToken: 'admin-secret-1' });
    const token = await tokenFor(sandbox);
    const admin = { 'x-sandbox-admin': 'admin-secret-1' };
    expect((await call(sandbox, 'DELETE', '/__sandbox/tokens')).status).toBe(401);
    for (const query of ['?client=x', `?clientId=a&clientId=b`, '?clientId=']) {
      const res = await call(sandbox, 'DELETE', `/__sandbox/tokens${query}`, { headers: admin });
      expect(res.status, query).toBe(400);
      expect(res.body.error).toBe('invalid_query');
    }
    expect((await get(sandbox, token)).status).toBe(404);
    expect(await call(sandbox, 'DELETE', '/__sandbox/tokens', { headers: admin })).toMatchObject({
      status: 200,
      body: { revoked: 1 },
    });
    expect((await get(sandbox, token)).status).toBe(401);
  });

  it('refuses a clientId that names no client, instead of revoking nothing with a 200', async () => {
    sandbox = await start();
    const token = await tokenFor(sandbox, FLEET);
    // A misspelt id revoked nothing and answered 200 {revoked: 0}, as for a client with no token.
    const typo = await call(sandbox, 'DELETE', `/__sandbox/tokens?clientId=${FLEET.clientId}x`);
    expect(typo.status).toBe(400);
    expect(typo.body.error).toBe('invalid_query');
    expect(typo.body.message).toContain(`clientId ${JSON.stringify(`${FLEET.clientId}x`)}`);
    expect(typo.body.message).toContain(FLEET.clientId);
    expect((await get(sandbox, token)).status).toBe(404);
    // A registered client with no token left is still a 200 with nothing revoked.
    expect(await call(sandbox, 'DELETE', `/__sandbox/tokens?clientId=${CONSOLE.clientId}`)).toMatchObject({
      status: 200,
      body: { revoked: 0 },
    });
  });
});
