/**
 * `npm run bench -- limiter [--json] [--processes N] [--per-window N] [--window-ms N] [--windows N]`
 *
 * Issue 3's benchmark: N separate OS worker processes (default 3) share the fleet limiter in Redis
 * (a unique prefix) against the embedded sandbox enforcing perWindow requests per windowMs on the
 * stats endpoint (default 60 per 10 s, fixed windows aligned to the epoch, as a server that resets
 * its counters on the minute). Each process keeps a standing backlog of stats polls plus a trickle of
 * control-priority calls on the same endpoint — the worst case for priority, since control must beat
 * polls for the very budget they saturate. After one window of warm-up, the sandbox's own counters
 * are read at two window boundaries `--windows` apart:
 *   budget       = perWindow × windows
 *   sent         = requests the sandbox received on the endpoint in that span
 *   utilization  = requests it accepted / budget
 *   http429      = requests it refused with 429 (all endpoints)
 *   controlWaitP99Ms = p99 of (limiter admits the control call − control call enqueued), in the span
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { startSandbox } from '../src/sandbox/server.js';
import { createCxoneClient } from '../src/shared/cxone/client.js';
import { CXONE_ENDPOINTS, type CreateCampaignRequest } from '../src/shared/cxone/wire.js';
import { createFleetLimiter } from '../src/shared/limiter/fleet-limiter.js';
import { silentLogger } from '../src/shared/logger.js';
import { nextBoundary, summarize, type WorkerReport } from './limiter/stats.js';
import { deletePrivatePrefix } from '../src/shared/private-prefix.js';
import { SANDBOX_SKILL_GROUP_ID, SANDBOX_TARGET_LIST_ID } from '../src/sandbox/directory.js';

const WORKER = fileURLToPath(new URL('./limiter/worker.ts', import.meta.url));
const STATS = CXONE_ENDPOINTS.getStats;

function numberArg(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  if (i === -1) return fallback;
  const v = Number(args[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} needs a positive number`);
  return v;
}

interface Counters {
  endpoints: Record<string, { requests: number; accepted: number; rateLimited: number }>;
}

async function counters(url: string): Promise<Counters> {
  const res = await fetch(`${url}/__sandbox/counters`);
  return (await res.json()) as Counters;
}

function sleepUntil(t: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, t - Date.now())));
}

function campaign(i: number): CreateCampaignRequest {
  return {
    name: `Limiter bench ${i}`,
    type: 'predictive',
    startDateTime: new Date(Date.now() + 3_600_000).toISOString(),
    targetListId: SANDBOX_TARGET_LIST_ID,
    dialerSettings: {
      strategy: 'predictive',
      agentCapacity: 20,
      callRate: 0.5,
      answerRate: 0.3,
      wrapUpTime: 30,
      skillGroupId: SANDBOX_SKILL_GROUP_ID,
    },
    complianceSettings: {
      timeZone: 'UTC',
      allowedCallTimes: [
        { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '00:00', end: '23:59' },
      ],
      doNotCallListCheck: true,
      regulatoryCompliance: 'TCPA',
    },
  };
}

function runWorker(args: string[]): Promise<WorkerReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`worker exited with ${code}: ${err.slice(-2000)}`));
      resolve(JSON.parse(out.trim().split('\n').pop() ?? '{}') as WorkerReport);
    });
  });
}

export async function run(args: string[]): Promise<void> {
  const json = args.includes('--json');
  const processes = numberArg(args, '--processes', 3);
  const perWindow = numberArg(args, '--per-window', 60);
  const windowMs = numberArg(args, '--window-ms', 10_000);
  const windows = numberArg(args, '--windows', 6);
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const prefix = `{cxo-bench-limiter-${randomUUID().slice(0, 8)}}`;

  const sandbox = await startSandbox({
    port: 0,
    rateLimit: { perWindow, windowMs, mode: 'fixed' },
    // Token requests are counted on their own budget; keep it out of the way of the measurement.
    tokenRateLimit: { perWindow: 1_000, windowMs },
  });
  const setupLimiter = createFleetLimiter({ redisUrl, prefix, perWindow, windowMs, logger: silentLogger });
  const setup = createCxoneClient({
    baseUrl: sandbox.url,
    clientId: 'sandbox-client',
    clientSecret: 'sandbox-secret',
    timeoutMs: 10_000,
    limiter: setupLimiter,
    logger: silentLogger,
  });
  try {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await setup.createCampaign(campaign(i))).id);

    // Warm-up: process start (tsx) and one full window; then measure whole windows only.
    const startedAt = Date.now();
    const measureFrom = nextBoundary(startedAt + 5_000 + windowMs, windowMs);
    const measureTo = measureFrom + windows * windowMs;
    const stopAt = measureTo + 1_000;
    const workerArgs = [
      redisUrl,
      prefix,
      sandbox.url,
      ids.join(','),
      String(perWindow),
      String(windowMs),
      String(stopAt),
      '8',
      String(Math.round((windowMs / 5) * processes)),
    ];
    if (!json) {
      console.log(
        `limiter: ${processes} processes, sandbox budget ${perWindow} per ${windowMs} ms on ${STATS}; ` +
          `measuring ${windows} windows from ${new Date(measureFrom).toISOString()}`,
      );
    }
    const reports = Promise.all(Array.from({ length: processes }, () => runWorker(workerArgs)));

    await sleepUntil(measureFrom);
    const before = await counters(sandbox.url);
    await sleepUntil(measureTo);
    const after = await counters(sandbox.url);
    const done = await reports;

    const stats = (c: Counters) => c.endpoints[STATS] ?? { requests: 0, accepted: 0, rateLimited: 0 };
    const all429 = (c: Counters) => Object.values(c.endpoints).reduce((n, e) => n + e.rateLimited, 0);
    const waits = done.flatMap((r) =>
      r.controlWaits.filter(([at]) => at >= measureFrom && at < measureTo).map(([, ms]) => ms),
    );
    const result = summarize({
      processes,
      perWindow,
      windows,
      sent: stats(after).requests - stats(before).requests,
      accepted: stats(after).accepted - stats(before).accepted,
      http429: all429(after) - all429(before),
      controlWaitsMs: waits,
    });

    if (!json) {
      for (const r of done) {
        console.log(
          `  worker ${r.pid}: ${r.polls} polls, ${r.controls} control calls, ${r.rateLimited} rate-limited, ${r.errors} errors`,
        );
      }
      console.log(
        `  measured: sent ${result.sent}, accepted ${stats(after).accepted - stats(before).accepted} of budget ${result.budget} ` +
          `(utilization ${result.utilization}), 429s ${result.http429}, control waits n=${waits.length} ` +
          `p50=${Math.round(waits.sort((a, b) => a - b)[Math.floor(waits.length / 2)] ?? 0)} ms p99=${result.controlWaitP99Ms} ms, ` +
          `run ${Math.round((Date.now() - startedAt) / 1000)} s`,
      );
    }
    console.log(JSON.stringify(result));
  } finally {
    await setup.close();
    await setupLimiter.close();
    await sandbox.close();
    const redis = new Redis(redisUrl);
    await deletePrivatePrefix(redis, prefix);
    redis.disconnect();
  }
}
