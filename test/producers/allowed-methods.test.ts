import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { answerUnmatched, RouteTable } from '../../src/shared/http/allowed-methods.js';
import { rawExchange } from '../support/raw-http.js';

/** One request line with a Host header, as raw bytes. */
const sendRequestLine = (port: number, requestLine: string) =>
  rawExchange(port, `${requestLine}\r\nHost: api.example\r\nConnection: close\r\n\r\n`);

describe('RouteTable', () => {
  const table = new RouteTable({ ignoreTrailingSlash: true });
  for (const [method, url] of [
    ['GET', '/v1/campaigns/:campaignId'],
    ['PATCH', '/v1/campaigns/:campaignId'],
    ['POST', '/v1/campaigns/:campaignId/actions'],
    ['GET', '/admin/queues/*'],
    ['get', '/docs/json'],
  ] as const)
    table.add({ method, url });

  it('lists the methods of every route whose pattern matches the path, sorted and once each', () => {
    expect(table.allowedMethods('/v1/campaigns/c-1')).toEqual(['GET', 'PATCH']);
    expect(table.allowedMethods('/v1/campaigns/c-1/')).toEqual(['GET', 'PATCH']);
    expect(table.allowedMethods('/v1/campaigns/c-1/actions')).toEqual(['POST']);
    expect(table.allowedMethods('/admin/queues/api/queues')).toEqual(['GET']);
    expect(table.allowedMethods('/docs/json')).toEqual(['GET']);
  });

  it('matches a parameter to one segment only, and literals exactly', () => {
    expect(table.allowedMethods('/v1/campaigns/c-1/other')).toEqual([]);
    expect(table.allowedMethods('/v1/campaigns')).toEqual([]);
    expect(table.allowedMethods('/docsXjson')).toEqual([]);
    const dotted = new RouteTable();
    dotted.add({ method: 'GET', url: '/a.b/:id' });
    expect(dotted.allowedMethods('/aXb/1')).toEqual([]);
  });

  it('decodes each segment on its own, as the router does: an encoded slash stays in its parameter', () => {
    expect(table.allowedMethods('/v1/campaigns/a%2Fb')).toEqual(['GET', 'PATCH']);
    expect(table.allowedMethods('/v1/%63ampaigns/c-1')).toEqual(['GET', 'PATCH']);
  });
});

describe('a hostile path', () => {
  // Unknown paths outside /v1 and /admin reach the not-found handler without a token. With
  // `replace(/\/+$/, '')` per route, 15 000 slashes not at the end cost about half a second per route
  // (the API's ~90 routes held the event loop for a minute on one request). A few routes suffice to
  // tell quadratic from linear, and fail in seconds, not minutes.
  it('answers a request line full of slashes at once', () => {
    for (const opts of [{ ignoreTrailingSlash: true, ignoreDuplicateSlashes: true }, {}]) {
      const table = new RouteTable(opts);
      for (let i = 0; i < 4; i++) table.add({ method: 'GET', url: `/r${i}/:id/x` });
      const started = performance.now();
      expect(table.allowedMethods(`/x${'/'.repeat(15_000)}a`)).toEqual([]);
      expect(table.allowedMethods(`/r3/${'/'.repeat(15_000)}`)).toEqual([]);
      expect(performance.now() - started).toBeLessThan(300);
    }
  });
});

/**
 * The table must read a path as the router does: a 405 whose Allow names a method the router 404s on
 * that path (or a 404 where it serves another method) sends the client the wrong way. Checked against
 * Fastify's own router, with the API's options (one trailing slash ignored) and the sandbox's (none).
 */
describe('answerUnmatched agrees with the router', () => {
  const METHODS = ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE'] as const;
  const PATHS = [
    '/v1/campaigns',
    '/v1/campaigns/',
    '/v1/campaigns//',
    '/v1/campaigns/c1',
    '/v1/campaigns/c1/',
    '/v1/campaigns/c1//',
    '/v1/campaigns//actions',
    '/v1/campaigns/c1/actions/',
    '/v1//campaigns/c1',
    '/v1/campaigns/a%2Fb',
    '/v1/%63ampaigns/c1',
    '/healthz',
    '/healthz/',
    '/healthz//',
    '/admin/queues',
    '/admin/queues/',
    '/admin/queues/api/x',
    '/nowhere/',
  ];

  for (const [name, routerOptions] of [
    ['trailing slash ignored (the API)', { ignoreTrailingSlash: true }],
    ['every slash kept (the sandbox)', {}],
    ['duplicate slashes ignored', { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true }],
  ] as const) {
    it(name, async () => {
      const app = Fastify({ routerOptions });
      answerUnmatched(app);
      const served = async () => ({ served: true });
      app.post('/v1/campaigns', served);
      app.get('/v1/campaigns/:campaignId', served);
      app.patch('/v1/campaigns/:campaignId', served);
      app.post('/v1/campaigns/:campaignId/actions', served);
      app.get('/healthz', served);
      app.get('/admin/queues/*', served);
      await app.ready();
      try {
        for (const url of PATHS) {
          const answers = await Promise.all(
            METHODS.map(async (method) => ({ method, res: await app.inject({ method, url }) })),
          );
          const onPath = answers.filter((a) => a.res.statusCode === 200).map((a) => a.method);
          for (const { method, res } of answers) {
            if (onPath.includes(method)) continue;
            const got = { url, method, status: res.statusCode, allow: res.headers.allow };
            if (onPath.length === 0) expect(got).toEqual({ url, method, status: 404, allow: undefined });
            else expect(got).toEqual({ url, method, status: 405, allow: [...onPath].sort().join(', ') });
          }
        }
      } finally {
        await app.close();
      }
    });
  }
});

