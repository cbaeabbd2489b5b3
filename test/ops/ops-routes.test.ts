import net from 'node:net';
import { Redis } from 'ioredis';
import { Validator } from '@seriousme/openapi-schema-validator';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildOpenApiDocument, renderDocsHtml, toOpenApiPath } from '../../src/producers/openapi.js';
import {
  checkReadiness,
  readinessDeps,
  exposition,
  registerOpsRoutes,
  startMetricsServer,
} from '../../src/producers/routes/ops.js';
import { withTimeout } from '../../src/shared/with-timeout.js';
import { QUEUES } from '../../src/shared/keys.js';
import {
  pollIntervalFloor,
  polledCampaigns,
  registerBudgetReader,
  registerWebhookHoldReader,
} from '../../src/shared/metrics.js';
import { createOpsTestContext, type OpsTestContext } from './helpers.js';
import { parsePrometheusText } from './prom-text.js';
import { recordingLogger } from '../support/log-capture.js';
import { rawExchange } from '../support/raw-http.js';

/** A token provider whose answer the test controls; the route only asks it for a token. */
const tokenOutcome = { fail: false };
const fakeCxone = {
  tokens: {
    getToken: async () => {
      if (tokenOutcome.fail) throw new Error('CXone answered 401 to POST /oauth2/token');
      return 'access-token';
    },
  },
};

