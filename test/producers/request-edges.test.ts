import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLaunchStore } from '../../src/shared/launch-store.js';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { api, API_TOKEN, campaignConfig, startStack, type Stack } from '../e2e/stack.js';
import { rawExchange } from '../support/raw-http.js';

/**
 * Requests a careless or hostile client sends, over real HTTP: each is refused with the API's own
 * 400 naming what is wrong, never read as something else.
 */
let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

describe('page limits', () => {
  const routes = ['/v1/campaigns/some-campaign/audit', '/v1/webhooks/dead-letters'];

  it('refuses a limit that is not a plain decimal number, rather than reading hex, exponents or blanks', async () => {
    for (const route of routes) {
      for (const limit of ['0x10', '1e2', '0b11', '%2010', '10%20', '+5', '5.0']) {
        const reply = await api(stack, 'GET', `${route}?limit=${limit}`);
        expect(reply.status, `${route} limit=${limit}`).toBe(400);
        expect(reply.body, `${route} limit=${limit}`).toMatchObject({
          error: 'validation_failed',
          issues: [{ path: 'limit', message: expect.stringMatching(/whole number/) as unknown }],
        });
      }
      expect((await api(stack, 'GET', `${route}?limit=10`)).status, route).toBe(200);
    }
  });

  it('says a limit given twice is given twice', async () => {
    for (const route of routes) {
      const reply = await api(stack, 'GET', `${route}?limit=1&limit=2`);
      expect(reply.status, route).toBe(400);
      expect(reply.body, route).toMatchObject({
        issues: [{ path: 'limit', message: expect.stringMatching(/once/) as unknown }],
      });
    }
  });
});

