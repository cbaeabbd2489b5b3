import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApiApp } from '../../src/producers/app.js';
import { connectOnce, connectTarget } from '../../src/producers/routes/ops.js';
import { startSandbox } from '../../src/sandbox/server.js';
import type { RunningSandbox } from '../../src/sandbox/types.js';
import { loadConfig } from '../../src/shared/config.js';
import { createContext, type ClosableContext } from '../../src/shared/context-factory.js';
import { silentLogger } from '../../src/shared/logger.js';
import { testPrefix } from '../support/redis-prefix.js';
import { REDIS_URL, deletePrefix } from './helpers.js';

describe('where the readiness probe connects', () => {
  it("is CXone's host and port, or the proxy's when CXone calls go through one", () => {
    expect(connectTarget('https://api.cxone.example/v2', () => '')).toMatchObject({
      host: 'api.cxone.example',
      port: 443,
      describe: 'CXone at api.cxone.example',
    });
    expect(connectTarget('http://10.0.0.5:8080', () => '')).toMatchObject({ host: '10.0.0.5', port: 8080 });
    expect(connectTarget('https://api.cxone.example', () => 'http://egress.corp:3128')).toMatchObject({
      host: 'egress.corp',
      port: 3128,
      describe: 'the proxy egress.corp:3128 for CXone at api.cxone.example',
    });
    // A proxy named without a scheme, as HTTPS_PROXY=egress:3128 often is.
    expect(connectTarget('https://api.cxone.example', () => 'egress.corp:3128')).toMatchObject({
      host: 'egress.corp',
      port: 3128,
    });
  });

  it('follows HTTPS_PROXY and NO_PROXY as the CXone client does', () => {
    const saved = { HTTPS_PROXY: process.env.HTTPS_PROXY, NO_PROXY: process.env.NO_PROXY };
    try {
      process.env.HTTPS_PROXY = 'http://egress.corp:3128';
      process.env.NO_PROXY = '.internal.example';
      expect(connectTarget('https://api.cxone.example')).toMatchObject({ host: 'egress.corp', port: 3128 });
      expect(connectTarget('https://cxone.internal.example')).toMatchObject({
        host: 'cxone.internal.example',
        port: 443,
      });
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  it('connects once, and says which host refused', async () => {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await expect(connectOnce({ host: '127.0.0.1', port, describe: 'x' }, 1000)).resolves.toBeUndefined();
    await new Promise((resolve) => server.close(resolve));
    await expect(
      connectOnce({ host: '127.0.0.1', port, describe: 'the proxy 127.0.0.1 for CXone at y' }, 1000),
    ).rejects.toThrow(/^the proxy 127\.0\.0\.1 for CXone at y does not accept connections \(ECONNREFUSED\)$/);
  });
});

/**
 * A deployment whose only way to CXone is its egress proxy: CXone's host does not even resolve from
 * here, the calls go through HTTP_PROXY (a plain forward proxy to the sandbox, real HTTP), and the
 * fleet is ready. Real Redis, real CXone client.
 */
describe('/readyz behind an egress proxy (integration)', () => {
  let sandbox: RunningSandbox;
  let proxy: http.Server;
  let proxyUrl = '';
  const proxied: string[] = [];
  let ctx: ClosableContext | undefined;
  let app: FastifyInstance | undefined;
  const prefix = testPrefix();
  const savedProxy = process.env.HTTP_PROXY;

  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0, logger: silentLogger });
    const upstream = new URL(sandbox.url);
    proxy = http.createServer((req, res) => {
      // A forward proxy gets the absolute URL; it sends it on to the only CXone there is here.
      const target = new URL(String(req.url));
      proxied.push(`${req.method} ${target.host}${target.pathname}`);
      const out = http.request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: target.pathname + target.search,
          headers: { ...req.headers, host: upstream.host },
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      out.on('error', () => res.destroy());
      req.pipe(out);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    // Read by the CXone client when it is built, and by the probe.
    process.env.HTTP_PROXY = proxyUrl;
  });

  afterAll(async () => {
    if (savedProxy === undefined) delete process.env.HTTP_PROXY;
    else process.env.HTTP_PROXY = savedProxy;
    await app?.close();
    if (ctx) {
      await deletePrefix(ctx.redis, prefix);
      await ctx.close();
    }
    proxy?.closeAllConnections();
    await new Promise((resolve) => proxy?.close(resolve));
    await sandbox?.close();
  });

  it('is ready when CXone answers through the proxy, and names the proxy when it is gone', async () => {
    const config = loadConfig({
      REDIS_URL,
      KEY_PREFIX: prefix,
      API_TOKEN: 'ops-ready-token',
      CXONE_BASE_URL: 'http://cxone-egress-only.invalid',
      CXONE_CLIENT_ID: 'sandbox-client',
      CXONE_CLIENT_SECRET: 'sandbox-secret',
      CXONE_TIMEOUT_MS: '2000',
    });
    ctx = await createContext(config, silentLogger);
    app = await buildApiApp(ctx);
    await app.ready();

    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.json()).toMatchObject({ status: 'ready', checks: { cxone: { ok: true } } });
    expect(ready.statusCode).toBe(200);
    // The token came through the proxy: the probe is not satisfied by a host nobody can reach.
    expect(proxied).toContain('POST cxone-egress-only.invalid/oauth2/token');

    proxy.closeAllConnections();
    await new Promise((resolve) => proxy.close(resolve));
    const down = await app.inject({ method: 'GET', url: '/readyz' });
    expect(down.statusCode).toBe(503);
    expect(down.json().checks.cxone.error).toBe(
      `the proxy ${new URL(proxyUrl).host} for CXone at cxone-egress-only.invalid does not accept connections (ECONNREFUSED)`,
    );
  });
});