describe('ops routes (real Redis and BullMQ queues, stand-in token provider)', () => {
  let ctx: OpsTestContext;
  let app: FastifyInstance;

  // Readiness also connects to CXone's host; this listener stands in for it.
  const cxoneHost = net.createServer((socket) => socket.destroy());

  beforeAll(async () => {
    await new Promise<void>((resolve) => cxoneHost.listen(0, '127.0.0.1', resolve));
    const { port } = cxoneHost.address() as net.AddressInfo;
    ctx = createOpsTestContext(fakeCxone, { SANDBOX_PORT: String(port) });
    app = Fastify();
    // The default bound (2 s): these tests read real Redis and expect every figure, which 500 ms could
    // cut short on a loaded machine; what a bound does to a read that hangs is tested below.
    await registerOpsRoutes(app, ctx, { probeTimeoutMs: 2_000 });
    app.get('/v1/extra/:thingId', async () => ({ ok: true }));
    // Same template as the documented /v1/campaigns/{campaignId}, under another parameter name.
    app.delete('/v1/campaigns/:id', async () => ({ ok: true }));
    await app.ready();
    await ctx.queues.launch.add('launch', { n: 1 });
    await ctx.queues.launch.add('launch', { n: 2 }, { delay: 60_000 });
  });

  afterAll(async () => {
    await app?.close();
    await ctx?.close();
    await new Promise((resolve) => cxoneHost.close(resolve));
  });

  it('GET /healthz answers 200 without credentials', async () => {
    const res = await app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('GET /readyz is 200 when Redis and the token provider answer, 503 naming CXone when it cannot', async () => {
    tokenOutcome.fail = false;
    const ok = await app.inject({ method: 'GET', url: '/readyz' });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({
      status: 'ready',
      checks: { redis: { ok: true }, cxone: { ok: true } },
    });

    tokenOutcome.fail = true;
    const bad = await app.inject({ method: 'GET', url: '/readyz' });
    tokenOutcome.fail = false;
    expect(bad.statusCode).toBe(503);
    const body = bad.json();
    expect(body.status).toBe('not_ready');
    expect(body.checks.redis.ok).toBe(true);
    expect(body.checks.cxone).toMatchObject({ ok: false, error: expect.stringContaining('401') });
  });

  it('GET /metrics reports the campaigns the fleet polls, read at scrape time, also after a restart', async () => {
    // Polled by an earlier process: this one has changed nothing, so only Redis knows.
    await ctx.redis.hset(ctx.keys.custom('polling', 'active'), { a: '15000', b: '15000', c: '30000' });
    await ctx.redis.hset(ctx.keys.custom('polling', 'meta'), { tier: '1', floorMs: '1500' });
    polledCampaigns.set(0);
    pollIntervalFloor.set(0);
    const { samples } = parsePrometheusText((await app.inject({ method: 'GET', url: '/metrics' })).body);
    expect(samples.find((s) => s.name === 'cxo_polled_campaigns')?.value).toBe(3);
    expect(samples.find((s) => s.name === 'cxo_poll_interval_floor_seconds')?.value).toBe(1.5);
  });

  it('GET /metrics shows no queue depths, polling or budget figures it could not read, not the last ones', async () => {
    const budget = { fail: false };
    const unregister = registerBudgetReader(async () => {
      if (budget.fail) throw new Error('Redis did not answer');
      return { endpoint: 'GET /api/v2/outbound/campaigns/:id/stats', left: 42 };
    });
    // The same routes over a Redis that stops answering after the first scrape.
    const stalled = { now: false };
    const redis = new Proxy(ctx.redis, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (!stalled.now || typeof value !== 'function') return value;
        return () => new Promise(() => undefined);
      },
    });
    const queues = Object.fromEntries(
      Object.entries(ctx.queues).map(([name, queue]) => [
        name,
        {
          getJobCounts: (...states: string[]) =>
            stalled.now ? new Promise(() => undefined) : queue.getJobCounts(...(states as [])),
        },
      ]),
    ) as unknown as typeof ctx.queues;
    const other = Fastify();
    try {
      await registerOpsRoutes(other, { ...ctx, redis, queues }, { probeTimeoutMs: 200, docs: false });
      const scrape = async () =>
        parsePrometheusText((await other.inject({ method: 'GET', url: '/metrics' })).body).samples;
      // Read again until one scrape has it all: with 200 ms for its Redis reads, a healthy scrape on a
      // loaded machine can miss some (what this test checks is only that a stalled one shows none).
      await vi.waitFor(
        async () => {
          const before = await scrape();
          expect(before.filter((s) => s.name === 'cxo_queue_jobs').length).toBeGreaterThan(0);
          expect(before.find((s) => s.name === 'cxo_limiter_budget_left')?.value).toBe(42);
          expect(Number.isFinite(before.find((s) => s.name === 'cxo_polled_campaigns')?.value)).toBe(true);
        },
        { timeout: 10_000, interval: 50 },
      );

      stalled.now = true;
      budget.fail = true;
      const during = await scrape();
      expect(during.find((s) => s.name === 'cxo_queue_scrape_ok')?.value).toBe(0);
      expect(during.filter((s) => s.name === 'cxo_queue_jobs')).toEqual([]);
      expect(during.filter((s) => s.name === 'cxo_limiter_budget_left')).toEqual([]);
      expect(during.find((s) => s.name === 'cxo_polled_campaigns')?.value).toBeNaN();
      expect(during.find((s) => s.name === 'cxo_poll_interval_floor_seconds')?.value).toBeNaN();
    } finally {
      stalled.now = false;
      unregister();
      await other.close();
    }
  });

  it('GET /metrics names a Redis that is not connected in its warning, not a slow one', async () => {
    // ioredis while Redis refuses connections: reconnecting, every command held until the deadline.
    const redis = new Proxy(ctx.redis, {
      get(target, prop, receiver) {
        if (prop === 'status') return 'reconnecting';
        const value = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? () => new Promise(() => undefined) : value;
      },
    });
    const queues = Object.fromEntries(
      Object.keys(ctx.queues).map((name) => [name, { getJobCounts: () => new Promise(() => undefined) }]),
    ) as unknown as typeof ctx.queues;
    const { logger, lines } = recordingLogger();
    const other = Fastify();
    try {
      await registerOpsRoutes(other, { ...ctx, redis, queues, logger }, { probeTimeoutMs: 100, docs: false });
      await other.inject({ method: 'GET', url: '/metrics' });
      expect(lines.filter((l) => l.msg.startsWith('queue depths'))).toEqual([
        expect.objectContaining({
          level: 40,
          redis: 'reconnecting',
          msg: 'queue depths or polling state unavailable for this scrape: Redis is not connected (reconnecting)',
        }),
      ]);
    } finally {
      await other.close();
    }
  });

  it("GET /metrics reads the webhook hold within the scrape's deadline, beside the other Redis reads", async () => {
    // A webhook worker's hold reader over a Redis that does not answer.
    const unregister = registerWebhookHoldReader(() => new Promise<number>(() => undefined));
    const other = Fastify();
    try {
      await registerOpsRoutes(other, ctx, { probeTimeoutMs: 100, docs: false });
      const started = Date.now();
      const res = await other.inject({ method: 'GET', url: '/metrics' });
      const elapsed = Date.now() - started;
      const samples = parsePrometheusText(res.body).samples;
      expect(samples.find((s) => s.name === 'cxo_webhook_destination_backoff_seconds')?.value).toBeNaN();
      // Read after the others with a deadline of its own (1 s), it took 1.1 s here.
      expect(elapsed).toBeLessThan(700);
    } finally {
      unregister();
      await other.close();
    }
  });

  it('GET /metrics exports the webhook hold only while a webhook worker can read it', async () => {
    // An api-role process has no reader: a 0 from it would outvote the workers' NaN in a fleet-wide max.
    const hold = async () =>
      parsePrometheusText((await app.inject({ method: 'GET', url: '/metrics' })).body).samples.filter(
        (s) => s.name === 'cxo_webhook_destination_backoff_seconds',
      );
    expect(await hold()).toEqual([]);
    const unregister = registerWebhookHoldReader(async () => 4_000);
    try {
      expect((await hold()).map((s) => s.value)).toEqual([4]);
    } finally {
      unregister();
    }
    expect(await hold()).toEqual([]);
    // A later reader starts from its own reading, not the last one's.
    const again = registerWebhookHoldReader(async () => 0);
    try {
      expect((await hold()).map((s) => s.value)).toEqual([0]);
    } finally {
      again();
    }
  });

  it('GET /metrics is valid Prometheus text with queue depths read at scrape time', async () => {
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const { samples, types } = parsePrometheusText(res.body);
    const depth = (queue: string, state: string) =>
      samples.find((s) => s.name === 'cxo_queue_jobs' && s.labels.queue === queue && s.labels.state === state)
        ?.value;
    expect(types.get('cxo_queue_jobs')).toBe('gauge');
    expect(depth('launch', 'waiting')).toBe(1);
    expect(depth('launch', 'delayed')).toBe(1);
    for (const q of Object.values(QUEUES)) expect(depth(q, 'active')).toBe(0);
    expect(samples.find((s) => s.name === 'cxo_queue_scrape_ok')?.value).toBe(1);
    for (const family of [
      'cxo_cxone_calls_total',
      'cxo_cxone_429_total',
      'cxo_limiter_budget_left',
      'cxo_token_refreshes_total',
      'cxo_job_duration_seconds',
      'cxo_pacing_decisions_total',
      'cxo_compliance_actions_total',
      'cxo_webhook_deliveries_total',
      'cxo_audit_writes_total',
      'cxo_process_resident_memory_bytes',
      'cxo_nodejs_eventloop_lag_seconds',
    ]) {
      expect(types.has(family), family).toBe(true);
    }
  });

  it('GET /docs/json is an OpenAPI 3.1 document that passes the validator and lists the served routes', async () => {
    const res = await app.inject({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    const result = await new Validator().validate(doc);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/healthz',
        '/readyz',
        '/metrics',
        '/v1/campaigns',
        '/v1/campaigns/validate',
        '/v1/launches/{launchId}',
        '/v1/campaigns/{campaignId}',
        '/v1/campaigns/{campaignId}/actions',
        '/v1/campaigns/{campaignId}/audit',
        '/v1/extra/{thingId}',
      ]),
    );
    expect(doc.paths['/v1/extra/{thingId}'].get.parameters[0]).toMatchObject({ name: 'thingId', in: 'path' });
    expect(doc.paths['/v1/campaigns/{id}']).toBeUndefined();
    expect(doc.paths['/v1/campaigns/{campaignId}'].delete.parameters[0]).toMatchObject({
      name: 'campaignId',
    });
  });

  it('a worker process can serve /metrics and the probes on a port of its own', async () => {
    const server = await startMetricsServer(ctx, { port: 0, host: '127.0.0.1', probeTimeoutMs: 2_000 });
    try {
      const metrics = await fetch(`http://127.0.0.1:${server.port}/metrics`);
      expect(metrics.status).toBe(200);
      const { samples } = parsePrometheusText(await metrics.text());
      expect(samples.some((s) => s.name === 'cxo_queue_jobs' && s.labels.queue === 'launch')).toBe(true);
      expect((await fetch(`http://127.0.0.1:${server.port}/readyz`)).status).toBe(200);
      // Paths as the API's port takes them, a trailing slash included: a probe or scrape configured once
      // for every role (`/readyz/`) found 404 here, and the worker pods never turned ready.
      for (const path of ['/readyz/', '/healthz/', '/metrics/']) {
        expect((await fetch(`http://127.0.0.1:${server.port}${path}`)).status, path).toBe(200);
      }
      // Only what it serves: no API document listing routes that are not here, and the API's error shape.
      const docs = await fetch(`http://127.0.0.1:${server.port}/docs/json`);
      expect(docs.status).toBe(404);
      expect(await docs.json()).toMatchObject({
        error: 'not_found',
        message: expect.stringMatching(/\/metrics/),
      });
      const post = await fetch(`http://127.0.0.1:${server.port}/healthz`, { method: 'POST' });
      expect(post.status).toBe(405);
      expect(post.headers.get('allow')).toBe('GET, HEAD');
      expect(await post.json()).toMatchObject({ error: 'method_not_allowed' });
      // Node's own empty, non-JSON 400s answered in the API's shape on this port too.
      const noHost = await rawExchange(server.port, 'GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n');
      expect(noHost).toMatch(/^HTTP\/1\.1 400 /);
      expect(noHost).toMatch(/content-type: application\/json/i);
      expect(noHost).toMatch(/"error":"bad_request".*Host header/);
      const malformed = await rawExchange(
        server.port,
        'GET /metrics HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n',
      );
      expect(malformed).toMatch(/^HTTP\/1\.1 400 /);
      expect(malformed).toContain('"error":"bad_request"');
    } finally {
      await server.close();
    }
  });

  it('GET /docs renders every operation as HTML with a link to the JSON', async () => {
    const res = await app.inject({ method: 'GET', url: '/docs' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).toContain('href="/docs/json"');
    expect(res.body).toContain('<code>/v1/campaigns/{campaignId}/actions</code>');
  });
});