/** Sends raw bytes to the API and returns the status and JSON body of what comes back. */
async function rawRequest(bytes: string): Promise<{ status: number; contentType: string; body: unknown }> {
  const { hostname, port } = new URL(stack.apiUrl);
  const text = await rawExchange(Number(port), bytes, hostname);
  const [head = '', body = ''] = text.split('\r\n\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
  const contentType = /^content-type: *(.*)$/im.exec(head)?.[1] ?? '';
  return { status, contentType, body: JSON.parse(body) as unknown };
}

describe('requests that are not valid HTTP', () => {
  it("are answered in the API's error shape, with a stable code", async () => {
    const malformed = await rawRequest('GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n');
    expect(malformed.status).toBe(400);
    expect(malformed.contentType).toMatch(/^application\/json/);
    expect(malformed.body).toEqual({ error: 'bad_request', message: expect.any(String) as unknown });

    const huge = `GET /v1/campaigns/x HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`;
    const tooLarge = await rawRequest(huge);
    expect(tooLarge.status).toBe(431);
    expect(tooLarge.body).toEqual({
      error: 'headers_too_large',
      message: expect.stringMatching(/header/) as unknown,
    });
    // The server goes on answering.
    expect((await api(stack, 'GET', '/healthz')).status).toBe(200);
  });

  it('refuses an HTTP/1.1 request without Host in JSON, where Node answered an empty 400', async () => {
    for (const path of ['/healthz', '/v1/campaigns/x']) {
      const noHost = await rawRequest(`GET ${path} HTTP/1.1\r\nConnection: close\r\n\r\n`);
      expect(noHost.status, path).toBe(400);
      expect(noHost.contentType, path).toMatch(/^application\/json/);
      expect(noHost.body, path).toEqual({
        error: 'bad_request',
        message: expect.stringMatching(/Host header/),
      });
    }
    // HTTP/1.0 has no Host requirement: answered as usual.
    const { hostname, port } = new URL(stack.apiUrl);
    const old = await rawExchange(Number(port), 'GET /healthz HTTP/1.0\r\n\r\n', hostname);
    expect(old).toMatch(/^HTTP\/1\.1 200 /);
  });
});

describe('the campaign id in the path', () => {
  it('is checked and named alike on every campaign route, as the OpenAPI document names it', async () => {
    const malformed = 'not.a/campaign'.replace('/', '%2F');
    const routes: Array<[string, string, unknown?]> = [
      ['GET', `/v1/campaigns/${malformed}`],
      ['PATCH', `/v1/campaigns/${malformed}`, { dialerStrategy: { callRate: 0.5 } }],
      ['POST', `/v1/campaigns/${malformed}/actions`, { action: 'pause' }],
      ['GET', `/v1/campaigns/${malformed}/commands`],
      ['GET', `/v1/campaigns/${malformed}/compliance`],
    ];
    for (const [method, path, body] of routes) {
      const reply = await api(stack, method, path, body === undefined ? {} : { body });
      expect(reply.status, `${method} ${path}`).toBe(400);
      expect(reply.body, `${method} ${path}`).toMatchObject({
        error: 'validation_failed',
        issues: [{ path: 'campaignId' }],
      });
    }
    const long = 'a'.repeat(201);
    for (const path of [`/v1/campaigns/${long}/audit`, `/v1/campaigns/${long}/audit/verify`]) {
      const reply = await api(stack, 'GET', path);
      expect(reply.status, path).toBe(400);
      expect(reply.body, path).toMatchObject({ issues: [{ path: 'campaignId' }] });
    }
    expect(await stack.ctx.queues.adjust.count()).toBe(0);
  });
});

describe('an absolute-form request target (GET http://host/v1/…)', () => {
  it('needs the token on every /v1 and /admin path, known or not, as the origin form does', async () => {
    const host = new URL(stack.apiUrl).host;
    for (const path of [
      '/v1/nothing-here',
      '/v1/campaigns/c-1/nothing',
      '/admin/nothing',
      '/v1/campaigns/c-1',
    ]) {
      for (const target of [`http://${host}${path}`, `HTTP://${host}${path}`]) {
        const reply = await rawRequest(
          `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
        );
        expect([reply.status, reply.body], target).toEqual([
          401,
          { error: 'unauthorized', message: expect.any(String) as unknown },
        ]);
      }
    }
  });
});

describe('a request target with a fragment or an undecodable escape', () => {
  const send = (method: string, target: string, token?: string) =>
    rawRequest(
      `${method} ${target} HTTP/1.1\r\nHost: api.example\r\n` +
        (token ? `Authorization: Bearer ${token}\r\n` : '') +
        'Connection: close\r\n\r\n',
    );

  it('needs the token wherever the router reads a /v1 path, so no 404 or 405 tells what is served', async () => {
    // The router ends the path at `#` and decodes `%76` to `v`: each of these is a /v1 path to it.
    for (const [method, target] of [
      ['DELETE', '/%761/campaigns/c-1#%zz'],
      ['DELETE', '/%761/campaigns#%zz'],
      ['POST', '/%761/commands/x#%zz'],
      ['DELETE', '/%761/nothing-here#%zz'],
      ['GET', '/%761/campaigns/c-1/%zz'],
    ] as const) {
      const reply = await send(method, target);
      expect([reply.status, reply.body], `${method} ${target}`).toEqual([
        401,
        { error: 'unauthorized', message: expect.any(String) as unknown },
      ]);
    }
  });

  it('is answered by the path before its fragment once the token is given', async () => {
    const reply = await send('DELETE', '/v1/campaigns/c-1/audit#section', API_TOKEN);
    expect(reply.status).toBe(405);
    expect(reply.body).toMatchObject({
      error: 'method_not_allowed',
      message: expect.stringContaining('not served on /v1/campaigns/c-1/audit;') as unknown,
    });
  });
});

describe('POST routes that take no body', () => {
  it('answer an empty body alike whatever content type it is labelled with', async () => {
    const routes = [
      '/v1/webhooks/evt_abc123/replay',
      '/v1/webhooks/dead-letters/replay',
      '/admin/webhooks/destination/enable',
      '/v1/campaigns/unknown-campaign/audit/import-history',
    ];
    for (const route of routes) {
      const bare = await api(stack, 'POST', route);
      expect(bare.status, route).not.toBe(400);
      for (const type of ['application/json', 'application/x-www-form-urlencoded', 'text/plain']) {
        const labelled = await api(stack, 'POST', route, { raw: '', headers: { 'content-type': type } });
        expect([labelled.status, labelled.body], `${route} ${type}`).toEqual([bare.status, bare.body]);
      }
    }
  });

  it('still refuses a launch with an empty JSON body', async () => {
    const reply = await api(stack, 'POST', '/v1/campaigns', { raw: '' });
    expect([reply.status, reply.body.error]).toEqual([400, 'invalid_json']);
  });
});

describe('routes that read a body, sent none', () => {
  const routes: Array<[method: string, path: string, names: RegExp]> = [
    ['POST', '/v1/campaigns', /holding the campaign config, as in examples\/campaign\.json; it sent none$/],
    ['PATCH', '/v1/campaigns/unknown-campaign', /holding the fields to change, e\.g\. \{"dialerStrategy"/],
    [
      'POST',
      '/v1/campaigns/unknown-campaign/actions',
      /holding the action, e\.g\. \{"action": "pause"\} \(pause, resume, stop\); it sent none$/,
    ],
  ];

  it('say that the request needs a JSON body and what it holds, in the usual 400', async () => {
    for (const [method, path, names] of routes) {
      // No body at all, as `curl -X POST` sends; and none with a length of 0 and no content type.
      for (const headers of [{}, { 'content-length': '0' }] as Record<string, string>[]) {
        const reply = await api(stack, method, path, { headers });
        expect(reply.status, `${method} ${path}`).toBe(400);
        expect(reply.body, `${method} ${path}`).toMatchObject({
          error: 'validation_failed',
          issues: [
            {
              path: '(body)',
              message: expect.stringMatching(
                /^required: the request needs a JSON body \(Content-Type: application\/json\) holding /,
              ),
            },
          ],
        });
        const issues = reply.body.issues as Array<{ message: string }>;
        expect(issues, `${method} ${path}`).toHaveLength(1);
        expect(issues[0]!.message, `${method} ${path}`).toMatch(names);
        expect(String(reply.body.message)).not.toMatch(/received undefined/);
      }
    }
  });

  it('/validate answers its 200 {valid: false} saying the same', async () => {
    const reply = await api(stack, 'POST', '/v1/campaigns/validate');
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({
      valid: false,
      issues: [
        {
          path: '(body)',
          message: expect.stringMatching(
            /^required: the request needs a JSON body .* holding the campaign config/,
          ),
        },
      ],
    });
  });

  it('a body that is there but wrong is still judged by the schema', async () => {
    const reply = await api(stack, 'POST', '/v1/campaigns', { raw: 'null' });
    expect(reply.status).toBe(400);
    expect(JSON.stringify(reply.body.issues)).not.toMatch(/needs a JSON body/);
  });
});

describe('POST /v1/campaigns/{id}/audit/import-history', () => {
  it('refuses an id no CXone campaign can have, naming it, before spending a CXone call', async () => {
    const counters = async () =>
      (await (await fetch(`${stack.sandbox.url}/__sandbox/counters`)).json()) as Record<string, unknown>;
    const before = JSON.stringify(await counters());
    for (const id of ['%20', '..%2F..%2Foauth', 'launch:abc']) {
      const reply = await api(stack, 'POST', `/v1/campaigns/${id}/audit/import-history`);
      expect(reply.status, id).toBe(400);
      expect(reply.body, id).toMatchObject({
        error: 'validation_failed',
        issues: [{ path: 'campaignId' }],
      });
    }
    expect(JSON.stringify(await counters())).toBe(before);
  });

  it('documents the id pattern it checks', async () => {
    const doc = (await api(stack, 'GET', '/docs/json')).body as {
      paths: Record<
        string,
        Record<string, { parameters: Array<{ name: string; schema: { pattern?: string } }> }>
      >;
    };
    const op = doc.paths['/v1/campaigns/{campaignId}/audit/import-history']?.post;
    expect(op?.parameters.find((p) => p.name === 'campaignId')?.schema.pattern).toBeDefined();
  });
});

describe('a PATCH naming only fields it may not change', () => {
  it('names each refused field, without also saying that no field was named', async () => {
    const cases: Array<[method: string, path: string, body: unknown, issues: string[]]> = [
      ['PATCH', '/v1/campaigns/some-campaign', { foo: 1 }, ['foo']],
      [
        'PATCH',
        '/v1/campaigns/some-campaign',
        { targetListId: '6f1c2a7e-3b4d-4e8f-9a10-1b2c3d4e5f60' },
        ['targetListId'],
      ],
      ['PATCH', '/v1/campaigns/some-campaign', { dialerStrategy: { speed: 1 } }, ['dialerStrategy.speed']],
      ['POST', '/v1/campaigns/some-campaign/actions', { action: 'pause', patch: { foo: 1 } }, ['patch.foo']],
      // An empty object is still named as one, beside another field's problem.
      ['PATCH', '/v1/campaigns/some-campaign', { dialerStrategy: {}, foo: 1 }, ['dialerStrategy', 'foo']],
      ['PATCH', '/v1/campaigns/some-campaign', {}, ['(body)']],
    ];
    for (const [method, path, body, paths] of cases) {
      const reply = await api(stack, method, path, { body });
      expect(reply.status, JSON.stringify(body)).toBe(400);
      const issues = reply.body.issues as Array<{ path: string }>;
      expect(issues.map((i) => i.path).sort(), JSON.stringify(body)).toEqual(paths);
    }
  });
});

describe('GET /v1/campaigns/{id} (and its commands and compliance) of a campaign its launch is still creating', () => {
  it('says it is being launched, and by which launch, instead of not known', async () => {
    // No launch worker here: the launch stays queued, as one between CXone's create and its record.
    const launched = await api(stack, 'POST', '/v1/campaigns', { body: campaignConfig() });
    const launchId = String(launched.body.launchId);
    const campaignId = 'campaign-being-launched';
    await createLaunchStore(stack.ctx).recordCreated(launchId, campaignId, 1);
    expect((await api(stack, 'GET', `/v1/launches/${launchId}`)).body.campaignId).toBe(campaignId);

    const view = await api(stack, 'GET', `/v1/campaigns/${campaignId}`);
    expect(view.status).toBe(404);
    expect(view.body).toMatchObject({ error: 'not_found', launchId });
    expect(view.body.message).toMatch(/still being launched/);
    // Its pending commands and its compliance report answer the same: a client following the id
    // from GET /v1/launches is told it is coming, not that it is unknown.
    for (const leaf of ['commands', 'compliance']) {
      const read = await api(stack, 'GET', `/v1/campaigns/${campaignId}/${leaf}`);
      expect(read.status, leaf).toBe(404);
      expect(read.body, leaf).toMatchObject({ error: 'not_found', launchId });
      expect(read.body.message, leaf).toMatch(/still being launched/);
    }

    for (const path of ['', '/commands', '/compliance']) {
      const unknown = await api(stack, 'GET', `/v1/campaigns/never-launched${path}`);
      expect(unknown.body, path).toEqual({
        error: 'not_found',
        message: expect.stringMatching(/not known/) as unknown,
      });
    }
  });
});

describe('compressed bodies', () => {
  it('refuses a Content-Encoding it does not decode with 415 saying so, not as JSON that is "not UTF-8"', async () => {
    const config = JSON.stringify(campaignConfig());
    for (const encoding of ['gzip', 'br', 'gzip, identity']) {
      const res = await fetch(`${stack.apiUrl}/v1/campaigns/validate`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${API_TOKEN}`,
          'content-type': 'application/json',
          'content-encoding': encoding,
        },
        body: encoding === 'br' ? brotliCompressSync(config) : gzipSync(config),
      });
      expect(res.status, encoding).toBe(415);
      expect(await res.json(), encoding).toMatchObject({
        error: 'unsupported_media_type',
        message: expect.stringContaining('Content-Encoding') as unknown,
      });
    }
    // identity is no encoding at all.
    const plain = await api(stack, 'POST', '/v1/campaigns/validate', {
      raw: config,
      headers: { 'content-encoding': 'identity' },
    });
    expect(plain.status).toBe(200);
    expect(plain.body).toMatchObject({ valid: true });
  });
});
