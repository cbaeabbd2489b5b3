import type { Server } from 'node:http';
import net from 'node:net';
import { getProxyForUrl } from 'proxy-from-env';
import Fastify, { type FastifyInstance } from 'fastify';
import { refreshPollingMetrics } from '../../shared/polling/schedulers.js';
import type { AppContext } from '../../shared/context.js';
import type { Logger } from '../../shared/logger.js';
import type { QueueName } from '../../shared/keys.js';
import {
  pollIntervalFloor,
  polledCampaigns,
  queueJobs,
  queueScrapeOk,
  refreshLimiterBudgets,
  refreshWebhookHold,
  registry,
} from '../../shared/metrics.js';
import { buildOpenApiDocument, renderDocsHtml, type DocumentedRoute } from '../openapi.js';
import { answerUnmatched } from '../../shared/http/allowed-methods.js';
import { jsonHttpEdgeOptions, refuseMissingHost } from '../http-edges.js';
import { withTimeout } from '../../shared/with-timeout.js';
import { refusedWrite } from '../../shared/redis.js';
import { environmentNamesProxy } from '../../shared/cxone/http.js';
import type { CxoneReachability } from '../../shared/cxone/reachability.js';
import { shortfallStopsRouting } from '../../shared/cxone/scopes.js';

/**
 * Operations endpoints: liveness, readiness, Prometheus metrics and the API documentation. None of
 * them needs the API token: probes and Prometheus scrapers run without one, and none of them returns
 * campaign data or secrets.
 */

/** Job states reported per queue; the same names BullMQ uses (BullMQ 6 has no separate paused list). */
export const QUEUE_STATES = [
  'waiting',
  'active',
  'delayed',
  'prioritized',
  'waiting-children',
  'completed',
  'failed',
] as const;

export interface CheckResult {
  ok: boolean;
  ms: number;
  error?: string;
}

export interface Readiness {
  status: 'ready' | 'not_ready';
  checks: { redis: CheckResult; cxone: CheckResult; fleet?: CheckResult };
}

/**
 * Readiness with the fleet claim's word added: while another fleet works on this KEY_PREFIX the
 * process's workers stand paused (src/shared/fleet-claim.ts), so an orchestrator must stop routing
 * to it whatever Redis and CXone say. `contested` is the claim's message, undefined when it is not.
 */
export function withFleetCheck(result: Readiness, contested: string | undefined): Readiness {
  const fleet: CheckResult =
    contested === undefined ? { ok: true, ms: 0 } : { ok: false, ms: 0, error: contested };
  return {
    status: result.status === 'ready' && fleet.ok ? 'ready' : 'not_ready',
    checks: { ...result.checks, fleet },
  };
}

async function timed(check: () => Promise<void>, timeoutMs: number, what: string): Promise<CheckResult> {
  const started = performance.now();
  try {
    await withTimeout(check(), timeoutMs, what);
    return { ok: true, ms: Math.round(performance.now() - started) };
  } catch (err) {
    return {
      ok: false,
      ms: Math.round(performance.now() - started),
      error: err instanceof Error ? err.message : String(err),
    };
  }
}

/** During an outage, one "not ready" warning per this long is enough (probes come every few seconds). */
export const NOT_READY_LOG_EVERY_MS = 30_000;

/**
 * What the probes' answers say in the log: a warning when the process turns not ready (again every
 * NOT_READY_LOG_EVERY_MS while it stays so), and one info line when it is ready again, with how long
 * it was not and every check that failed meanwhile — without it an operator reading the log cannot
 * tell when an outage ended. Per transition, not per probe.
 *
 * Probes overlap (a kubelet and a load balancer, or a slow check timing out while the next probe
 * already answered): each takes a ticket before it checks, and an answer older than one already
 * noted is stale — noted out of order, a probe that began during the outage and timed out after a
 * quick "ready" would log a fresh outage and its end a moment later.
 */