describe('metrics exposition (pure)', () => {
  it('spells a NaN sample the way the text format does, so strict parsers accept it', () => {
    const text = '# HELP g a gauge\n# TYPE g gauge\ng{a="x"} Nan\ng{a="y"} 1\n';
    const out = exposition(text);
    expect(out).toContain('g{a="x"} NaN\n');
    expect(parsePrometheusText(out).samples.map((s) => s.value)).toEqual([Number.NaN, 1]);
    expect(() => parsePrometheusText(text)).toThrow(/bad value "Nan"/);
  });
});

describe('OpenAPI generation (pure)', () => {
  it('derives the campaign config schema from zod, with its constraints', async () => {
    const doc = buildOpenApiDocument() as {
      components: { schemas: Record<string, Record<string, unknown>> };
    };
    const config = doc.components.schemas.CampaignConfig as {
      required: string[];
      properties: Record<string, { properties?: Record<string, unknown> }>;
    };
    expect(config.required).toEqual(
      expect.arrayContaining(['name', 'startDateTime', 'targetListId', 'dialerStrategy', 'allowedCallTimes']),
    );
    expect(config.properties.dialerStrategy?.properties?.callRate).toMatchObject({
      minimum: 0.1,
      maximum: 1,
    });
    expect(JSON.stringify(doc)).not.toContain('"$schema"');
    expect((await new Validator().validate(doc)).valid).toBe(true);
  });

  it('converts fastify path params and escapes HTML', () => {
    expect(toOpenApiPath('/v1/campaigns/:campaignId/audit')).toBe('/v1/campaigns/{campaignId}/audit');
    const html = renderDocsHtml({ info: { title: '<script>x</script>' }, paths: {} });
    expect(html).not.toContain('<script>x');
    expect(html).toContain('&lt;script&gt;');
  });
});

