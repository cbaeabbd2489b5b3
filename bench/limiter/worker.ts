/**
 * One worker process of the limiter benchmark: a standing backlog of stats polls plus a trickle of
 * control-priority calls on the same (saturated) endpoint, all through its own fleet limiter that
 * shares the budget with its siblings in Redis. Prints one JSON WorkerReport line when done.
 * argv: redisUrl prefix sandboxUrl campaignIds(comma) perWindow windowMs stopAt pollers controlEveryMs
 */
import { createCxoneClient } from '../../src/shared/cxone/client.js';
import { CXONE_ENDPOINTS } from '../../src/shared/cxone/wire.js';
import { createFleetLimiter } from '../../src/shared/limiter/fleet-limiter.js';
import type { FleetLimiter } from '../../src/shared/limiter/types.js';
import { silentLogger } from '../../src/shared/logger.js';
import type { WorkerReport } from './stats.js';

const [redisUrl, prefix, sandboxUrl, ids, perWindow, windowMs, stopAt, pollers, controlEveryMs] =
  process.argv.slice(2);
const campaignIds = ids!.split(',');
const report: WorkerReport = {
  pid: process.pid,
  polls: 0,
  controls: 0,
  rateLimited: 0,
  errors: 0,
  controlWaits: [],
};

const limiter = createFleetLimiter({
  redisUrl: redisUrl!,
  prefix: prefix!,
  perWindow: Number(perWindow),
  windowMs: Number(windowMs),
  logger: silentLogger,
});
// Records, for control calls, how long the limiter kept them waiting before the HTTP call began.
const measured: FleetLimiter = {
  schedule(endpoint, priority, fn) {
    if (priority !== 'control' || endpoint !== CXONE_ENDPOINTS.getStats)
      return limiter.schedule(endpoint, priority, fn);
    const enqueuedAt = Date.now();
    return limiter.schedule(endpoint, priority, () => {
      report.controlWaits.push([enqueuedAt, Date.now() - enqueuedAt]);
      return fn();
    });
  },
  penalize: (endpoint, ms) => limiter.penalize(endpoint, ms),
  close: () => limiter.close(),
};
const client = createCxoneClient({
  baseUrl: sandboxUrl!,
  clientId: 'sandbox-client',
  clientSecret: 'sandbox-secret',
  timeoutMs: 10_000,
  limiter: measured,
  logger: silentLogger,
});

const end = Number(stopAt);
const pick = (i: number) => campaignIds[i % campaignIds.length] as string;
let n = 0;

async function call(priority: 'poll' | 'control'): Promise<void> {
  try {
    await client.getStats(pick(n++), { priority });
    if (priority === 'poll') report.polls++;
    else report.controls++;
  } catch (err) {
    if ((err as Error).name === 'CxoneRateLimitError') report.rateLimited++;
    else report.errors++;
  }
}

const pollLoops = Array.from({ length: Number(pollers) }, async () => {
  while (Date.now() < end) await call('poll');
});
const controlLoop = (async () => {
  const every = Number(controlEveryMs);
  while (Date.now() < end) {
    // Uniform in [0.5, 1.5] × every, so processes do not send control calls in lockstep.
    await new Promise((r) => setTimeout(r, every * (0.5 + Math.random())));
    if (Date.now() < end) await call('control');
  }
})();

await Promise.all([...pollLoops, controlLoop]);
await client.close();
await limiter.close();
process.stdout.write(`${JSON.stringify(report)}\n`);
process.exit(0);
