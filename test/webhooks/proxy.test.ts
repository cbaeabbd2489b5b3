import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deliverOnce } from '../../src/shared/webhooks/deliver.js';
import { Receiver, SECRET } from './harness.js';

/**
 * Deliveries honour HTTP(S)_PROXY / NO_PROXY as the CXone client does: through a forward proxy when
 * one applies to the receiver, directly otherwise.
 */

const PROXY_VARS = [
  'HTTP_PROXY',
  'http_proxy',
  'HTTPS_PROXY',
  'https_proxy',
  'ALL_PROXY',
  'all_proxy',
  'NO_PROXY',
  'no_proxy',
];
let saved: Record<string, string | undefined>;
const cleanups: (() => Promise<void>)[] = [];

beforeEach(() => {
  saved = Object.fromEntries(PROXY_VARS.map((name) => [name, process.env[name]]));
  for (const name of PROXY_VARS) delete process.env[name];
});
afterEach(async () => {
  for (const name of PROXY_VARS) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** A plain HTTP forward proxy: absolute-URI requests, forwarded as they came. */
async function startProxy(): Promise<{ url: string; seen: string[] }> {
  const seen: string[] = [];
  const server: Server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const target = new URL(req.url!);
    const upstream = request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname + target.search,
        method: req.method,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode!, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

async function send(url: string) {
  return deliverOnce({
    url,
    secret: SECRET,
    eventId: 'evt_proxy',
    body: '{"n":1}',
    nowMs: Date.now(),
    timeoutMs: 5_000,
  });
}

describe('webhook deliveries behind a proxy', () => {
  it('go through HTTP_PROXY, signed, with the receiver status, Retry-After and body excerpt', async () => {
    const receiver = await new Receiver().start();
    cleanups.push(() => receiver.stop());
    receiver.respond = () => ({ status: 429, headers: { 'retry-after': '7' }, body: 'slow down' });
    const proxy = await startProxy();
    process.env.HTTP_PROXY = proxy.url;
    const attempt = await send(receiver.url);
    expect(attempt).toMatchObject({ status: 429, retryAfter: '7', bodyExcerpt: 'slow down' });
    expect(proxy.seen).toEqual([`POST ${receiver.url}`]);
    expect(receiver.received).toEqual([
      expect.objectContaining({ id: 'evt_proxy', body: '{"n":1}', signatureValid: true }),
    ]);
  });

  it('go direct when NO_PROXY names the receiver, and report a dead proxy as a network error', async () => {
    const receiver = await new Receiver().start();
    cleanups.push(() => receiver.stop());
    const proxy = await startProxy();
    process.env.HTTP_PROXY = proxy.url;
    process.env.NO_PROXY = '127.0.0.1';
    expect(await send(receiver.url)).toMatchObject({ status: 200 });
    expect(proxy.seen).toEqual([]);

    delete process.env.NO_PROXY;
    process.env.HTTP_PROXY = 'http://127.0.0.1:9';
    const refused = await send(receiver.url);
    expect(refused.status).toBeUndefined();
    expect(refused.error).toBe('ECONNREFUSED');
    expect(receiver.received).toHaveLength(1);
  });
});
