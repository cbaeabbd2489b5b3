/**
 * `npm run bench -- fleet [--json] [--split] [--launches N] [--concurrency C] [--workers W] [--campaigns M]`
 *
 * 1. The product's launch path (HTTP API → launch queue → launch worker → fleet limiter → CXone
 *    client → sandbox) with the rate limit out of the way: saturated throughput (N launches, C in
 *    flight), then latency from the API request to the sandbox creating the campaign (its own
 *    createdAt), at a paced load of half that throughput.
 * 2. The same jobs through a bare BullMQ queue + worker, same concurrency, making the same CXone
 *    calls a launch makes (create, then PATCH to scheduled): vsBareBullmq = ours / bare saturated
 *    throughput. Both paths are up for the whole comparison, warmed up, and measured in R rounds that
 *    alternate between them (median per path), so a change of background load on a shared machine
 *    hits both alike. A create-only bare run is printed too, for reference.
 * 3. Redis bytes per active campaign with M (10 000) active campaigns, schedulers included.
 * The sandbox runs in its own process (the `sandbox` role) so its CPU is charged to neither path.
 * With --split each path's worker runs in a process of its own (ours: the `worker` role, as
 * deployed; the bare worker: bare-worker-main.ts), its CPU counted with the path's; the entry points
 * (our API, the bare `queue.add`) stay in this process.

 * With --json the last stdout line is {"launchesPerSec","p50Ms","p99Ms","vsBareBullmq","redisBytesPerCampaign"}.
 */
import { startBarePath } from './fleet/bare.js';
import { measurePaths, type LaunchPath, type PathFigures } from './fleet/measure.js';
import { measureRedisPerCampaign } from './fleet/memory.js';
import { startPipelinePath } from './fleet/pipeline.js';
import { processCpu, redisCpu } from './fleet/process-cpu.js';
import { startSandboxProcess } from './fleet/sandbox-proc.js';
import { missedTargets, round, type FleetFigures } from './fleet/stats.js';
import { createRedis } from '../src/shared/redis.js';

export interface FleetArgs {
  json: boolean;
  /** Each path's worker in a process of its own (ours: the `worker` role), instead of in this one. */
  split: boolean;
  launches: number;
  concurrency: number;
  workers: number;
  campaigns: number;
  latencyLaunches: number;
  rounds: number;
  warmup: number;
}

