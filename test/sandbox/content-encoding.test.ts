import http from 'node:http';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { sandboxForSuite } from '../support/sandbox-suite.js';
import { call, createBody, createCampaign, FLEET } from './helpers.js';

/**
 * A request body in a content coding the server does not apply is a 415 (RFC 9110 §15.5.16), with
 * Accept-Encoding saying which it takes (RFC 7694). The sandbox ignored Content-Encoding: a gzip'd
 * JSON body was a 400 saying it was not UTF-8, and a plain body labelled `br` was applied, which a
 * server that honours the header would fail to decode.
 */
describe('sandbox request bodies with a Content-Encoding', () => {
  const suite = sandboxForSuite();

  it('refuses a coded body with 415 naming the coding, behind the token check', async () => {
    const json = JSON.stringify(createBody());
    const gzipped = await fetch(`${suite.sandbox.url}/api/v2/campaigns`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${suite.token}`,
        'content-type': 'application/json',
        'content-encoding': 'gzip',
      },
      body: gzipSync(json),
    });
    const body = (await gzipped.json()) as Record<string, unknown>;
    expect(gzipped.status).toBe(415);
    expect(body.error).toBe('unsupported_media_type');
    expect(String(body.message)).toContain('gzip');
    expect(gzipped.headers.get('accept-encoding')).toBe('identity');

    const labelled = await call(suite.sandbox, 'POST', '/api/v2/campaigns', {
      token: suite.token,
      body: createBody(),
      headers: { 'content-encoding': 'br' },
    });
    expect(labelled.status).toBe(415);
    expect((await call(suite.sandbox, 'GET', '/__sandbox/campaigns')).body.campaigns).toEqual([]);

    const anonymous = await call(suite.sandbox, 'POST', '/api/v2/campaigns', {
      body: createBody(),
      headers: { 'content-encoding': 'gzip' },
    });
    expect(anonymous.status).toBe(401);
  });

  it('serves a GET that carries a coded body as without it: its body is never read', async () => {
    // A GET's body goes unread (a plain one is ignored), so its coding changes nothing: it was a 415,
    // where the platform answers the read.
    const created = await createCampaign(suite.sandbox, suite.token);
    const body = gzipSync('{}');
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        `${suite.sandbox.url}/api/v2/campaigns/${String(created.body.id)}`,
        {
          method: 'GET',
          headers: {
            authorization: `Bearer ${suite.token}`,
            'content-encoding': 'gzip',
            'content-length': String(body.length),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    expect(status).toBe(200);
  });

  it('takes identity, as no coding at all, and answers the token endpoint in the OAuth shape', async () => {
    const identity = await call(suite.sandbox, 'POST', '/api/v2/campaigns', {
      token: suite.token,
      body: createBody(),
      headers: { 'content-encoding': 'identity' },
    });
    expect(identity.status).toBe(201);
    const token = await call(suite.sandbox, 'POST', '/oauth2/token', {
      form: {
        grant_type: 'client_credentials',
        client_id: FLEET.clientId,
        client_secret: FLEET.clientSecret,
      },
      headers: { 'content-encoding': 'deflate' },
    });
    expect(token.status).toBe(415);
    expect(token.body.error_description).toBe(token.body.message);
  });
});
