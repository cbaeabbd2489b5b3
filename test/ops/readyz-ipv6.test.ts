import type { FastifyInstance } from 'fastify';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApiApp } from '../../src/producers/app.js';
import { connectTarget } from '../../src/producers/routes/ops.js';
import { startSandbox } from '../../src/sandbox/server.js';
import type { RunningSandbox } from '../../src/sandbox/types.js';
import { loadConfig } from '../../src/shared/config.js';
import { createContext, type ClosableContext } from '../../src/shared/context-factory.js';
import { silentLogger } from '../../src/shared/logger.js';
import { testPrefix } from '../support/redis-prefix.js';
import { REDIS_URL, deletePrefix } from './helpers.js';

describe('the readiness probe and an IPv6 address', () => {
  it('connects to the address, not to its bracketed URL form', () => {
    // URL.hostname keeps the brackets of an IPv6 literal; net.connect looked `[fd00::5]` up as a name.
    expect(connectTarget('http://[fd00::5]:8080/api', () => '')).toMatchObject({
      host: 'fd00::5',
      port: 8080,
      describe: 'CXone at [fd00::5]:8080',
    });
    expect(connectTarget('https://api.cxone.example', () => 'http://[fd00::1]:3128')).toMatchObject({
      host: 'fd00::1',
      port: 3128,
      describe: 'the proxy [fd00::1]:3128 for CXone at api.cxone.example',
    });
  });
});

/** Whether this host can listen on IPv6's loopback (a container with IPv6 disabled cannot). */
async function ipv6LoopbackUsable(): Promise<boolean> {
  const server = createServer();
  return new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(0, '::1', () => server.close(() => resolve(true)));
  });
}
const ipv6 = await ipv6LoopbackUsable();
if (!ipv6) console.warn('readyz-ipv6: this host cannot listen on ::1; its integration case is skipped');

/**
 * CXONE_BASE_URL naming CXone by an IPv6 address: the calls go through, so the probe must not read
 * "does not accept connections (ENOTFOUND)" for ever. Real Redis, real CXone client, real sandbox.
 */
describe.skipIf(!ipv6)('/readyz with CXONE_BASE_URL at an IPv6 address (integration)', () => {
  let sandbox: RunningSandbox;
  let ctx: ClosableContext | undefined;
  let app: FastifyInstance | undefined;
  const prefix = testPrefix();

  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0, host: '::1', logger: silentLogger });
    const config = loadConfig({
      REDIS_URL,
      KEY_PREFIX: prefix,
      API_TOKEN: 'ops-ready-token',
      CXONE_BASE_URL: sandbox.url,
      CXONE_CLIENT_ID: 'sandbox-client',
      CXONE_CLIENT_SECRET: 'sandbox-secret',
      CXONE_TIMEOUT_MS: '2000',
    });
    ctx = await createContext(config, silentLogger);
    app = await buildApiApp(ctx);
    await app.ready();
  });

  afterAll(async () => {
    await app?.close();
    if (ctx) {
      await deletePrefix(ctx.redis, prefix);
      await ctx.close();
    }
    await sandbox?.close();
  });

  it('is ready', async () => {
    expect(sandbox.url).toMatch(/^http:\/\/\[::1\]:\d+$/);
    const res = await app!.inject({ method: 'GET', url: '/readyz' });
    expect(res.json()).toMatchObject({ status: 'ready', checks: { cxone: { ok: true } } });
    expect(res.statusCode).toBe(200);
  });
});