describe('an absolute-form request target (GET http://host/path HTTP/1.1)', () => {
  it('is answered by its path, as the router routes it: 405 with Allow, not 404', async () => {
    const app = Fastify({ routerOptions: { ignoreTrailingSlash: true } });
    answerUnmatched(app);
    app.get('/v1/campaigns/:campaignId', async () => ({ served: true }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    // Raw bytes: an HTTP client (and inject) would send the origin form.
    const send = (requestLine: string) => sendRequestLine(port, requestLine);
    try {
      expect(await send('GET http://api.example/v1/campaigns/c-1 HTTP/1.1')).toMatch(/^HTTP\/1\.1 200 /);
      const refused = await send('DELETE http://api.example/v1/campaigns/c-1?x=1 HTTP/1.1');
      expect(refused).toMatch(/^HTTP\/1\.1 405 /);
      expect(refused).toMatch(/\r\nallow: GET, HEAD\r\n/i);
      expect(refused).toContain('DELETE is not served on /v1/campaigns/c-1;');
      const unknown = await send('GET http://api.example/nowhere HTTP/1.1');
      expect(unknown).toMatch(/^HTTP\/1\.1 404 /);
      expect(unknown).toContain('no route GET /nowhere');
    } finally {
      await app.close();
    }
  });
});

describe('a request target with a fragment (GET /path#part HTTP/1.1)', () => {
  it('is answered by the path before the fragment, which is all the router reads', async () => {
    const app = Fastify({ routerOptions: { ignoreTrailingSlash: true } });
    answerUnmatched(app);
    app.get('/v1/campaigns/:campaignId/audit', async () => ({ served: true }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    // Raw bytes: an HTTP client (and inject) would not send the fragment.
    const send = (requestLine: string) => sendRequestLine(port, requestLine);
    try {
      expect(await send('GET /v1/campaigns/c-1/audit#part HTTP/1.1')).toMatch(/^HTTP\/1\.1 200 /);
      const refused = await send('DELETE /v1/campaigns/c-1/audit#part?x=1 HTTP/1.1');
      expect(refused).toMatch(/^HTTP\/1\.1 405 /);
      expect(refused).toMatch(/\r\nallow: GET, HEAD\r\n/i);
      expect(refused).toContain('DELETE is not served on /v1/campaigns/c-1/audit;');
    } finally {
      await app.close();
    }
  });
});

describe('a request no route serves, with a body', () => {
  it('is answered before its body is read, also where an async onSend hook ends the reply later', async () => {
    const warnings: string[] = [];
    const app = Fastify({
      logger: { level: 'warn', stream: { write: (line: string) => void warnings.push(line) } },
    });
    answerUnmatched(app);
    // As the sandbox's: the reply ends a few milliseconds after it is sent.
    app.addHook('onSend', async (_request, _reply, payload) => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      return payload;
    });
    app.post('/things', async () => ({ served: true }));
    await app.ready();
    try {
      for (const payload of ['{not json', `{"a": "${'x'.repeat(2 * 1024 * 1024)}"}`]) {
        const headers = { 'content-type': 'application/json' };
        const wrong = await app.inject({ method: 'DELETE', url: '/things', headers, payload });
        expect({ status: wrong.statusCode, allow: wrong.headers.allow }).toEqual({
          status: 405,
          allow: 'POST',
        });
        const unknown = await app.inject({ method: 'POST', url: '/nowhere', headers, payload });
        expect(unknown.statusCode).toBe(404);
        expect(unknown.json()).toMatchObject({ error: 'not_found' });
      }
      const served = await app.inject({ method: 'POST', url: '/things', payload: { a: 1 } });
      expect(served.json()).toEqual({ served: true });
      // Nothing went on to parse the body and answer a second time.
      expect(warnings.join('\n')).not.toMatch(/already sent|FST_ERR/i);
    } finally {
      await app.close();
    }
  });
});