export function readinessLog(
  log: Pick<Logger, 'warn' | 'info'>,
  now: () => number = Date.now,
): { ticket(): number; note(ticket: number, result: Readiness): void } {
  let issued = 0;
  let latestNoted = 0;
  let notReadySince: number | undefined;
  let lastWarnAt = 0;
  const failed = new Set<string>();
  return {
    ticket: () => ++issued,
    note(ticket, result) {
      if (ticket < latestNoted) return;
      latestNoted = ticket;
      const at = now();
      if (result.status === 'ready') {
        if (notReadySince === undefined) return;
        const notReadyMs = at - notReadySince;
        const failedChecks = [...failed];
        notReadySince = undefined;
        failed.clear();
        log.info(
          { notReadyMs, failedChecks },
          `ready again after ${Math.round(notReadyMs / 1000)} s not ready (failed: ${failedChecks.join(', ')})`,
        );
        return;
      }
      const turned = notReadySince === undefined;
      notReadySince ??= at;
      for (const [name, check] of Object.entries(result.checks)) if (!check.ok) failed.add(name);
      if (turned || at - lastWarnAt >= NOT_READY_LOG_EVERY_MS) {
        lastWarnAt = at;
        log.warn({ checks: result.checks }, 'not ready');
      }
    },
  };
}

export interface ReadinessDeps {
  pingRedis(): Promise<void>;
  /** Obtains (or reuses a cached) CXone access token and connects to CXone; rejects when either fails. */
  getCxoneToken(): Promise<void>;
}

/** Runs both checks in parallel, each bounded by `timeoutMs`. */
export async function checkReadiness(deps: ReadinessDeps, timeoutMs: number): Promise<Readiness> {
  const [redis, cxone] = await Promise.all([
    timed(deps.pingRedis, timeoutMs, 'Redis'),
    timed(deps.getCxoneToken, timeoutMs, 'CXone (token and connection)'),
  ]);
  return { status: redis.ok && cxone.ok ? 'ready' : 'not_ready', checks: { redis, cxone } };
}

interface TokenSource {
  getToken(): Promise<unknown>;
  /** The scopes the token endpoint withheld from the last token (token-provider.ts). */
  scopeShortfall?(): (Error & { missingScopes: readonly string[] }) | undefined;
}

/**
 * The CXone client exposes its token provider as `tokens` (see cxone/client.ts). The provider caches
 * the token until shortly before expiry, so a readiness probe every few seconds costs no CXone
 * request most of the time and never spends the token endpoint's rate budget.
 */
export function tokenSourceOf(cxone: unknown): TokenSource | undefined {
  const tokens = (cxone as { tokens?: unknown } | null)?.tokens as Partial<TokenSource> | undefined;
  return typeof tokens?.getToken === 'function' ? (tokens as TokenSource) : undefined;
}

/** The CXone client's record of whether CXone has been answering this process (cxone/reachability.ts). */
export function reachabilityOf(cxone: unknown): Pick<CxoneReachability, 'problem'> | undefined {
  const r = (cxone as { reachability?: unknown } | null)?.reachability as
    Partial<CxoneReachability> | undefined;
  return typeof r?.problem === 'function' ? (r as CxoneReachability) : undefined;
}

/** ioredis states in which a command would only wait in the offline queue for a reconnection. */
const NOT_CONNECTED = new Set(['reconnecting', 'close', 'end']);

export function readinessDeps(
  ctx: Pick<AppContext, 'redis' | 'cxone' | 'config'>,
  connectTimeoutMs = 2000,
): ReadinessDeps {
  return {
    pingRedis: async () => {
      // Disconnected, ioredis would hold the PING until the timeout: say what is actually wrong.
      // (A first connection still being made is given the probe's time.)
      if (NOT_CONNECTED.has(ctx.redis.status)) {
        throw new Error(`Redis is not connected (${ctx.redis.status}): it refuses or drops the connection`);
      }
      const answer = await ctx.redis.ping();
      if (answer !== 'PONG') throw new Error(`Redis answered ${answer} to PING`);
      // PING answers through a failover's demotion and a full memory, while every write fails.
      const refused = await refusedWrite(ctx.redis, ctx.config.keyPrefix);
      if (refused !== undefined) throw new Error(`Redis answers but refuses writes: ${refused}`);
    },
    getCxoneToken: async () => {
      const source = tokenSourceOf(ctx.cxone);
      if (!source) throw new Error('the CXone client exposes no token provider');
      await source.getToken();
      // A token without the read or write scope is a client misconfigured in CXone admin, as wrong
      // credentials are: every launch and command answers 403. Without statistics alone, commands
      // still work and are what an operator needs while the guard is blind (shortfallStopsRouting).
      const lacking = source.scopeShortfall?.();
      if (lacking && shortfallStopsRouting(lacking.missingScopes)) throw lacking;
      // A cached token proves nothing about CXone now (it lives up to an hour). CXone answering 503
      // (or nothing) to every call this process made lately is "CXone does not answer", whatever its
      // host accepts; those calls were made anyway, so asking costs no rate budget.
      const problem = reachabilityOf(ctx.cxone)?.problem(Date.now());
      if (problem) throw new Error(problem);
      // And CXone's host — or the proxy CXone calls go through — must accept a connection: a process
      // that made no call lately has only this. A TCP connect is not an API request: it spends none
      // of the fleet's rate budget, however often we are probed.
      await connectOnce(connectTarget(ctx.config.cxone.baseUrl), connectTimeoutMs);
    },
  };
}

