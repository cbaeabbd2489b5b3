import Fastify, { type FastifyInstance } from 'fastify';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { createAuditTrail, type AuditTrailStore } from '../../src/shared/audit/trail.js';
import { systemClock } from '../../src/shared/clock.js';
import { loadConfig } from '../../src/shared/config.js';
import type { AppContext } from '../../src/shared/context.js';
import { createCxoneClient, type CxoneClient } from '../../src/shared/cxone/client.js';
import { createEventPublisher } from '../../src/shared/events/publisher.js';
import { createKeys, QUEUES, type Keys, type QueueName } from '../../src/shared/keys.js';
import { createFleetLimiter } from '../../src/shared/limiter/fleet-limiter.js';
import { silentLogger } from '../../src/shared/logger.js';
import { createRedis } from '../../src/shared/redis.js';
import { startSandbox } from '../../src/sandbox/server.js';
import type { RunningSandbox, SandboxOptions } from '../../src/sandbox/types.js';
import { toErrorResponse } from '../../src/producers/errors.js';
import { registerAuditRoutes } from '../../src/producers/routes/audit.js';
import { deletePrefix, REDIS_URL, testPrefix } from './redis-helpers.js';

/**
 * The audit routes and stores against the sandbox over real HTTP: real Redis under a prefix of its
 * own, the fleet limiter and the CXone client (possibly wrapped by the test), and the API's audit
 * routes on a Fastify app for `inject`.
 */
export interface AuditHarness {
  sandbox: RunningSandbox;
  client: CxoneClient;
  redis: Redis;
  keys: Keys;
  trail: AuditTrailStore;
  ctx: AppContext;
  app: FastifyInstance;
  close(): Promise<void>;
}

export async function startAuditHarness(
  opts: { sandbox?: SandboxOptions; wrapCxone?: (client: CxoneClient) => CxoneClient } = {},
): Promise<AuditHarness> {
  const prefix = testPrefix();
  const keys = createKeys(prefix);
  const redis = createRedis(REDIS_URL);
  const sandbox = await startSandbox({ port: 0, ...opts.sandbox });
  const limiter = createFleetLimiter({
    redisUrl: REDIS_URL,
    prefix,
    perWindow: 1000,
    windowMs: 1000,
    logger: silentLogger,
  });
  const client = createCxoneClient({
    baseUrl: sandbox.url,
    clientId: 'sandbox-client',
    clientSecret: 'sandbox-secret',
    timeoutMs: 5000,
    limiter,
    logger: silentLogger,
  });
  const trail = createAuditTrail({ redis, keys, logger: silentLogger });
  const queue = new Queue(QUEUES.webhook, { connection: redis, prefix });
  const ctx: AppContext = {
    config: loadConfig({
      REDIS_URL,
      KEY_PREFIX: prefix,
      CXONE_BASE_URL: sandbox.url,
      CXONE_CLIENT_ID: 'sandbox-client',
      CXONE_CLIENT_SECRET: 'sandbox-secret',
      API_TOKEN: 'test-token-123',
    }),
    logger: silentLogger,
    redis,
    keys,
    queues: { [QUEUES.webhook]: queue } as Record<QueueName, Queue>,
    cxone: opts.wrapCxone ? opts.wrapCxone(client) : client,
    audit: trail,
    events: createEventPublisher({ redis, keys, logger: silentLogger, webhookQueue: queue, enabled: false }),
    clock: systemClock,
  };
  const app = Fastify();
  app.setErrorHandler((err, _req, reply) => {
    const r = toErrorResponse(err);
    void reply.code(r.status).send(r.body);
  });
  await registerAuditRoutes(app, ctx);
  await app.ready();
  return {
    sandbox,
    client,
    redis,
    keys,
    trail,
    ctx,
    app,
    async close() {
      await app.close();
      await queue.close();
      await client.close();
      await limiter.close();
      await sandbox.close();
      await deletePrefix(redis, prefix);
      redis.disconnect();
    },
  };
}
