import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { systemClock } from '../../src/shared/clock.js';
import type { AppConfig } from '../../src/shared/config.js';
import type { AppContext } from '../../src/shared/context.js';
import { createKeys, QUEUES } from '../../src/shared/keys.js';
import { deletePrefix, testPrefix, REDIS_URL } from '../support/redis-prefix.js';

export { REDIS_URL };

export { testPrefix };

export { deletePrefix };

export type PollingTestContext = Pick<
  AppContext,
  'config' | 'redis' | 'keys' | 'queues' | 'logger' | 'clock'
> & {
  close(): Promise<void>;
};

/**
 * What a fleet process holds for polling: its own Redis connection and poll queue under the
 * test's prefix. Closing it and building another is what a restart looks like to Redis.
 */
export function pollingContext(
  prefix: string,
  budget: { perWindow: number; windowMs: number } = { perWindow: 100, windowMs: 60_000 },
): PollingTestContext {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const keys = createKeys(prefix);
  const poll = new Queue(QUEUES.poll, { connection: redis, prefix });
  // The poll cycle hands window enforcement its campaigns (active outside the window, re-synced).
  const compliance = new Queue(QUEUES.compliance, { connection: redis, prefix });
  // And queues the import of CXone's history of a campaign it finds changed outside.
  const audit = new Queue(QUEUES.audit, { connection: redis, prefix });
  // And, for a paused campaign, pacing's drop to the safe start it resumes at (pacing/apply.ts).
  const adjust = new Queue(QUEUES.adjust, { connection: redis, prefix });
  const config = {
    cxone: { rateLimitPerWindow: budget.perWindow, rateLimitWindowMs: budget.windowMs },
  } as unknown as AppConfig;
  return {
    config,
    redis,
    keys,
    queues: { poll, compliance, audit, adjust } as unknown as AppContext['queues'],
    logger: pino({ level: 'silent' }),
    clock: systemClock,
    async close() {
      await Promise.all([poll.close(), compliance.close(), audit.close(), adjust.close()]);
      await redis.quit();
    },
  };
}

/**
 * Polling contexts for one test file's fleets (`fleet(budget?, prefix?)`: a process under a prefix,
 * several sharing one when given the same): every context is closed after each test, and every
 * prefix's keys are deleted after the file.
 */
export function pollingFleets(tag?: string) {
  let admin: Redis;
  const open: PollingTestContext[] = [];
  const prefixes: string[] = [];
  beforeAll(() => {
    admin = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    for (const prefix of prefixes) await deletePrefix(admin, prefix);
    await admin.quit();
  });
  return (budget?: { perWindow: number; windowMs: number }, prefix = testPrefix(tag)) => {
    if (!prefixes.includes(prefix)) prefixes.push(prefix);
    const ctx = pollingContext(prefix, budget);
    // A test may close one itself (a process restarting): the close after the test is then the same.
    const close = ctx.close.bind(ctx);
    let closed: Promise<void> | undefined;
    ctx.close = () => (closed ??= close());
    open.push(ctx);
    return { ctx, prefix };
  };
}
