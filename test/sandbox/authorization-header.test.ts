import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/sandbox/server.js';
import { call, start, tokenFor } from './helpers.js';

/**
 * An Authorization header that holds no single bearer token is refused with 401, and the answer
 * says what is wrong with it: a client sending HTTP Basic, a bare token or `Bearer a b` was told
 * "missing bearer token", as if it had sent none, and went looking for a header it had set.
 */
describe('sandbox: an Authorization header without one bearer token', () => {
  let sandbox: RunningSandbox;
  beforeAll(async () => {
    sandbox = await start();
  });
  afterAll(async () => {
    await sandbox.close();
  });

  const get = (authorization?: string) =>
    call(
      sandbox,
      'GET',
      '/api/v2/campaigns/x',
      authorization === undefined ? {} : { headers: { authorization } },
    );

  it('still says "missing bearer token" when there is no header', async () => {
    const res = await get();
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'unauthorized', message: 'missing bearer token' });
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="cxone-sandbox"');
  });

  it('names another scheme (HTTP Basic, Token) as the header it got, without an error code', async () => {
    const token = await tokenFor(sandbox);
    for (const [header, scheme] of [
      [`Basic ${Buffer.from('fleet-client:fleet-secret').toString('base64')}`, 'Basic'],
      [`Token ${token}`, 'Token'],
    ] as const) {
      const res = await get(header);
      expect(res.status, header).toBe(401);
      expect(res.body.error).toBe('unauthorized');
      expect(res.body.message).toContain(`"${scheme}`);
      expect(res.body.message).toContain('Bearer <access token>');
      // RFC 6750 §3.1: a request using another authentication method gets no error code.
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="cxone-sandbox"');
    }
  });

  it('says a bare token has no scheme, and repeats no part of it: a client may log the answer', async () => {
    const token = await tokenFor(sandbox);
    for (const header of [token, `  ${token}  `, 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl']) {
      const res = await get(header);
      expect(res.status, header).toBe(401);
      expect(res.body.error).toBe('unauthorized');
      expect(res.body.message).toBe(
        'missing bearer token: the Authorization header holds a bare credential with no scheme before it; ' +
          'this API takes "Bearer <access token>"',
      );
      expect(JSON.stringify(res.body)).not.toContain(header.trim().slice(0, 8));
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="cxone-sandbox"');
    }
  });

  it('calls Bearer without exactly one token an invalid token', async () => {
    const token = await tokenFor(sandbox);
    for (const header of [
      'Bearer',
      'Bearer   ',
      `Bearer ${token} ${token}`,
      `Bearer ${token},Bearer ${token}x`,
    ]) {
      const res = await get(header);
      expect(res.status, header).toBe(401);
      expect(res.body.error, header).toBe('invalid_token');
      expect(res.body.message).toContain('exactly one access token');
      // A well-formed challenge: error_description quoted once, holding no quote (RFC 6750 §3).
      expect(res.headers.get('www-authenticate')).toMatch(
        /^Bearer realm="cxone-sandbox", error="invalid_token", error_description="[^"\\]*"$/,
      );
    }
    // The same token, alone, is taken.
    expect((await get(`Bearer ${token}`)).status).toBe(404);
  });
});