export function parseFleetArgs(args: string[]): FleetArgs {
  const value = (name: string, fallback: number) => {
    const i = args.indexOf(name);
    if (i < 0) return fallback;
    const n = Number(args[i + 1]);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${name} needs a positive whole number`);
    return n;
  };
  return {
    json: args.includes('--json'),
    split: args.includes('--split'),
    launches: value('--launches', 400),
    concurrency: value('--concurrency', 16),
    workers: value('--workers', 20),
    campaigns: value('--campaigns', 10_000),
    latencyLaunches: value('--latency-launches', 150),
    // Rounds are short (about a second or less for 400 launches) and the machine's speed moves between
    // them; more rounds make each path's median steadier for a few seconds more.
    rounds: value('--rounds', 9),
    // Both paths keep speeding up for the first couple of thousand jobs (V8 tiering up undici, axios,
    // BullMQ and our code; the sandbox process warms up too), the bare path about 3x, ours about 2x:
    // a short warm-up measures the JIT rather than the steady state, and skews the ratio (in our favour).
    warmup: value('--warmup', 2_000),
  };
}

async function withPaths<T>(
  starts: ReadonlyArray<() => Promise<LaunchPath>>,
  use: (paths: LaunchPath[]) => Promise<T>,
): Promise<T> {
  const paths: LaunchPath[] = [];
  try {
    for (const start of starts) paths.push(await start());
    return await use(paths);
  } finally {
    for (const path of paths.reverse()) await path.close();
  }
}

const describe = (f: PathFigures & { rounds?: number[] }) => {
  const others = Object.entries(f.otherCpuMsPerLaunch).map(([name, ms]) => `, ${name} ${ms.toFixed(2)}`);
  return (
    `${f.perSec.toFixed(1)}/s saturated` +
    (f.rounds && f.rounds.length > 1 ? ` (median of ${f.rounds.map((r) => r.toFixed(0)).join(', ')})` : '') +
    `, ${f.cpuMsPerLaunch.toFixed(2)} ms CPU per launch; at ${f.pacedRate.toFixed(1)}/s p50 ${f.p50Ms} ms, p99 ${f.p99Ms} ms` +
    (f.machineCpuMsPerLaunch === undefined
      ? ''
      : `\n      with the processes it kept busy: ${f.machineCpuMsPerLaunch.toFixed(2)} ms CPU per launch ` +
        `(medians: this process ${f.cpuMsPerLaunch.toFixed(2)}${others.join('')})`)
  );
};

export async function run(args: string[]): Promise<void> {
  const opts = parseFleetArgs(args);
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const log = (line: string) => console.log(line);
  log(
    `fleet benchmark: ${opts.rounds} alternating rounds of ${opts.launches} launches per path after ${opts.warmup} ` +
      `warm-up, ${opts.concurrency} in flight, worker concurrency ${opts.workers}, ` +
      `${opts.latencyLaunches} paced launches for latency`,
  );

  const sandbox = await startSandboxProcess();
  // INFO only: Redis's CPU counts every client, so on a Redis shared with other work it overstates.
  const infoConnection = createRedis(redisUrl);
  let ours: PathFigures;
  let bare: PathFigures;
  try {
    const common = {
      redisUrl,
      sandboxUrl: sandbox.url,
      workerConcurrency: opts.workers,
      workerProcess: opts.split,
    };
    const measure = {
      launches: opts.launches,
      concurrency: opts.concurrency,
      warmup: opts.warmup,
      latencyLaunches: opts.latencyLaunches,
      rounds: opts.rounds,
      cpuSources: [redisCpu(infoConnection), processCpu('sandbox', sandbox.pid)],
    };
    const compared = await withPaths(
      [() => startPipelinePath(common), () => startBarePath({ ...common, calls: 'launch' })],
      (paths) => measurePaths(paths, sandbox, measure),
    );
    ours = compared.paths[0] as PathFigures;
    bare = compared.paths[1] as PathFigures;
    log(`  orchestrator (API → queue → worker → sandbox):    ${describe(ours)}`);
    log(`  bare BullMQ, same CXone calls (create + schedule): ${describe(bare)}`);
    const createOnly = await withPaths([() => startBarePath({ ...common, calls: 'create' })], (paths) =>
      measurePaths(paths, sandbox, { ...measure, rounds: 1, pacedRate: ours.pacedRate }),
    );
    log(
      `  bare BullMQ, create call only:                     ${describe(createOnly.paths[0] as PathFigures)}`,
    );
    const oursMachine = ours.machineCpuMsPerLaunch;
    const bareMachine = bare.machineCpuMsPerLaunch;
    log(
      `  ours / bare: ${(ours.perSec / bare.perSec).toFixed(2)} (same calls), ` +
        `${(ours.perSec / (createOnly.paths[0] as PathFigures).perSec).toFixed(2)} (create only); ` +
        `CPU per launch bare / ours: ${(bare.cpuMsPerLaunch / ours.cpuMsPerLaunch).toFixed(2)} (this process)` +
        (oursMachine !== undefined && bareMachine !== undefined
          ? `, ${(bareMachine / oursMachine).toFixed(2)} (with the processes each kept busy)`
          : ''),
    );
  } finally {
    infoConnection.disconnect();
    await sandbox.close();
  }

  log(
    `Redis memory: ${opts.campaigns} active campaigns (launch, campaign record, poll scheduler, window job)…`,
  );
  const memory = await measureRedisPerCampaign({ redisUrl, campaigns: opts.campaigns });
  log(
    `  ${memory.bytes} bytes in ${memory.keys} keys → ${memory.bytesPerCampaign} bytes per campaign (${memory.seconds.toFixed(1)} s)`,
  );
  for (const shape of memory.byShape.slice(0, 10)) {
    const perCampaign = String(Math.round(shape.bytes / opts.campaigns)).padStart(6);
    log(`    ${perCampaign} B/campaign in ${String(shape.keys).padStart(6)} keys  ${shape.shape}`);
  }

  const figures: FleetFigures = {
    launchesPerSec: round(ours.perSec, 1),
    p50Ms: round(ours.p50Ms, 1),
    p99Ms: round(ours.p99Ms, 1),
    vsBareBullmq: round(ours.perSec / bare.perSec, 2),
    redisBytesPerCampaign: memory.bytesPerCampaign,
  };
  const missed = missedTargets(figures);
  log(missed.length === 0 ? 'all targets met' : `targets missed: ${missed.join('; ')}`);
  if (opts.json) console.log(JSON.stringify(figures));
}
