import { createServer, request, type Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach } from 'vitest';

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

/**
 * Every test of the file starts with no proxy settings (a developer's or CI's own HTTP_PROXY would
 * otherwise route the test's deliveries) and gets them back afterwards; `extra` names more variables
 * handled the same way.
 */
export function isolateProxyEnv(extra: readonly string[] = []): void {
  const names = [...extra, ...PROXY_VARS];
  let saved: Record<string, string | undefined> = {};
  beforeEach(() => {
    saved = Object.fromEntries(names.map((name) => [name, process.env[name]]));
    for (const name of names) delete process.env[name];
  });
  afterEach(() => {
    for (const name of names) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  });
}

/**
 * A plain HTTP forward proxy (absolute-URI requests, forwarded as they came) that streams the
 * receiver's answer back as it comes; `seen` lists the requests it forwarded. A receiver it cannot
 * reach is a 502, as from a real proxy; one that goes away mid-answer cuts the answer.
 */
export async function startForwardProxy(
  cleanups: (() => Promise<void>)[],
): Promise<{ url: string; seen: string[] }> {
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
    upstream.on('error', () => (res.headersSent ? res.destroy() : res.writeHead(502).end()));
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  return { url: `http://127.0.0.1:${await listenOnLoopback(server, cleanups)}`, seen };
}

/** Listens on a free loopback port and returns it; the server and its connections close at clean-up. */
export async function listenOnLoopback(
  server: Server | HttpsServer,
  cleanups: (() => Promise<void>)[],
): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as AddressInfo).port;
}
