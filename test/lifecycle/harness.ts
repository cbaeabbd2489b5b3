import type { Worker } from 'bullmq';
import { DateTime } from 'luxon';
import { afterAll, beforeAll } from 'vitest';
import { CampaignStore } from '../../src/shared/campaign-store.js';
import type { CampaignConfig } from '../../src/shared/campaign-config.js';
import { loadConfig, type AppConfig } from '../../src/shared/config.js';
import { createContext, type ClosableContext } from '../../src/shared/context-factory.js';
import type { AppContext } from '../../src/shared/context.js';
import type { CxoneApi } from '../../src/shared/cxone/api.js';
import { toCreateCampaignRequest } from '../../src/shared/cxone/to-wire.js';
import { CxoneUnavailableError } from '../../src/shared/errors.js';
import {
  CXONE_ENDPOINTS,
  CXONE_SCOPES,
  type CampaignResource,
  type UpdateCampaignRequest,
} from '../../src/shared/cxone/wire.js';
import { enqueueCommand, getCommand, type CommandRequest } from '../../src/shared/lifecycle/enqueue.js';
import { isFinished, type CommandRecord } from '../../src/shared/lifecycle/commands.js';
import { silentLogger } from '../../src/shared/logger.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server.js';
import { createAdjustWorker } from '../../src/workers/adjust-worker.js';
import { changeAs, CONSOLE, tokenFor } from '../sandbox/helpers.js';
import { REDIS_URL, testPrefix, deletePrefixAt } from '../support/redis-prefix.js';
import { sandboxCounters } from '../support/sandbox-counters.js';

export { REDIS_URL };

/**
 * A zone whose local time is now nearest 13:00, so a campaign calling every day 08:00–21:00 there is
 * inside its window whenever the suite runs (resume is refused outside the window), and stays inside
 * it while a test moves its manual clock on by hours of polls: the first candidate between 09:00 and
 * 20:00 could be 19:55 there, and a suite that advanced its clock an hour met the close (the
 * deferrals test failed when run at 19:55 UTC). Zones of places only: a fixed offset such as `UTC` is
 * refused where a zone is written (a PATCH setting it).
 */
export function zoneInsideWindowNow(nowMs = Date.now()): string {
  const candidates = [
    'Atlantic/Reykjavik',
    'Europe/London',
    'Europe/Berlin',
    'Asia/Kolkata',
    'Asia/Tokyo',
    'Australia/Sydney',
    'Pacific/Auckland',
    'America/New_York',
    'America/Chicago',
    'America/Los_Angeles',
    'Pacific/Honolulu',
  ];
  const fromMidday = (zone: string) => {
    const local = DateTime.fromMillis(nowMs, { zone });
    return Math.abs(local.hour + local.minute / 60 - 13);
  };
  const best = [...candidates].sort((a, b) => fromMidday(a) - fromMidday(b))[0] as string;
  // The candidates' offsets leave no gap of more than about 4.5 hours, so the nearest is within 3 h.
  if (fromMidday(best) > 4) throw new Error(`no candidate zone is near midday now (nearest: ${best})`);
  return best;
}

export function testCampaignConfig(overrides: Partial<CampaignConfig> = {}): CampaignConfig {
  return {
    name: 'Lifecycle test',
    startDateTime: '2026-12-01T09:00:00-05:00',
    targetListId: '7b6f7f8e-1c2d-4e5f-8a9b-0c1d2e3f4a5b',
    skillGroupId: '1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d',
    complianceTimeZone: zoneInsideWindowNow(),
    allowedCallTimes: [
      { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '08:00', end: '21:00' },
    ],
    dialerStrategy: { strategy: 'predictive', agentCapacity: 20, callRate: 0.5, answerRate: 0.3 },
    ...overrides,
  };
}

export interface Harness {
  sandbox: RunningSandbox;
  config: AppConfig;
  ctx: ClosableContext;
  env: Record<string, string>;
  /** Creates a campaign on the sandbox, moves it to `status`, and stores it in our record. */
  campaign(
    status?: 'draft' | 'scheduled' | 'active' | 'paused',
    config?: CampaignConfig,
  ): Promise<CampaignResource>;
  /** A change made "in the CXone console" by another OAuth client, over the real v2 API. */
  consoleChange(id: string, body: UpdateCampaignRequest): Promise<CampaignResource>;
  /** Scripts the sandbox to fail the next N requests to an endpoint. */
  failNext(count: number, endpoint: string, status?: number): Promise<void>;
  /** The sandbox's counters for an endpoint: byStatus etc. */
  counters(endpoint: string): Promise<{ byStatus: Record<string, number> } | undefined>;
  /**
   * Enqueues the commands one after another, each accepted before the next is sent, so the order they
   * are applied in is the order given; resolves with their ids.
   */
  enqueueInOrder(commands: CommandRequest[]): Promise<string[]>;
  waitForCommand(commandId: string, timeoutMs?: number): Promise<CommandRecord>;
  close(): Promise<void>;
}