/** Where the readiness probe connects to find out whether CXone can be reached. */
export interface ConnectTarget {
  host: string;
  port: number;
  /** How an operator reads the target in the probe's error. */
  describe: string;
}

const defaultPort = (url: URL) => Number(url.port || (url.protocol === 'https:' ? 443 : 80));
/** The address to connect to: URL.hostname keeps an IPv6 literal's brackets, which net.connect resolves as a name (ENOTFOUND). */
const connectHost = (url: URL) => url.hostname.replace(/^\[(.*)\]$/, '$1');

/**
 * CXone's host and port, or — when CXone calls go through a proxy (HTTPS_PROXY / HTTP_PROXY, NO_PROXY
 * honoured, as the CXone client decides: cxone/http.ts) — the proxy's: a deployment whose only way
 * out is its egress proxy cannot connect to CXone directly, and must not read as not ready for it.
 */
export function connectTarget(
  baseUrl: string,
  proxyFor: (url: string) => string = (url) => (environmentNamesProxy() ? getProxyForUrl(url) : ''),
): ConnectTarget {
  const url = new URL(baseUrl);
  const proxy = proxyFor(url.href);
  if (proxy) {
    const p = new URL(proxy.includes('://') ? proxy : `http://${proxy}`);
    return {
      host: connectHost(p),
      port: defaultPort(p),
      describe: `the proxy ${p.host} for CXone at ${url.host}`,
    };
  }
  return { host: connectHost(url), port: defaultPort(url), describe: `CXone at ${url.host}` };
}

/**
 * Opens and closes one TCP connection; rejects when nobody accepts it within `timeoutMs` (a host that
 * drops packets would otherwise hold the socket for the system's connect timeout, minutes, one more
 * for every probe).
 */
export function connectOnce(target: ConnectTarget, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: target.host, port: target.port });
    const fail = (why: string) => {
      socket.destroy();
      reject(new Error(`${target.describe} does not accept connections (${why})`));
    };
    socket.setTimeout(timeoutMs, () => fail(`no answer within ${timeoutMs} ms`));
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', (err) => fail((err as NodeJS.ErrnoException).code ?? err.message));
  });
}

/** Reads every queue's job counts into the `cxo_queue_jobs` gauge; false when Redis did not answer in time. */
export async function collectQueueDepths(queues: AppContext['queues'], timeoutMs: number): Promise<boolean> {
  try {
    const entries = Object.entries(queues) as [QueueName, AppContext['queues'][QueueName]][];
    const counts = await withTimeout(
      Promise.all(
        entries.map(async ([name, queue]) => [name, await queue.getJobCounts(...QUEUE_STATES)] as const),
      ),
      timeoutMs,
      'Redis (queue depths)',
    );
    for (const [name, byState] of counts) {
      for (const state of QUEUE_STATES) queueJobs.set({ queue: name, state }, byState[state] ?? 0);
    }
    queueScrapeOk.set(1);
    return true;
  } catch {
    // No depths rather than the last ones read: a backlog growing during a Redis outage must not
    // show as the flat, healthy figures of the last good scrape.
    queueJobs.reset();
    queueScrapeOk.set(0);
    return false;
  }
}

export interface OpsRouteOptions {
  /** Deadline for each readiness check and for reading queue depths. */
  probeTimeoutMs?: number;
  /** Serve /docs and /docs/json (the API's document); off where the API is not served. */
  docs?: boolean;
  /** The fleet claim's message while another fleet contests KEY_PREFIX (absent: no claim held). */
  fleetContested?: () => string | undefined;
}

