import { Queue, type Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { AppContext } from '../../src/shared/context.js';
import { QUEUES, type QueueName } from '../../src/shared/keys.js';
import { createRedis } from '../../src/shared/redis.js';
import { createWebhookWorker, type WebhookWorkerOptions } from '../../src/workers/webhook-worker.js';
import { REDIS_URL } from '../audit/redis-helpers.js';
import { FAST_SCHEDULE, startHarness, type Harness, type Receiver } from '../webhooks/harness.js';

type Cleanups = (() => Promise<void>)[];

/**
 * A webhook harness for `receiver` whose own worker is closed, so the test starts the workers it
 * needs; the receiver and the harness are stopped by `cleanups` (see cleanupsAfterEach).
 */
export async function harnessWithoutWorker(receiver: Receiver, cleanups: Cleanups): Promise<Harness> {
  const h = await startHarness(receiver.url, { sweepIntervalMs: 0 });
  cleanups.push(
    () => receiver.stop(),
    () => h.close(),
  );
  await h.worker.close();
  return h;
}

export interface WorkerProcessOptions {
  /** The process's logger (the harness's without it). */
  logger?: AppContext['logger'];
  /**
   * Given the process's own connection before the worker is made; what it returns is run first when
   * the worker is closed after the test.
   */
  connection?: (redis: Redis) => () => void;
  /** Collects the errors the worker emits (nothing listens to them without it). */
  errors?: Error[];
}

/**
 * A webhook worker as another process would run it: its own Redis connection and queue handle, 2 s
 * sends, no sweep, FAST_SCHEDULE unless `opts` says otherwise; closed by `cleanups` after the test.
 */
export async function webhookWorkerProcess(
  h: Harness,
  cleanups: Cleanups,
  opts: WebhookWorkerOptions,
  own: WorkerProcessOptions = {},
): Promise<Worker> {
  const redis = createRedis(REDIS_URL);
  const queue = new Queue(QUEUES.webhook, { connection: redis, prefix: h.keys.prefix });
  const beforeClose = own.connection?.(redis);
  const ctx: AppContext = {
    ...h.ctx,
    ...(own.logger ? { logger: own.logger } : {}),
    redis,
    queues: { [QUEUES.webhook]: queue } as Record<QueueName, Queue>,
  };
  const worker = createWebhookWorker(ctx, {
    timeoutMs: 2_000,
    sweepIntervalMs: 0,
    retrySchedule: FAST_SCHEDULE,
    ...opts,
  });
  const errors = own.errors;
  if (errors) worker.on('error', (err) => errors.push(err));
  cleanups.push(async () => {
    beforeClose?.();
    await worker.close(true);
    await queue.close();
    redis.disconnect();
  });
  await worker.waitUntilReady();
  return worker;
}