/** A sandbox over real HTTP, a real context on real Redis under a private key prefix. */
export async function startHarness(overrides: Partial<AppContext> = {}): Promise<Harness> {
  const sandbox = await startSandbox({
    clients: [
      { clientId: 'sandbox-client', clientSecret: 'sandbox-secret', scopes: [...CXONE_SCOPES] },
      { ...CONSOLE, scopes: [...CXONE_SCOPES], tenant: 'sandbox-client' },
    ],
    rateLimit: { perWindow: 100_000, windowMs: 60_000 },
  });
  const prefix = testPrefix();
  const env = {
    REDIS_URL,
    CXONE_BASE_URL: sandbox.url,
    CXONE_CLIENT_ID: 'sandbox-client',
    CXONE_CLIENT_SECRET: 'sandbox-secret',
    API_TOKEN: 'lifecycle-test-token',
    KEY_PREFIX: prefix,
    CXONE_RATE_LIMIT_PER_MIN: '100000',
    LOG_LEVEL: 'silent',
  };
  const config = loadConfig(env);
  const ctx = await createContext(config, silentLogger, overrides);

  let consoleToken: string | undefined;

  const harness: Harness = {
    sandbox,
    config,
    ctx,
    env,
    async campaign(status = 'active', campaignConfig = testCampaignConfig()) {
      const created = await ctx.cxone.createCampaign(toCreateCampaignRequest(campaignConfig));
      let resource = await ctx.cxone.getCampaign(created.id);
      const path: Record<string, Array<'scheduled' | 'active' | 'paused'>> = {
        draft: [],
        scheduled: ['scheduled'],
        active: ['scheduled', 'active'],
        paused: ['scheduled', 'active', 'paused'],
      };
      for (const next of path[status] ?? []) {
        resource = await ctx.cxone.updateCampaign(created.id, resource.version, { status: next });
      }
      await new CampaignStore(ctx).syncFromCxone(resource, { config: campaignConfig });
      return resource;
    },
    async consoleChange(id, body) {
      consoleToken ??= await tokenFor(sandbox, CONSOLE);
      const res = await changeAs(sandbox, CONSOLE, id, body, consoleToken);
      if (res.status < 200 || res.status > 299) {
        throw new Error(`console PATCH ${id} → ${res.status} ${JSON.stringify(res.body)}`);
      }
      return res.body as unknown as CampaignResource;
    },
    async failNext(count, endpoint, status = 503) {
      const res = await fetch(`${sandbox.url}/__sandbox/faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ failNext: count, endpoint, status }),
      });
      if (!res.ok) throw new Error(`could not script faults: ${res.status}`);
    },
    async counters(endpoint) {
      return (await sandboxCounters(sandbox))[endpoint];
    },
    async enqueueInOrder(commands) {
      const ids: string[] = [];
      for (const command of commands) ids.push((await enqueueCommand(ctx, command)).commandId);
      return ids;
    },
    async waitForCommand(commandId, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const record = await getCommand(ctx, commandId);
        if (record && isFinished(record.status)) return record;
        if (Date.now() > deadline) {
          throw new Error(
            `command ${commandId} did not finish in ${timeoutMs} ms: ${JSON.stringify(record)}`,
          );
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async close() {
      await ctx.close();
      await sandbox.close();
      await deletePrefixAt(prefix);
    },
  };
  return harness;
}

/**
 * The real CXone client with a hook that runs once, just before its next PATCH of `campaignId`: the
 * place to make an "outside" change between our read and our write, or to script a sandbox fault.
 */
export function withHookBeforeWrite(
  inner: CxoneApi,
  hook: (call: number, campaignId: string) => Promise<void>,
  /** Calls whose write CXone applies but whose answer is lost, as after a timeout (answered 503). */
  loseAnswerOf: (call: number) => boolean = () => false,
): CxoneApi & { arm(campaignId: string): void } {
  let armed: string | undefined;
  let calls = 0;
  return {
    arm(campaignId: string) {
      armed = campaignId;
      calls = 0;
    },
    createCampaign: (body, opts) => inner.createCampaign(body, opts),
    getCampaign: (id, opts) => inner.getCampaign(id, opts),
    getStats: (id, opts) => inner.getStats(id, opts),
    history: (id, opts) => inner.history(id, opts),
    async updateCampaign(id, version, body, opts) {
      const call = armed === id ? ++calls : 0;
      if (call > 0) await hook(call, id);
      const written = await inner.updateCampaign(id, version, body, opts);
      if (call > 0 && loseAnswerOf(call)) {
        throw new CxoneUnavailableError('timeout of 10000ms exceeded (answer dropped by the test)', {
          endpoint: CXONE_ENDPOINTS.updateCampaign,
          campaignId: id,
        });
      }
      return written;
    },
  };
}

/** A file's harness and adjust worker whose CXone client runs `hook` before each armed PATCH. */
export interface HookedAdjustSuite {
  h: Harness;
  worker: Worker;
  cxone: ReturnType<typeof withHookBeforeWrite>;
  /** Run just before the armed campaign's next PATCH (withHookBeforeWrite); set by a test. */
  hook: (call: number, campaignId: string) => Promise<void>;
  /** Calls of the armed campaign whose write CXone applies but whose answer never arrives. */
  lostAnswers: Set<number>;
}

/**
 * Starts, for the calling test file, a harness and an adjust worker on a CXone client hooked before
 * its writes (the `hook` and `lostAnswers` of the returned object, which tests set), and closes both
 * after the file. The fields are set once beforeAll has run.
 */
export function hookedAdjustSuite(): HookedAdjustSuite {
  const suite = {
    hook: async () => undefined,
    lostAnswers: new Set<number>(),
  } as unknown as HookedAdjustSuite;
  beforeAll(async () => {
    suite.h = await startHarness();
    suite.cxone = withHookBeforeWrite(
      suite.h.ctx.cxone,
      (call, id) => suite.hook(call, id),
      (call) => suite.lostAnswers.has(call),
    );
    suite.worker = createAdjustWorker({ ...suite.h.ctx, cxone: suite.cxone });
    await suite.worker.waitUntilReady();
  });
  afterAll(async () => {
    await suite.worker?.close();
    await suite.h?.close();
  });
  return suite;
}
