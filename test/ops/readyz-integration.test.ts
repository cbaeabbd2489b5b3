import type { FastifyInstance } from 'fastify';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApiApp } from '../../src/producers/app.js';
import { startSandbox } from '../../src/sandbox/server.js';
import type { RunningSandbox } from '../../src/sandbox/types.js';
import { loadConfig } from '../../src/shared/config.js';
import { createContext, type ClosableContext } from '../../src/shared/context-factory.js';
import { silentLogger } from '../../src/shared/logger.js';
import { REDIS_URL, deletePrefix } from './helpers.js';
import { testPrefix } from '../support/redis-prefix.js';

/** Real Redis, real CXone client and limiter, real sandbox over HTTP. */
describe('/readyz against the sandbox (integration)', () => {
  let sandbox: RunningSandbox;
  const built: { ctx: ClosableContext; app: FastifyInstance; prefix: string }[] = [];

  /** An API process over real Redis whose CXone is `cxoneUrl` (the shared sandbox by default). */
  async function fleet(clientSecret: string, cxoneUrl = sandbox.url) {
    const prefix = testPrefix();
    const config = loadConfig({
      REDIS_URL,
      KEY_PREFIX: prefix,
      API_TOKEN: 'ops-ready-token',
      CXONE_BASE_URL: cxoneUrl,
      CXONE_CLIENT_ID: 'sandbox-client',
      CXONE_CLIENT_SECRET: clientSecret,
      CXONE_TIMEOUT_MS: '2000',
    });
    const ctx = await createContext(config, silentLogger);
    const app = await buildApiApp(ctx);
    await app.ready();
    built.push({ ctx, app, prefix });
    return { app, ctx };
  }

  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0, logger: silentLogger });
  });

  afterAll(async () => {
    for (const { ctx, app, prefix } of built) {
      await app.close();
      await deletePrefix(ctx.redis, prefix);
      await ctx.close();
    }
    await sandbox?.close();
  });

  it('is 200 when Redis answers and the sandbox issues a token', async () => {
    const { app } = await fleet('sandbox-secret');
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.json()).toMatchObject({
      status: 'ready',
      checks: { redis: { ok: true }, cxone: { ok: true } },
    });
    expect(res.statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });

  it("serves a valid OpenAPI document covering every area's routes once", async () => {
    const app = built[0]?.app ?? (await fleet('sandbox-secret')).app;
    const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json();
    expect(await new Validator().validate(doc)).toMatchObject({ valid: true });
    const paths = Object.keys(doc.paths as Record<string, unknown>);
    const templates = paths.map((p) => p.replace(/\{[^}]+\}/g, '{}'));
    expect(new Set(templates).size).toBe(templates.length);
    expect(doc.paths['/v1/campaigns/{campaignId}/actions'].post.requestBody).toBeDefined();
    expect(doc.paths['/v1/campaigns/{campaignId}'].patch).toBeDefined();
  });

  it('turns 503 when CXone goes away although a token is still cached', async () => {
    const own = await startSandbox({ port: 0, logger: silentLogger });
    const { app } = await fleet('sandbox-secret', own.url);
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    await own.close();
    const down = await app.inject({ method: 'GET', url: '/readyz' });
    expect(down.statusCode).toBe(503);
    expect(down.json().checks.cxone).toMatchObject({
      ok: false,
      error: expect.stringContaining('connections'),
    });
  });

  it('turns 503 when CXone answers 503 to every call although its host accepts connections, and back', async () => {
    const own = await startSandbox({ port: 0, logger: silentLogger });
    const { app, ctx } = await fleet('sandbox-secret', own.url);
    try {
      expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
      // CXone is up, its token still cached here, but every API call fails.
      own.setFaults({ errorRate: 1 });
      for (let i = 0; i < 3; i++) {
        await expect(ctx.cxone.getCampaign('00000000-0000-4000-8000-000000000000')).rejects.toThrow();
      }
      const down = await app.inject({ method: 'GET', url: '/readyz' });
      expect(down.statusCode).toBe(503);
      expect(down.json().checks).toMatchObject({
        redis: { ok: true },
        cxone: { ok: false, error: expect.stringContaining('HTTP 503') },
      });
      // One answer (a 404 is CXone answering) and it is ready again.
      own.setFaults({ errorRate: 0 });
      await expect(ctx.cxone.getCampaign('00000000-0000-4000-8000-000000000000')).rejects.toThrow(
        /not found/i,
      );
      expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    } finally {
      await own.close();
    }
  });

  it('is 503 naming CXone when the sandbox refuses the client credentials', async () => {
    const { app } = await fleet('not-the-secret');
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    const body = res.json();
    expect(body.checks.redis.ok).toBe(true);
    expect(body.checks.cxone.ok).toBe(false);
    expect(body.checks.cxone.error).toEqual(expect.any(String));
    expect(JSON.stringify(body)).not.toContain('not-the-secret');
  });
});
