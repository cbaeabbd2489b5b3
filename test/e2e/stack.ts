import type { WorkerOptions } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { DateTime } from 'luxon';
import { buildApiApp, type ApiAppOptions } from '../../src/producers/app.js';
import { startSandbox } from '../../src/sandbox/server.js';
import type { RunningSandbox, SandboxOptions } from '../../src/sandbox/types.js';
import type { CampaignConfigInput } from '../../src/shared/campaign-config.js';
import { loadConfig, type AppConfig } from '../../src/shared/config.js';
import type { AppContext } from '../../src/shared/context.js';
import { createContext, type ClosableContext } from '../../src/shared/context-factory.js';
import { CXONE_SCOPES } from '../../src/shared/cxone/wire.js';
import { silentLogger } from '../../src/shared/logger.js';
import { startWorkers, type RunningWorkers } from '../../src/workers/index.js';
import { createLaunchWorker } from '../../src/workers/launch-worker.js';
import { changeAs } from '../sandbox/helpers.js';
import { deletePrefix, testPrefix, REDIS_URL } from '../support/redis-prefix.js';

export { REDIS_URL };
export const API_TOKEN = 'test-token-0123456789';
export const FLEET_CLIENT = { clientId: 'fleet-client', clientSecret: 'fleet-secret' } as const;

/** Short lock settings so a killed worker's job is picked up again within a few seconds. */
export const FAST_LOCKS: Partial<WorkerOptions> = { lockDuration: 2_000, stalledInterval: 1_000 };

export { testPrefix };

export { deletePrefix };

export function testEnv(
  prefix: string,
  cxoneBaseUrl: string,
  extra: Record<string, string> = {},
): NodeJS.ProcessEnv {
  return {
    REDIS_URL,
    KEY_PREFIX: prefix,
    API_TOKEN,
    CXONE_BASE_URL: cxoneBaseUrl,
    CXONE_CLIENT_ID: FLEET_CLIENT.clientId,
    CXONE_CLIENT_SECRET: FLEET_CLIENT.clientSecret,
    CXONE_RATE_LIMIT_PER_MIN: '1000',
    CXONE_TIMEOUT_MS: '5000',
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    WORKER_CONCURRENCY: '5',
    SHUTDOWN_TIMEOUT_MS: '5000',
    ...extra,
  };
}

export interface Stack {
  prefix: string;
  config: AppConfig;
  ctx: ClosableContext;
  sandbox: RunningSandbox;
  app?: FastifyInstance;
  apiUrl: string;
  workers?: RunningWorkers;
  /** A plain Redis connection for assertions. */
  redis: Redis;
  close(): Promise<void>;
}

export interface StackOptions {
  sandbox?: SandboxOptions;
  api?: boolean;
  /** Start the launch worker in this process. */
  launchWorker?: boolean;
  workerOverrides?: Partial<WorkerOptions>;
  ctxOverrides?: (ctx: AppContext) => Partial<AppContext>;
  prefix?: string;
  /** Extra environment for the fleet's config (e.g. REDIS_URL through a proxy). */
  env?: Record<string, string>;
  apiOptions?: ApiAppOptions;
}

/** Sandbox (real HTTP, port 0) + context over real Redis + optionally the API (port 0) and the launch worker. */
export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const prefix = opts.prefix ?? testPrefix();
  // CXone's budget as the fleet is told it (CXONE_RATE_LIMIT_PER_MIN): a sandbox at its default 100
  // a minute under a fleet told 1 000 answers 429 to polls, and guard and pacing stop running.
  const perMinute = Number(testEnv(prefix, '', opts.env).CXONE_RATE_LIMIT_PER_MIN);
  const sandbox = await startSandbox({
    clients: [{ ...FLEET_CLIENT, scopes: [...CXONE_SCOPES] }],
    rateLimit: { perWindow: perMinute, windowMs: 60_000 },
    ...opts.sandbox,
  });
  const config = loadConfig(testEnv(prefix, sandbox.url, opts.env));
  let ctx = await createContext(config, silentLogger);
  if (opts.ctxOverrides) {
    const base = ctx;
    ctx = Object.assign(Object.create(null) as ClosableContext, base, opts.ctxOverrides(base), {
      close: () => base.close(),
    });
  }
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  let app: FastifyInstance | undefined;
  let apiUrl = '';
  if (opts.api !== false) {
    app = await buildApiApp(ctx, opts.apiOptions);
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    apiUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  }
  const workers = opts.launchWorker
    ? await startWorkers(ctx, [['launch', (c) => createLaunchWorker(c, opts.workerOverrides ?? FAST_LOCKS)]])
    : undefined;
  return {
    prefix,
    config,
    ctx,
    sandbox,
    app,
    apiUrl,
    workers,
    redis,
    async close() {
      await app?.close();
      await workers?.close(2_000);
      await ctx.close();
      await sandbox.close();
      await deletePrefix(redis, prefix);
      redis.disconnect();
    },
  };
}

export interface ApiReply {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
  text: string;
}

/** Where the API is, and the token to call it with (default API_TOKEN). */
export type ApiTarget = Pick<Stack, 'apiUrl'> & { token?: string };

