import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pino from 'pino';
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
