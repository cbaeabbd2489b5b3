/**
 * `npm run bench -- audit [--json] [--records N] [--writers W] [--events E]`
 *
 * Measures the audit trail and webhook delivery against the local Redis:
 *   - appends/s into ONE campaign chain from W concurrent writers on separate connections (the
 *     contended case the Lua compare-and-set has to keep linear), and the CAS retry overhead;
 *   - appends/s spread over many campaigns (no contention);
 *   - verification speed (records/s);
 *   - signed webhook deliveries/s to a local HTTP receiver through the real worker.
 * Everything lives under a private key prefix that is deleted at the end.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { createAuditTrail } from '../src/shared/audit/trail.js';
import { systemClock } from '../src/shared/clock.js';
import { loadConfig } from '../src/shared/config.js';
import type { AppContext } from '../src/shared/context.js';
import { createEventPublisher } from '../src/shared/events/publisher.js';
import { createKeys, QUEUES, type QueueName } from '../src/shared/keys.js';
import { silentLogger } from '../src/shared/logger.js';
import { createRedis } from '../src/shared/redis.js';
import { createWebhookWorker } from '../src/workers/webhook-worker.js';
import { deletePrivatePrefix } from '../src/shared/private-prefix.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

function flag(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  const value = i >= 0 ? Number(args[i + 1]) : NaN;
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

export async function run(args: string[]): Promise<void> {
  const json = args.includes('--json');
  const records = flag(args, 'records', 2000);
  const writers = flag(args, 'writers', 8);
  const eventCount = flag(args, 'events', 500);
  const prefix = `{cxo-bench-${randomUUID().slice(0, 8)}}`;
  const keys = createKeys(prefix);
  const admin = createRedis(REDIS_URL);
  const connections = Array.from({ length: writers }, () => createRedis(REDIS_URL));
  const say = (line: string) => {
    if (!json) console.log(line);
  };
  try {
    // 1. One campaign, W writers racing for its chain head.
    const trails = connections.map((redis) => createAuditTrail({ redis, keys, logger: silentLogger }));
    const perWriter = Math.ceil(records / writers);
    let started = performance.now();
    await Promise.all(
      trails.map(async (trail, w) => {
        for (let i = 0; i < perWriter; i++) {
          await trail.append({
            campaignId: 'bench-hot',
            action: 'pacing_decision',
            actor: 'worker:bench',
            details: { w, i },
          });
        }
      }),
    );
    const contendedMs = performance.now() - started;
    const contendedCount = perWriter * writers;
    const contendedPerSec = Math.round((contendedCount / contendedMs) * 1000);
    say(
      `contended appends (1 chain, ${writers} writers): ${contendedCount} in ${contendedMs.toFixed(0)} ms = ${contendedPerSec}/s`,
    );

    // 2. Many campaigns: each writer owns its own chains.
    started = performance.now();
    await Promise.all(
      trails.map(async (trail, w) => {
        for (let i = 0; i < perWriter; i++) {
          await trail.append({
            campaignId: `bench-${w}-${i % 10}`,
            action: 'state_changed',
            actor: 'worker:bench',
            details: { w, i },
          });
        }
      }),
    );
    const spreadMs = performance.now() - started;
    const spreadPerSec = Math.round((contendedCount / spreadMs) * 1000);
    say(
      `spread appends (${writers * 10} chains): ${contendedCount} in ${spreadMs.toFixed(0)} ms = ${spreadPerSec}/s`,
    );

    // 3. Verification of everything written.
    started = performance.now();
    const verified = await trails[0]!.verify();
    const verifyMs = performance.now() - started;
    if (!verified.ok)
      throw new Error(`chain broken during the benchmark: ${JSON.stringify(verified.firstBroken)}`);
    const verifyPerSec = Math.round((verified.checked / verifyMs) * 1000);
    say(
      `verify: ${verified.checked} records in ${verifyMs.toFixed(0)} ms = ${verifyPerSec}/s (all chains intact)`,
    );

    // 4. Signed webhook deliveries through the real worker to a local receiver.
    let received = 0;
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        received++;
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const config = loadConfig({
      REDIS_URL,
      KEY_PREFIX: prefix,
      WEBHOOK_URL: url,
      WEBHOOK_SECRET: SECRET,
      LOG_LEVEL: 'silent',
    });
    const queue = new Queue(QUEUES.webhook, { connection: admin, prefix });
    const audit = createAuditTrail({ redis: admin, keys, logger: silentLogger });
    const events = createEventPublisher({
      redis: admin,
      keys,
      logger: silentLogger,
      webhookQueue: queue,
      enabled: true,
    });
    const ctx: AppContext = {
      config,
      logger: silentLogger,
      redis: admin,
      keys,
      queues: { [QUEUES.webhook]: queue } as Record<QueueName, Queue>,
      cxone: undefined as unknown as AppContext['cxone'],
      audit,
      events,
      clock: systemClock,
    };
    const worker = createWebhookWorker(ctx, { concurrency: 20 });
    await worker.waitUntilReady();
    started = performance.now();
    // Publishers in a fleet run concurrently: 50 at a time.
    for (let i = 0; i < eventCount; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, eventCount - i) }, (_, j) =>
          events.publish('campaign.state.changed', `bench-${(i + j) % 20}`, { i: i + j }),
        ),
      );
    }
    const publishMs = performance.now() - started;
    const publishPerSec = Math.round((eventCount / publishMs) * 1000);
    say(
      `publish: ${eventCount} events in ${publishMs.toFixed(0)} ms = ${publishPerSec}/s (50 concurrent publishers)`,
    );
    while ((await admin.zcard(keys.webhookDelivered())) < eventCount)
      await new Promise((r) => setTimeout(r, 20));
    const deliverMs = performance.now() - started;
    const deliveriesPerSec = Math.round((eventCount / deliverMs) * 1000);
    say(
      `webhooks: ${eventCount} published and delivered (signed) in ${deliverMs.toFixed(0)} ms = ${deliveriesPerSec}/s`,
    );
    await worker.close();
    await queue.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));

    const result = {
      bench: 'audit',
      writers,
      contendedAppends: contendedCount,
      contendedAppendsPerSec: contendedPerSec,
      spreadAppendsPerSec: spreadPerSec,
      verifyRecordsPerSec: verifyPerSec,
      recordsVerified: verified.checked,
      webhookEvents: eventCount,
      publishPerSec,
      webhookDeliveriesPerSec: deliveriesPerSec,
      receiverRequests: received,
    };
    if (json) console.log(JSON.stringify(result));
  } finally {
    await deletePrivatePrefix(admin, prefix);
    for (const c of connections) c.disconnect();
    admin.disconnect();
  }
}
