import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Queue, type Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterEach, expect } from 'vitest';
import { createAuditTrail, type AuditTrailStore } from '../../src/shared/audit/trail.js';
import { systemClock } from '../../src/shared/clock.js';
import { loadConfig } from '../../src/shared/config.js';
import type { AppContext } from '../../src/shared/context.js';
import { createEventPublisher, type EventPublisherStore } from '../../src/shared/events/publisher.js';
import type { EventEnvelope } from '../../src/shared/events/types.js';
import { createKeys, QUEUES, type Keys, type QueueName } from '../../src/shared/keys.js';
import { silentLogger } from '../../src/shared/logger.js';
import { createRedis } from '../../src/shared/redis.js';
import { verifyWebhook } from '../../src/shared/webhooks/sign.js';
import { createWebhookWorker, type WebhookWorkerOptions } from '../../src/workers/webhook-worker.js';
import { REDIS_URL, testPrefix } from '../audit/redis-helpers.js';
import { deletePrefixAt } from '../support/redis-prefix.js';

export const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
/** A shrunk schedule with the production shape (immediately, then growing). */
export const FAST_SCHEDULE = [0, 40, 80, 120, 160, 200, 250, 300];

export interface Received {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  status: number;
  signatureValid: boolean;
  at: number;
}

export type Responder = (
  req: IncomingMessage,
  body: string,
  res: ServerResponse,
) => { status: number; headers?: Record<string, string>; body?: string } | 'hang';

/** A real HTTP receiver on a random port that verifies every signature it gets. */
export class Receiver {
  readonly received: Received[] = [];
  respond: Responder = () => ({ status: 200 });
  private server: Server | undefined;
  private readonly hanging = new Set<ServerResponse>();
  port = 0;

  async start(port = 0): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const answer = this.respond(req, body, res);
        let signatureValid = true;
        try {
          verifyWebhook({ secret: SECRET, headers: req.headers, body });
        } catch {
          signatureValid = false;
        }
        const status = answer === 'hang' ? 0 : answer.status;
        this.received.push({
          id: String(req.headers['webhook-id']),
          timestamp: String(req.headers['webhook-timestamp']),
          signature: String(req.headers['webhook-signature']),
          body,
          status,
          signatureValid,
          at: Date.now(),
        });
        if (answer === 'hang') {
          this.hanging.add(res);
          return;
        }
        res.writeHead(answer.status, { 'content-type': 'text/plain', ...answer.headers });
        res.end(answer.body ?? '');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  successes(): Received[] {
    return this.received.filter((r) => r.status >= 200 && r.status < 300);
  }
}

export interface Harness {
  ctx: AppContext;
  redis: Redis;
  keys: Keys;
  queue: Queue;
  audit: AuditTrailStore;
  events: EventPublisherStore;
  worker: Worker;
  close(): Promise<void>;
}

export async function startHarness(
  webhookUrl: string | undefined,
  workerOpts: WebhookWorkerOptions = {},
  /** More environment for the configuration (WEBHOOK_SECRET overrides the harness's SECRET). */
  env: Record<string, string> = {},
): Promise<Harness> {
  const prefix = testPrefix();
  const config = loadConfig({
    REDIS_URL,
    KEY_PREFIX: prefix,
    ...(webhookUrl ? { WEBHOOK_URL: webhookUrl, WEBHOOK_SECRET: SECRET } : {}),
    ...env,
  });
  const redis = createRedis(REDIS_URL);
  const keys = createKeys(prefix);
  const queue = new Queue(QUEUES.webhook, { connection: redis, prefix });
  const audit = createAuditTrail({ redis, keys, logger: silentLogger });
  const schedule = workerOpts.retrySchedule ?? FAST_SCHEDULE;
  const events = createEventPublisher({
    redis,
    keys,
    logger: silentLogger,
    webhookQueue: queue,
    enabled: config.webhook !== undefined,
    retrySchedule: schedule,
  });
  const ctx = {
    config,
    logger: silentLogger,
    redis,
    keys,
    queues: { [QUEUES.webhook]: queue } as Record<QueueName, Queue>,
    cxone: undefined as unknown as AppContext['cxone'],
    audit,
    events,
    clock: systemClock,
  } satisfies AppContext;
  const worker = createWebhookWorker(ctx, { timeoutMs: 2_000, ...workerOpts, retrySchedule: schedule });
  await worker.waitUntilReady();
  return {
    ctx,
    redis,
    keys,
    queue,
    audit,
    events,
    worker,
    async close() {
      // A forced close does not wait for a delivery under way: its run goes on and would write its
      // verdict (the delivered set, the event's fields) after the keys were deleted, leaving them
      // behind without a TTL. Cutting the connection the worker writes through first makes those
      // late writes fail instead; the keys are then deleted over a connection of their own.
      await worker.close(true);
      await queue.close();
      redis.disconnect();
      await deletePrefixAt(prefix);
    },
  };
}

export async function waitFor(
  cond: () => Promise<boolean> | boolean,
  timeoutMs = 15_000,
  what = 'condition',
) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * Clean-ups a test registers (harnesses, receivers, proxies), run newest first after each test, so a
 * failing assertion never leaves a server or Redis keys behind. Call once at a test file's top level.
 */
export function cleanupsAfterEach(): (() => Promise<void>)[] {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (cleanups.length > 0) await cleanups.pop()!();
  });
  return cleanups;
}

/**
 * Publishes through a publisher whose enqueue fails, as on a lost connection: the event is stored
 * `pending` with no job (what the sweep, or a worker's failed fallback, must pick up).
 */
export async function publishOrphan(
  h: Harness,
  campaignId: string,
  data: Record<string, unknown> = {},
): Promise<EventEnvelope> {
  const failing = createEventPublisher({
    redis: h.redis,
    keys: h.keys,
    logger: silentLogger,
    webhookQueue: { add: () => Promise.reject(new Error('connection lost')) } as unknown as Queue,
    enabled: true,
  });
  await expect(failing.publish('campaign.state.changed', campaignId, data)).rejects.toThrow(
    'connection lost',
  );
  const [event] = await h.events.recent(1, campaignId);
  return event!;
}
