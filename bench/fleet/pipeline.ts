import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { buildApiApp } from '../../src/producers/app.js';
import { loadConfig } from '../../src/shared/config.js';
import { createContext } from '../../src/shared/context-factory.js';
import { createLaunchStore } from '../../src/shared/launch-store.js';
import { silentLogger } from '../../src/shared/logger.js';
import { startWorkers } from '../../src/workers/index.js';
import { startLoadGenerator, type Launched } from './load-generator.js';
import type { LaunchPath } from './measure.js';
import { processCpu } from './process-cpu.js';
import { deletePrivatePrefix } from '../../src/shared/private-prefix.js';
import { waitFor } from './sandbox-proc.js';
import { spawnTs } from './child-process.js';

const TOKEN = 'bench-api-token';

/**
 * The product's path: HTTP POST /v1/campaigns → launch queue → launch worker → CXone client and
 * fleet limiter → sandbox, with the fleet's rate limit at its maximum so it never throttles. The
 * requests come from the upstream system's stand-in in its own process (load-generator.ts).
 */
export async function startPipelinePath(opts: {
  redisUrl: string;
  sandboxUrl: string;
  workerConcurrency: number;
  /** The workers in a process of their own (the `worker` role), as deployed, instead of beside the API. */
  workerProcess?: boolean;
}): Promise<LaunchPath> {
  const prefix = `{cxo-bench-${randomUUID().slice(0, 8)}}`;
  const env = {
    REDIS_URL: opts.redisUrl,
    KEY_PREFIX: prefix,
    API_TOKEN: TOKEN,
    CXONE_BASE_URL: opts.sandboxUrl,
    CXONE_CLIENT_ID: 'sandbox-client',
    CXONE_CLIENT_SECRET: 'sandbox-secret',
    CXONE_RATE_LIMIT_PER_MIN: '100000',
    WORKER_CONCURRENCY: String(opts.workerConcurrency),
    LOG_LEVEL: 'silent',
  };
  const config = loadConfig(env);
  const ctx = await createContext(config, silentLogger);
  const child = opts.workerProcess ? spawnTs('src/main.ts', ['worker'], env) : undefined;
  const workers = child ? undefined : await startWorkers(ctx);
  const app = await buildApiApp(ctx);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const apiUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const upstream = await startLoadGenerator(apiUrl, TOKEN);
  const launchStore = createLaunchStore(ctx);
  const launchIdByName = new Map<string, string>();
  const remember = (sent: Launched[]) => {
    for (const s of sent) launchIdByName.set(s.name, s.launchId);
    return sent;
  };

  return {
    // The caller's process works only for this path.
    cpuSources: [processCpu('caller', upstream.pid), ...(child ? [processCpu('worker', child.pid)] : [])],
    saturate: async (offset, count, concurrency) =>
      remember(await upstream.saturate(offset, count, concurrency)),
    pace: async (offset, count, rate) => remember(await upstream.pace(offset, count, rate)),
    async settle(names) {
      // After the create call a launch still schedules the campaign, audits and publishes.
      const pending = new Set(names.map((name) => launchIdByName.get(name) as string));
      await waitFor(
        'every launch to finish',
        async () => {
          for (const launchId of pending) {
            const record = await launchStore.get(launchId);
            if (record?.status !== 'succeeded' && record?.status !== 'failed') return false;
            pending.delete(launchId);
          }
          return true;
        },
        120_000,
        50,
      );
    },
    async close() {
      await upstream.close();
      await app.close();
      await (child ? child.close() : workers?.close(10_000));
      await deletePrivatePrefix(ctx.redis, prefix);
      await ctx.close();
    },
  };
}
