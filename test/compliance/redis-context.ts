import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { createAuditTrail, type AuditTrailStore } from '../../src/shared/audit/trail.js';
import type { CampaignConfig } from '../../src/shared/campaign-config.js';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import { ManualClock } from '../../src/shared/clock.js';
import { loadConfig } from '../../src/shared/config.js';
import type { AppContext } from '../../src/shared/context.js';
import type { CxoneApi } from '../../src/shared/cxone/api.js';
import { toCreateCampaignRequest } from '../../src/shared/cxone/to-wire.js';
import type { CampaignResource, CampaignStatus } from '../../src/shared/cxone/wire.js';
import { createEventPublisher, type EventPublisherStore } from '../../src/shared/events/publisher.js';
import { createKeys, QUEUES, type QueueName } from '../../src/shared/keys.js';
import { silentLogger } from '../../src/shared/logger.js';
import { deletePrefix, REDIS_URL, testPrefix } from '../support/redis-prefix.js';

export { REDIS_URL };

/** CXone is not called by anything these tests exercise; reaching it is a test bug. */
const noCxone = new Proxy({} as CxoneApi, {
  get: (_t, prop) => () => {
    throw new Error(`CXone ${String(prop)} must not be called in this test`);
  },
});

export interface TestContext {
  ctx: AppContext;
  clock: ManualClock;
  audit: AuditTrailStore;
  events: EventPublisherStore;
  putCampaign(
    campaignId: string,
    config: CampaignConfig,
    status: CampaignStatus,
    version?: number,
  ): Promise<void>;
  close(): Promise<void>;
}

/**
 * A real-Redis AppContext under a private key prefix: real queues, H4's audit trail and event
 * publisher (webhooks off), the real campaign store; a ManualClock. `close` deletes every key.
 */
export async function createTestContext(
  startIso: string,
  env: Record<string, string> = {},
): Promise<TestContext> {
  const prefix = testPrefix();
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const keys = createKeys(prefix);
  const clock = new ManualClock(Date.parse(startIso));
  const config = loadConfig({ REDIS_URL, KEY_PREFIX: prefix, ...env });
  const queues = Object.fromEntries(
    Object.values(QUEUES).map((name) => [name, new Queue(name, { connection: redis, prefix })]),
  ) as Record<QueueName, Queue>;
  const audit = createAuditTrail({ redis, keys, logger: silentLogger, clock });
  const events = createEventPublisher({
    redis,
    keys,
    logger: silentLogger,
    webhookQueue: queues.webhook,
    enabled: false,
    clock,
  });
  const ctx: AppContext = {
    config,
    logger: silentLogger,
    redis,
    keys,
    queues,
    cxone: noCxone,
    audit,
    events,
    clock,
  };
  const store = createCampaignStore(ctx);
  return {
    ctx,
    clock,
    audit,
    events,
    async putCampaign(campaignId, campaignConfig, status, version = 1) {
      const now = new Date(clock.now()).toISOString();
      const request = toCreateCampaignRequest(campaignConfig);
      const { type: _type, ...rest } = request;
      const resource: CampaignResource = {
        ...rest,
        id: campaignId,
        version,
        status,
        type: request.type,
        createdAt: now,
        updatedAt: now,
      };
      await store.put({ campaignId, status, version, config: campaignConfig, cxone: resource });
    },
    async close() {
      await Promise.all(Object.values(queues).map((q) => q.close()));
      await deletePrefix(redis, prefix);
      redis.disconnect();
    },
  };
}

/** Polls `check` until it returns a value (not undefined) or the timeout passes. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The context with a Redis whose first script call naming `marker` among its arguments fails (a
 * blip), then works: the compliance stores write by scripts (state-store.ts appendAction).
 */
export function withScriptBlip(ctx: AppContext, marker: string): AppContext {
  const real = ctx.redis;
  let failed = false;
  const redis = new Proxy(real, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      const bound = (value as (...a: unknown[]) => unknown).bind(target);
      if (prop !== 'evalsha' && prop !== 'eval') return bound;
      return (...args: unknown[]) => {
        if (!failed && args.some((a) => typeof a === 'string' && a.includes(marker))) {
          failed = true;
          return Promise.reject(new Error('redis blip'));
        }
        return bound(...args);
      };
    },
  });
  return { ...ctx, redis };
}

/** The context with a Redis whose first write to a compliance log fails (a blip), then works. */
export function withLogBlip(ctx: AppContext): AppContext {
  return withScriptBlip(ctx, ':compliance-log:');
}