export async function api(
  stack: ApiTarget,
  method: string,
  path: string,
  opts: { body?: unknown; raw?: string; headers?: Record<string, string>; token?: string | null } = {},
): Promise<ApiReply> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token !== null) headers.authorization ??= `Bearer ${opts.token ?? stack.token ?? API_TOKEN}`;
  let payload: string | undefined;
  if (opts.raw !== undefined || opts.body !== undefined) {
    headers['content-type'] ??= 'application/json';
    payload = opts.raw ?? JSON.stringify(opts.body);
  }
  const res = await fetch(`${stack.apiUrl}${path}`, {
    method,
    headers,
    ...(payload !== undefined ? { body: payload } : {}),
  });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    body = {};
  }
  return { status: res.status, headers: res.headers, body, text };
}

/**
 * Zones of places, west to east, at most three hours apart in every season (daylight saving
 * included): an 8-hour span of local time is reached in one of them at every instant of the year.
 * Never a fixed offset such as `Etc/GMT+5`: the API refuses them as a campaign's zone (no called
 * party keeps one). test/e2e/zones.test.ts checks the coverage over whole years.
 */
export const PLACE_ZONES = [
  'Pacific/Pago_Pago',
  'Pacific/Honolulu',
  'America/Anchorage',
  'America/Los_Angeles',
  'America/Denver',
  'America/Chicago',
  'America/New_York',
  'America/Sao_Paulo',
  'Atlantic/Azores',
  'Europe/London',
  'Europe/Berlin',
  'Europe/Athens',
  'Asia/Dubai',
  'Asia/Kolkata',
  'Asia/Dhaka',
  'Asia/Bangkok',
  'Asia/Tokyo',
  'Australia/Sydney',
  'Pacific/Noumea',
  'Pacific/Auckland',
  'Pacific/Tongatapu',
  'Pacific/Kiritimati',
] as const;

/**
 * The first zone whose local hour at `nowMs` passes `wanted`: PLACE_ZONES first, then every zone
 * Intl knows (its list holds places only, no `Etc/` zone and no `UTC`), so a tz rule change that
 * opened a gap in the short list still finds one.
 */
function placeZoneWhere(nowMs: number, wanted: (hour: number) => boolean): string | undefined {
  return [...PLACE_ZONES, ...Intl.supportedValuesOf('timeZone')].find((zone) =>
    wanted(DateTime.fromMillis(nowMs, { zone }).hour),
  );
}

/** A zone in which the current local time lies between 10:00 and 18:00 (so a 08:00–21:00 window is open now). */
export function zoneInDaytime(nowMs = Date.now()): string {
  const zone = placeZoneWhere(nowMs, (hour) => hour >= 10 && hour < 18);
  if (zone === undefined) throw new Error('no daytime zone found');
  return zone;
}

/** A zone in which the current local time lies between 22:00 and 06:00 (the federal window is closed). */
export function zoneAtNight(nowMs = Date.now()): string {
  const zone = placeZoneWhere(nowMs, (hour) => hour >= 22 || hour < 6);
  if (zone === undefined) throw new Error('no night zone found');
  return zone;
}

export function campaignConfig(overrides: Partial<CampaignConfigInput> = {}): CampaignConfigInput {
  return {
    name: 'Test outreach',
    startDateTime: '2026-01-05T09:00:00-05:00',
    targetListId: '6f1c2a7e-3b4d-4e8f-9a10-1b2c3d4e5f60',
    skillGroupId: '0b9e8d7c-6a5f-4e3d-8c2b-1a0f9e8d7c6b',
    complianceTimeZone: zoneInDaytime(),
    allowedCallTimes: [
      { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '08:00', end: '21:00' },
    ],
    dialerStrategy: { strategy: 'predictive', agentCapacity: 10, callRate: 0.5, answerRate: 0.3 },
    ...overrides,
  };
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false>,
  timeoutMs = 15_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export async function waitForLaunch(
  stack: ApiTarget,
  launchId: string,
  statuses: string[] = ['succeeded', 'failed'],
  timeoutMs = 15_000,
): Promise<Record<string, unknown>> {
  return waitFor(
    `launch ${launchId} to reach ${statuses.join('|')}`,
    async () => {
      const reply = await api(stack, 'GET', `/v1/launches/${launchId}`);
      return statuses.includes(String(reply.body.status)) ? reply.body : undefined;
    },
    timeoutMs,
  );
}

/** POSTs a launch of `config` to the API and waits for it to finish (waitForLaunch): its final body. */
export async function launchAndWait(
  stack: ApiTarget,
  config: CampaignConfigInput,
): Promise<Record<string, unknown>> {
  const reply = await api(stack, 'POST', '/v1/campaigns', { body: config });
  return waitForLaunch(stack, String(reply.body.launchId));
}

/** The campaign's CXone status as the sandbox itself reports it. */
export function sandboxStatus(sandbox: RunningSandbox, campaignId: string): string | undefined {
  const state = sandbox.getCampaignState(campaignId) as { resource?: { status?: string } } | undefined;
  return state?.resource?.status;
}

/** Changes a campaign on the sandbox directly, as someone outside the orchestrator would (CXone console). */
export async function patchOnSandbox(
  sandbox: RunningSandbox,
  campaignId: string,
  body: Record<string, unknown>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await changeAs(sandbox, FLEET_CLIENT, campaignId, body);
  return { status: res.status, body: res.body };
}
