import type { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import { auditRecordPublisher } from './audit/record-events.js';
import { createAuditTrail } from './audit/trail.js';
import { systemClock } from './clock.js';
import type { AppConfig } from './config.js';
import type { AppContext } from './context.js';
import { createCxoneClient } from './cxone/client.js';
import { createSharedCredentialsRefusal } from './cxone/credentials-refusal.js';
import { createEventPublisher } from './events/publisher.js';
import { createKeys, QUEUES, type QueueName } from './keys.js';
import { createFleetLimiter } from './limiter/index.js';
import type { Logger } from './logger.js';
import { createRedis } from './redis.js';
import { coalesceRedisWrites } from './redis-write-coalescing.js';
import { defaultJobOptions, queueEventsMaxLen } from '../workers/worker-options.js';
import { createLogThrottle } from './log-throttle.js';
import { TimeoutError, withTimeout } from './with-timeout.js';

export type ClosableContext = AppContext & {
  /** Closes everything this factory built (not the parts passed in as overrides), in reverse order. */
  close(): Promise<void>;
  /**
   * Closes the fleet limiter this factory built (nothing when the CXone client was an override),
   * ahead of close(): every call still waiting for a CXone permit fails at once with
   * LimiterClosedError, which a worker's job takes as this process's shutdown and puts itself back
   * for another process (workers/job-errors.ts putBackIfInterrupted). Never rejects.
   */
  releaseCxoneWaits(): Promise<void>;
};

/**
 * Builds the per-process AppContext: one general Redis connection (shared by the stores and the
 * queues' producers; BullMQ workers duplicate it for their blocking reads), the key builder, every
 * queue under the hash-tagged prefix, the fleet-wide limiter, the CXone client behind it, the audit
 * trail, the event publisher and the clock.
 *
 * Any part given in `overrides` is used instead of building one (tests inject a ManualClock or a fake
 * CXone); the caller keeps ownership of what it passed in.
 */
export async function createContext(
  config: AppConfig,
  logger: Logger,
  overrides: Partial<AppContext> = {},
): Promise<ClosableContext> {
  const closers: Array<{ name: string; close: () => Promise<unknown> }> = [];
  const clock = overrides.clock ?? systemClock;
  const keys = overrides.keys ?? createKeys(config.keyPrefix);

  let redis = overrides.redis;
  if (!redis) {
    const built = createRedis(config.redisUrl, { connectionName: 'cxo-main' });
    // Every store, queue producer and worker of the process shares this connection.
    coalesceRedisWrites(built);
    // ioredis emits 'error' on every failed reconnect; without a listener each one would crash the
    // process. Reconnection is automatic; log at most one line every few seconds.
    let lastLogged = 0;
    built.on('error', (err: Error) => {
      if (Date.now() - lastLogged < 5_000) return;
      lastLogged = Date.now();
      logger.warn({ err: err.message }, 'Redis connection error (reconnecting)');
    });
    closers.push({ name: 'redis', close: () => quitWithin(built, REDIS_QUIT_BOUND_MS) });
    redis = built;
  }

  let queues = overrides.queues;
  if (!queues) {
    const built = {} as Record<QueueName, Queue>;
    const throttle = createLogThrottle(5_000);
    for (const name of Object.values(QUEUES)) {
      const queue = new Queue(name, {
        connection: redis,
        prefix: keys.prefix,
        defaultJobOptions: defaultJobOptions(name),
        streams: { events: { maxLen: queueEventsMaxLen(name) } },
      });
      queue.on('error', (err) =>
        throttle(`${name}:${err.message}`, (suppressed) =>
          logger.warn(
            { err: err.message, queue: name, ...(suppressed > 0 ? { suppressed } : {}) },
            'queue error',
          ),
        ),
      );
      built[name] = queue;
    }
    closers.push({
      name: 'queues',
      close: () => Promise.allSettled(Object.values(built).map((q) => q.close())),
    });
    queues = built;
  }

  let cxone = overrides.cxone;
  let releaseCxoneWaits = async (): Promise<void> => undefined;
  if (!cxone) {
    const limiter = createFleetLimiter({
      redisUrl: config.redisUrl,
      prefix: keys.prefix,
      perWindow: config.cxone.rateLimitPerWindow,
      windowMs: config.cxone.rateLimitWindowMs,
      logger,
    });
    closers.push({ name: 'limiter', close: () => limiter.close() });
    releaseCxoneWaits = () =>
      withTimeout(limiter.close(), CONTEXT_PART_CLOSE_BOUND_MS, 'closing limiter').catch((err: unknown) =>
        logger.warn({ err, part: 'limiter' }, 'error while closing the limiter'),
      );
    const client = createCxoneClient({
      baseUrl: config.cxone.baseUrl,
      clientId: config.cxone.clientId,
      clientSecret: config.cxone.clientSecret,
      timeoutMs: config.cxone.timeoutMs,
      limiter,
      logger,
      clock,
      // Every process of the fleet (same KEY_PREFIX) holds back on one refusal, not each on its own.
      sharedRefusal: createSharedCredentialsRefusal({ redis, keys, logger }),
    });
    closers.push({ name: 'cxone', close: () => client.close() });
    cxone = client;
  }

  const events =
    overrides.events ??
    createEventPublisher({
      redis,
      keys,
      logger,
      webhookQueue: queues.webhook,
      enabled: config.webhook !== undefined,
      clock,
    });
  // The trail publishes each appended record itself (WEBHOOK_AUDIT_RECORDS), through a hook rather
  // than by knowing the context: undefined unless enabled, and then appends do nothing more.
  const audit =
    overrides.audit ??
    createAuditTrail({
      redis,
      keys,
      logger,
      clock,
      retentionDays: config.auditRetentionDays,
      onAppended: auditRecordPublisher(config, { events, logger }),
    });

  let closed: Promise<void> | undefined;
  return {
    config,
    logger,
    redis,
    keys,
    queues,
    cxone,
    audit,
    events,
    clock,
    releaseCxoneWaits: () => releaseCxoneWaits(),
    close() {
      closed ??= (async () => {
        for (const { name, close } of closers.reverse()) {
          try {
            // A Redis that accepts connections but never answers (hung, or a network partition)
            // would hold each part's close forever, and the process would end by the last-resort exit.
            await withTimeout(close(), CONTEXT_PART_CLOSE_BOUND_MS, `closing ${name}`);
          } catch (err) {
            if (err instanceof TimeoutError) {
              logger.warn(
                { part: name, boundMs: CONTEXT_PART_CLOSE_BOUND_MS },
                'closing did not finish in time (Redis not answering?); moving on',
              );
            } else {
              logger.warn({ err, part: name }, 'error while closing the context');
            }
          }
        }
      })();
      return closed;
    },
  };
}

/** How long each part of the context (client, limiter, queues, Redis) gets to close. */
const CONTEXT_PART_CLOSE_BOUND_MS = 3_000;
/** How long a QUIT waits for Redis's answer before the socket is simply closed. */
const REDIS_QUIT_BOUND_MS = 2_000;

/** QUIT when Redis answers; otherwise (down, hung) close the socket. Never rejects. */
async function quitWithin(redis: Redis, boundMs: number): Promise<void> {
  await withTimeout(redis.quit(), boundMs, 'Redis QUIT').catch(() => redis.disconnect());
}