export async function registerOpsRoutes(
  app: FastifyInstance,
  ctx: AppContext,
  opts: OpsRouteOptions = {},
): Promise<void> {
  const probeTimeoutMs = opts.probeTimeoutMs ?? 2000;
  const log = ctx.logger.child({ component: 'ops' });

  // Routes other areas register after this point are collected so the OpenAPI document lists every
  // route the app serves, described or not.
  const served: DocumentedRoute[] = [];
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) served.push({ method: String(method), path: route.url });
  });
  let doc: Record<string, unknown> | undefined;
  const openApi = () => (doc ??= buildOpenApiDocument({ extraRoutes: served }));

  app.get('/healthz', async () => ({ status: 'ok' as const }));

  const deps = readinessDeps(ctx, probeTimeoutMs);
  const readiness = readinessLog(log);
  app.get('/readyz', async (_req, reply) => {
    const ticket = readiness.ticket();
    const checked = await checkReadiness(deps, probeTimeoutMs);
    const result = opts.fleetContested ? withFleetCheck(checked, opts.fleetContested()) : checked;
    readiness.note(ticket, result);
    return reply.code(result.status === 'ready' ? 200 : 503).send(result);
  });

  app.get('/metrics', async (_req, reply) => {
    // Side by side, each bounded: a scrape takes at most probeTimeoutMs however Redis is doing.
    const [fresh, polling] = await Promise.all([
      collectQueueDepths(ctx.queues, probeTimeoutMs),
      withTimeout(refreshPollingMetrics(ctx), probeTimeoutMs, 'Redis (polling state)').then(
        () => true,
        () => {
          // Unknown, not the last value read (these gauges have no labels to drop).
          polledCampaigns.set(Number.NaN);
          pollIntervalFloor.set(Number.NaN);
          return false;
        },
      ),
      refreshLimiterBudgets(probeTimeoutMs),
      refreshWebhookHold(probeTimeoutMs),
    ]);
    if (!fresh || !polling) {
      // Disconnected, ioredis holds the reads in its offline queue until the deadline: "did not answer
      // in time" alone sent the operator looking for a slow Redis while it was refusing connections.
      const why = NOT_CONNECTED.has(ctx.redis.status)
        ? `Redis is not connected (${ctx.redis.status})`
        : 'Redis did not answer in time';
      log.warn(
        { redis: ctx.redis.status },
        `queue depths or polling state unavailable for this scrape: ${why}`,
      );
    }
    const body = exposition(await registry.metrics());
    return reply.type(registry.contentType).send(body);
  });

  if (opts.docs === false) return;
  app.get('/docs/json', async (_req, reply) => reply.type('application/json').send(openApi()));
  app.get('/docs', async (_req, reply) =>
    reply.type('text/html; charset=utf-8').send(renderDocsHtml(openApi())),
  );
}

/** What the worker's METRICS_PORT serves. */
const OPS_PATHS = ['/healthz', '/readyz', '/metrics'];

export interface MetricsServer {
  port: number;
  /** The underlying server, so a shutdown can cut connections still open at its deadline. */
  server: Server;
  close(): Promise<void>;
}

/**
 * A small HTTP server for processes without the API (the `worker` role, METRICS_PORT): /metrics,
 * /healthz and /readyz, so Prometheus can scrape each worker replica's own counters and histograms
 * (job durations, CXone calls, limiter) and an orchestrator can probe it.
 */
export async function startMetricsServer(
  ctx: AppContext,
  opts: {
    port: number;
    host: string;
    probeTimeoutMs?: number;
    fleetContested?: OpsRouteOptions['fleetContested'];
  },
): Promise<MetricsServer> {
  // A trailing slash taken as the API's port takes it: one probe path for every role.
  const app = Fastify({
    logger: false,
    routerOptions: { ignoreTrailingSlash: true },
    ...jsonHttpEdgeOptions,
  });
  refuseMissingHost(app);
  // The same error shape as the API's: `{error, message}`, 405 with Allow for a served path.
  answerUnmatched(app, { notFoundHint: `: this port serves only ${OPS_PATHS.join(', ')}` });
  // The API's document describes routes this port does not serve, so it is not offered here.
  await registerOpsRoutes(app, ctx, {
    docs: false,
    ...(opts.probeTimeoutMs === undefined ? {} : { probeTimeoutMs: opts.probeTimeoutMs }),
    ...(opts.fleetContested ? { fleetContested: opts.fleetContested } : {}),
  });
  await app.listen({ port: opts.port, host: opts.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  ctx.logger.info({ port }, 'metrics and health endpoints listening');
  return { port, server: app.server, close: () => app.close() };
}

/**
 * prom-client writes a NaN sample (e.g. event-loop lag before its first measurement) as `Nan`; the
 * Prometheus text format spells it `NaN`, and strict parsers refuse anything else.
 */
export function exposition(text: string): string {
  return text.replace(/ Nan$/gm, ' NaN');
}