describe('readiness and timeouts (pure)', () => {
  it('fails a check that hangs instead of hanging the probe', async () => {
    const result = await checkReadiness(
      { pingRedis: () => new Promise(() => undefined), getCxoneToken: async () => undefined },
      50,
    );
    expect(result.status).toBe('not_ready');
    expect(result.checks.redis).toMatchObject({ ok: false, error: expect.stringContaining('within 50 ms') });
    expect(result.checks.cxone.ok).toBe(true);
  });

  it('says Redis is not connected, rather than slow, when it refuses the connection', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as net.AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const redis = new Redis(port, '127.0.0.1', { retryStrategy: () => 100, maxRetriesPerRequest: null });
    try {
      await new Promise((resolve) => redis.once('reconnecting', resolve));
      const deps = readinessDeps({ redis, cxone: {} as never, config: {} as never });
      const result = await checkReadiness(deps, 2_000);
      expect(result.checks.redis).toMatchObject({
        ok: false,
        error: expect.stringMatching(/^Redis is not connected \(reconnecting\)/),
      });
      expect(result.checks.redis.ms).toBeLessThan(1_000);
    } finally {
      redis.disconnect();
    }
  });

  it('withTimeout passes results and errors through', async () => {
    await expect(withTimeout(Promise.resolve(7), 100, 'x')).resolves.toBe(7);
    await expect(withTimeout(Promise.reject(new Error('boom')), 100, 'x')).rejects.toThrow('boom');
  });
});
