import { randomUUID } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import { campaignConfigBaseSchema } from '../../src/shared/campaign-config.js';
import { toCreateCampaignRequest } from '../../src/shared/cxone/to-wire.js';
import { createRedis } from '../../src/shared/redis.js';
import { benchCampaignConfig } from './config.js';
import type { LaunchPath } from './measure.js';
import { submitterOf } from './submissions.js';
import { deletePrivatePrefix } from '../../src/shared/private-prefix.js';
import { spawnTs } from './child-process.js';
import { processCpu } from './process-cpu.js';

async function fetchToken(baseUrl: string): Promise<string> {
  const res = await fetch(`${baseUrl}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: 'sandbox-client',
      client_secret: 'sandbox-secret',
    }).toString(),
  });
  if (!res.ok) throw new Error(`token request failed: ${res.status}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

/** The bare BullMQ worker: the same HTTP calls a launch makes, nothing else. */
export async function startBareWorker(opts: {
  redisUrl: string;
  prefix: string;
  sandboxUrl: string;
  workerConcurrency: number;
  calls: 'launch' | 'create';
}): Promise<{ close(): Promise<void> }> {
  const connection = createRedis(opts.redisUrl);
  const token = await fetchToken(opts.sandboxUrl);
  const worker = new Worker(
    'bare-launch',
    async (job) => {
      const config = campaignConfigBaseSchema.parse(job.data);
      const res = await fetch(`${opts.sandboxUrl}/api/v2/campaigns`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(toCreateCampaignRequest(config)),
      });
      if (res.status !== 201) throw new Error(`create failed: ${res.status}`);
      const created = (await res.json()) as { id: string; version: number };
      if (opts.calls === 'create') return;
      const patched = await fetch(`${opts.sandboxUrl}/api/v2/campaigns/${created.id}`, {
        method: 'PATCH',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'if-match': `version=${created.version}`,
        },
        body: JSON.stringify({ status: 'scheduled' }),
      });
      if (patched.status !== 200) throw new Error(`schedule failed: ${patched.status}`);
      await patched.arrayBuffer();
    },
    { connection, prefix: opts.prefix, concurrency: opts.workerConcurrency },
  );
  await worker.waitUntilReady();
  return {
    async close() {
      await worker.close();
      connection.disconnect();
    },
  };
}

/**
 * The yardstick: the same jobs through a bare BullMQ queue and worker, with the same worker
 * concurrency and the same submissions in flight; no API, no limiter, no bookkeeping. `calls`
 * chooses the HTTP work per job: `launch` makes the same CXone calls a product launch makes (create,
 * then PATCH to scheduled with If-Match), `create` only the create call. `workerProcess` runs the
 * worker in a process of its own (bare-worker-main.ts), as the product's worker role runs in its own.
 */
export async function startBarePath(opts: {
  redisUrl: string;
  sandboxUrl: string;
  workerConcurrency: number;
  calls: 'launch' | 'create';
  workerProcess?: boolean;
}): Promise<LaunchPath> {
  const prefix = `{cxo-bench-bare-${randomUUID().slice(0, 8)}}`;
  const producerConnection = createRedis(opts.redisUrl);
  const queue = new Queue('bare-launch', { connection: producerConnection, prefix });
  const workerOpts = { ...opts, prefix };
  const child = opts.workerProcess
    ? spawnTs('bench/fleet/bare-worker-main.ts', [], {
        REDIS_URL: opts.redisUrl,
        BARE_PREFIX: prefix,
        SANDBOX_URL: opts.sandboxUrl,
        WORKER_CONCURRENCY: String(opts.workerConcurrency),
        BARE_CALLS: opts.calls,
      })
    : undefined;
  const worker = child ? undefined : await startBareWorker(workerOpts);

  return {
    ...(child ? { cpuSources: [processCpu('worker', child.pid)] } : {}),
    // In this process: `queue.add` is the bare system's entry point, as the API is ours.
    ...submitterOf(async (index) => {
      const sentAt = Date.now();
      const config = benchCampaignConfig(index, sentAt);
      await queue.add('create', config, { removeOnComplete: true, removeOnFail: 1000 });
      return { name: config.name, sentAt };
    }),
    settle: async (names) => {
      // Jobs still finishing (the PATCH after the create) must not be cut by close().
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
        if (Object.values(counts).every((n) => n === 0)) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`bare jobs for ${names.length} submissions did not finish within 60 s`);
    },
    async close() {
      await (child ? child.close() : worker?.close());
      await queue.close();
      await deletePrivatePrefix(producerConnection, prefix);
      producerConnection.disconnect();
    },
  };
}
