import { describe, expect, it } from 'vitest';
import { rawExchange } from '../support/raw-http.js';
import { sandboxForSuite } from '../support/sandbox-suite.js';
import { call, createBody, createCampaign, FLEET } from './helpers.js';

function parseRaw(answer: string): { status: number; headers: string; body: Record<string, unknown> } {
  const [head = '', body = ''] = answer.split('\r\n\r\n');
  return {
    status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]),
    headers: head.toLowerCase(),
    body: JSON.parse(body) as Record<string, unknown>,
  };
}

describe('sandbox answers at the edges of HTTP', () => {
  const suite = sandboxForSuite();

  it('answers a path that does not decode in its own shape, behind the token check', async () => {
    const path = '/api/v2/campaigns/%E0%A4%A';
    const anonymous = await call(suite.sandbox, 'GET', path);
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error).toBe('unauthorized');
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const expired = await call(suite.sandbox, 'GET', path, { token: 'not-a-token' });
    expect(expired).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
    const bad = await call(suite.sandbox, 'GET', path, { token: suite.token });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: 'invalid_url' });
    expect(bad.body).not.toHaveProperty('statusCode');
    expect(bad.headers.get('content-type')).toBe('application/json; charset=utf-8');
    // The control surface takes no bearer token: a bad path there is just a 400.
    expect((await call(suite.sandbox, 'GET', '/__sandbox/campaigns/%zz')).body.error).toBe('invalid_url');
  });

  it('treats an id of any length as an id: 401 without a token, 404 with one', async () => {
    const path = `/api/v2/campaigns/${'a'.repeat(300)}`;
    expect((await call(suite.sandbox, 'GET', path)).status).toBe(401);
    expect(await call(suite.sandbox, 'GET', path, { token: suite.token })).toMatchObject({
      status: 404,
      body: { error: 'not_found' },
    });
  });

  it('answers a request Node cannot parse with a JSON error in the sandbox shape', async () => {
    const bad = parseRaw(
      await rawExchange(
        suite.sandbox.port,
        'POST /api/v2/campaigns HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
          'Content-Length: abc\r\nConnection: close\r\n\r\n{}',
      ),
    );
    expect(bad.status).toBe(400);
    expect(bad.headers).toContain('content-type: application/json; charset=utf-8');
    expect(bad.body).toEqual({ error: 'bad_request', message: expect.any(String) });
    const big = parseRaw(
      await rawExchange(
        suite.sandbox.port,
        `GET /api/v2/campaigns/x HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\nConnection: close\r\n\r\n`,
      ),
    );
    expect(big.status).toBe(431);
    expect(big.body.error).toBe('headers_too_large');
  });

  it('refuses a JSON body that is not UTF-8 instead of storing its text mangled', async () => {
    const created = (await createCampaign(suite.sandbox, suite.token)).body as {
      id: string;
      version: number;
    };
    const send = (method: string, path: string, json: string, encoding: BufferEncoding, headers = {}) =>
      fetch(`${suite.sandbox.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${suite.token}`,
          accept: 'application/json',
          'content-type': `application/json; charset=${encoding === 'latin1' ? 'iso-8859-1' : 'utf-8'}`,
          ...headers,
        },
        body: Buffer.from(json, encoding),
      });
    const url = `/api/v2/campaigns/${created.id}`;
    const ifMatch = { 'if-match': `version=${created.version}` };
    const latin1 = await send('PATCH', url, JSON.stringify({ name: 'Café' }), 'latin1', ifMatch);
    expect(latin1.status).toBe(400);
    expect(await latin1.json()).toMatchObject({
      error: 'invalid_json',
      message: expect.stringContaining('UTF-8'),
    });
    const posted = await send(
      'POST',
      '/api/v2/campaigns',
      JSON.stringify({ ...createBody(), name: 'Café' }),
      'latin1',
    );
    expect(posted.status).toBe(400);
    const untouched = await call(suite.sandbox, 'GET', url, { token: suite.token });
    expect(untouched.body).toMatchObject({ version: created.version });
    // The same text in UTF-8 is stored as sent.
    const utf8 = await send('PATCH', url, JSON.stringify({ name: 'Café ☎ 😀' }), 'utf8', ifMatch);
    expect(utf8.status).toBe(200);
    expect(((await utf8.json()) as { name: string }).name).toBe('Café ☎ 😀');
  });

  it('says why a JSON body was refused: where it breaks, or which prototype-poisoning key it holds', async () => {
    // Fastify's own words were "Body is not valid JSON but content-type is set to 'application/json'"
    // for both, though a body holding "__proto__" is valid JSON: a client was sent hunting for a syntax
    // error it did not make.
    const poisoned = await call(suite.sandbox, 'POST', '/api/v2/campaigns', {
      token: suite.token,
      body: `{"name":"x","__proto__":{"admin":true}}`,
    });
    expect(poisoned.status).toBe(400);
    expect(poisoned.body.error).toBe('invalid_json');
    expect(String(poisoned.body.message)).toContain('"__proto__"');
    expect(String(poisoned.body.message)).not.toContain('not valid JSON');
    const broken = await call(suite.sandbox, 'POST', '/api/v2/campaigns', {
      token: suite.token,
      body: `{"name": "x",}`,
    });
    expect(broken.status).toBe(400);
    expect(broken.body.error).toBe('invalid_json');
    expect(String(broken.body.message)).toMatch(/not valid JSON: .*position \d+/);
  });

  it('refuses an Accept without JSON at the token endpoint too, before spending its budget', async () => {
    await call(suite.sandbox, 'DELETE', '/__sandbox/counters');
    const form = {
      grant_type: 'client_credentials',
      client_id: FLEET.clientId,
      client_secret: FLEET.clientSecret,
    };
    for (const accept of ['application/x-www-form-urlencoded', 'application/json;q=0, */*']) {
      const refused = await call(suite.sandbox, 'POST', '/oauth2/token', { form, headers: { accept } });
      expect(refused.status, accept).toBe(406);
      expect(refused.body).toMatchObject({ error: 'not_acceptable', error_description: expect.any(String) });
      expect(refused.body).not.toHaveProperty('access_token');
    }
    // A wrong secret is still a 401 whatever the Accept: the caller is checked first.
    const wrong = await call(suite.sandbox, 'POST', '/oauth2/token', {
      form: { ...form, client_secret: 'wrong' },
      headers: { accept: 'application/xml' },
    });
    expect(wrong.status).toBe(401);
    for (const accept of ['application/json', '*/*']) {
      expect((await call(suite.sandbox, 'POST', '/oauth2/token', { form, headers: { accept } })).status).toBe(
        200,
      );
    }
    const counters = (await call(suite.sandbox, 'GET', '/__sandbox/counters')).body.endpoints as Record<
      string,
      { accepted: number; byStatus: Record<string, number> }
    >;
    expect(counters['POST /oauth2/token']).toMatchObject({ accepted: 2, byStatus: { '406': 2, '200': 2 } });
    // The campaign routes still answer as before with the same token.
    expect((await createCampaign(suite.sandbox, suite.token)).status).toBe(201);
  });
});
