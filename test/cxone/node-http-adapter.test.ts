import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import axios, { AxiosError, type AxiosInstance, type CreateAxiosDefaults } from 'axios';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createCxoneHttp } from '../../src/shared/cxone/http.js';
import { nodeHttpAdapter } from '../../src/shared/cxone/node-http-adapter.js';
import { CXONE_ENDPOINTS } from '../../src/shared/cxone/wire.js';
import { CxoneUnavailableError } from '../../src/shared/errors.js';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  socket: number;
}

/** A server that records what reached it and answers as `answer` says. */
async function server(
  answer: (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void,
): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const sockets = new Map<unknown, number>();
  const srv = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (!sockets.has(req.socket)) sockets.set(req.socket, sockets.size + 1);
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body,
        socket: sockets.get(req.socket) as number,
      });
      answer(req, res, body);
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise((resolve) => {
        srv.closeAllConnections();
        srv.close(() => resolve());
      }),
  };
}

const json = (res: http.ServerResponse, status: number, value: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
};

describe('nodeHttpAdapter (the CXone transport under axios)', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  function instance(baseURL: string, extra: CreateAxiosDefaults = {}): AxiosInstance {
    const agent = new http.Agent({ keepAlive: true });
    cleanups.push(() => agent.destroy());
    return axios.create({
      baseURL,
      httpAgent: agent,
      proxy: false,
      maxRedirects: 0,
      validateStatus: () => true,
      adapter: nodeHttpAdapter,
      ...extra,
    });
  }

  it('sends what axios own adapter sends and hands back status, headers and the parsed body', async () => {
    const srv = await server((req, res) => {
      res.setHeader('x-request-id', 'r-1');
      json(res, 201, { id: 'c-1', version: 1 });
    });
    cleanups.push(srv.close);
    const request = {
      method: 'POST',
      url: '/api/v2/campaigns',
      params: { pageSize: 50, cursor: 'a b/c', skipped: undefined },
      headers: { Authorization: 'Bearer t-1', 'Idempotency-Key': 'k-1' },
      data: { name: 'Spring renewals', dialerSettings: { callRate: 0.6 } },
    } as const;

    const ours = await instance(srv.url).request(request);
    const theirs = await instance(srv.url, { adapter: 'http' }).request(request);

    expect(ours.status).toBe(201);
    expect(ours.data).toEqual({ id: 'c-1', version: 1 });
    expect(theirs.data).toEqual(ours.data);
    expect(ours.headers['x-request-id']).toBe('r-1');
    const [a, b] = srv.seen as [Seen, Seen];
    expect(a.method).toBe('POST');
    expect(a.url).toBe(b.url);
    expect(a.url).toBe('/api/v2/campaigns?pageSize=50&cursor=a+b%2Fc');
    expect(a.body).toBe(b.body);
    expect(JSON.parse(a.body)).toEqual(request.data);
    for (const name of ['authorization', 'idempotency-key', 'content-type', 'content-length', 'accept']) {
      expect(a.headers[name], name).toBe(b.headers[name]);
    }
    expect(a.headers['user-agent']).toBe(b.headers['user-agent']);
    // The one intended difference: no compression is asked for (axios's adapter asks for four kinds).
    expect(a.headers['accept-encoding']).toBeUndefined();
    expect(b.headers['accept-encoding']).toMatch(/gzip/);
  });

  it('leaves what it does not carry to axios own adapter (here, basic auth)', async () => {
    const srv = await server((_req, res) => json(res, 200, {}));
    cleanups.push(srv.close);
    await instance(srv.url).get('/x', { auth: { username: 'u', password: 'p' } });
    const [seen] = srv.seen as [Seen];
    expect(seen.headers.authorization).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    expect(seen.headers['accept-encoding']).toMatch(/gzip/);
  });

  it('reuses one keep-alive connection for calls in sequence', async () => {
    const srv = await server((_req, res) => json(res, 200, { ok: true }));
    cleanups.push(srv.close);
    const client = instance(srv.url);
    for (let i = 0; i < 3; i++) await client.get('/api/v2/campaigns/c-1');
    expect(srv.seen.map((s) => s.socket)).toEqual([1, 1, 1]);
  });

  it('hands back error statuses with their bodies (validateStatus decides), and rejects when told to', async () => {
    const srv = await server((_req, res) =>
      json(res, 422, { errors: [{ field: 'name', message: 'required' }] }),
    );
    cleanups.push(srv.close);
    const res = await instance(srv.url).post('/api/v2/campaigns', {});
    expect(res.status).toBe(422);
    expect(res.data).toEqual({ errors: [{ field: 'name', message: 'required' }] });

    const strict = instance(srv.url, { validateStatus: (s) => s < 400 });
    const err = await strict.post('/api/v2/campaigns', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AxiosError);
    expect((err as AxiosError).code).toBe(AxiosError.ERR_BAD_REQUEST);
    expect((err as AxiosError).response?.status).toBe(422);
  });

  it('decodes a gzip answer', async () => {
    const srv = await server((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(gzipSync(JSON.stringify({ compressed: true })));
    });
    cleanups.push(srv.close);
    expect((await instance(srv.url).get('/x')).data).toEqual({ compressed: true });
    // decompress: false is axios's own adapter's business: the answer comes back as it was sent.
    const raw = await instance(srv.url).get('/x', { decompress: false });
    expect(raw.data).not.toEqual({ compressed: true });
    expect(raw.headers['content-encoding']).toBe('gzip');
  });

  it('times out a call that gets no answer, with the code axios gives', async () => {
    const srv = await server(() => undefined);
    cleanups.push(srv.close);
    const started = Date.now();
    const err = await instance(srv.url, { timeout: 150, transitional: { clarifyTimeoutError: true } })
      .get('/slow')
      .catch((e: unknown) => e);
    expect((err as AxiosError).code).toBe('ETIMEDOUT');
    expect((err as AxiosError).message).toBe('timeout of 150ms exceeded');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('stops on an aborted signal, before sending when it is already aborted', async () => {
    const srv = await server(() => undefined);
    cleanups.push(srv.close);
    const client = instance(srv.url);
    const before = new AbortController();
    before.abort();
    const early = await client.get('/a', { signal: before.signal }).catch((e: unknown) => e);
    expect((early as AxiosError).code).toBe('ERR_CANCELED');

    const during = new AbortController();
    const pending = client.get('/b', { signal: during.signal }).catch((e: unknown) => e);
    // Aborted once the server has the request (a fixed pause could end before it arrived).
    await vi.waitFor(() => expect(srv.seen.map((s) => s.url)).toContain('/b'), {
      timeout: 5_000,
      interval: 10,
    });
    during.abort();
    expect(((await pending) as AxiosError).code).toBe('ERR_CANCELED');
    expect(srv.seen.map((s) => s.url)).toEqual(['/b']);
  });

  it('refuses an answer larger than maxContentLength', async () => {
    const srv = await server((_req, res) => json(res, 200, { blob: 'x'.repeat(10_000) }));
    cleanups.push(srv.close);
    const err = await instance(srv.url, { maxContentLength: 1_000 })
      .get('/big')
      .catch((e: unknown) => e);
    expect((err as AxiosError).code).toBe(AxiosError.ERR_BAD_RESPONSE);
    expect((err as AxiosError).message).toBe('maxContentLength size of 1000 exceeded');
  });

  it('fails, instead of hanging, when the connection closes in the middle of an answer', async () => {
    const srv = await server((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"partial":');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    cleanups.push(srv.close);
    const err = await instance(srv.url)
      .get('/cut')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AxiosError);
    expect(['ECONNRESET', AxiosError.ERR_BAD_RESPONSE]).toContain((err as AxiosError).code);
  });

  it('speaks HTTPS through the https agent, and refuses a certificate it cannot verify', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cxo-tls-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    const cert = readFileSync(join(dir, 'cert.pem'));
    const seen: http.IncomingHttpHeaders[] = [];
    const srv = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert }, (req, res) => {
      seen.push(req.headers);
      json(res, 200, { secure: true });
    });
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => srv.close(() => resolve())));
    const url = `https://127.0.0.1:${(srv.address() as AddressInfo).port}`;

    const trusting = new https.Agent({ keepAlive: true, ca: cert });
    cleanups.push(() => trusting.destroy());
    const res = await instance(url, { httpsAgent: trusting }).get('/api/v2/campaigns/c-1');
    expect(res.data).toEqual({ secure: true });
    expect(seen[0]?.['accept-encoding']).toBeUndefined();

    const strict = new https.Agent({ keepAlive: true });
    cleanups.push(() => strict.destroy());
    const err = await instance(url, { httpsAgent: strict })
      .get('/api/v2/campaigns/c-1')
      .catch((e: unknown) => e);
    expect((err as AxiosError).code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    expect(seen).toHaveLength(1);
  });

  it('sends a CXone call with exactly its own headers, Accept and, with a body, its JSON type', async () => {
    const srv = await server((_req, res) => json(res, 200, { id: 'c-1', version: 2 }));
    cleanups.push(srv.close);
    const cxone = createCxoneHttp({ baseUrl: srv.url, timeoutMs: 2_000 });
    cleanups.push(() => cxone.close());

    const patched = await cxone.send({
      endpoint: CXONE_ENDPOINTS.updateCampaign,
      method: 'PATCH',
      path: '/api/v2/campaigns/c-1',
      headers: { Authorization: 'Bearer t-1', 'If-Match': 'version=1' },
      data: { status: 'scheduled' },
    });
    await cxone.send({
      endpoint: CXONE_ENDPOINTS.getCampaign,
      method: 'GET',
      path: '/api/v2/campaigns/c-1',
      headers: { Authorization: 'Bearer t-1' },
    });

    expect(patched).toMatchObject({ status: 200, body: { id: 'c-1', version: 2 } });
    const [patch, get] = srv.seen as [Seen, Seen];
    const sent = (seen: Seen) => {
      const { host: _host, connection: _connection, 'user-agent': agent, ...rest } = seen.headers;
      expect(agent).toMatch(/^axios\//);
      return rest;
    };
    expect(sent(patch)).toEqual({
      accept: 'application/json',
      authorization: 'Bearer t-1',
      'if-match': 'version=1',
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(JSON.stringify({ status: 'scheduled' }))),
    });
    expect(patch.body).toBe('{"status":"scheduled"}');
    expect(sent(get)).toEqual({ accept: 'application/json', authorization: 'Bearer t-1' });
  });

  it('keeps the network error code, so the CXone layer names what happened', async () => {
    const srv = await server(() => undefined);
    const url = srv.url;
    await srv.close();
    const cxone = createCxoneHttp({ baseUrl: url, timeoutMs: 2_000 });
    cleanups.push(() => cxone.close());
    const err = await cxone
      .send({ endpoint: CXONE_ENDPOINTS.getCampaign, method: 'GET', path: '/api/v2/campaigns/c-1' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CxoneUnavailableError);
    expect((err as Error).message).toMatch(/connection was refused \(ECONNREFUSED\)/);
  });
});
