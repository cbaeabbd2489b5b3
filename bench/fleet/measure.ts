import { perLaunch, readAll, roundTotal, type CpuSource } from './process-cpu.js';
import { waitFor, type SandboxProcess } from './sandbox-proc.js';
import { percentile, ratePerSecond } from './stats.js';
import type { Submitter } from './submissions.js';

/**
 * One way of getting a campaign created on the sandbox: the product, or the bare BullMQ yardstick.
 * Its submissions resolve once accepted (202, or the job added).
 */
export interface LaunchPath extends Submitter {
  /** Processes other than this one that work only for this path (the product's caller). */
  cpuSources?: readonly CpuSource[];
  /** Waits until the path has finished all work for these submissions (so closing cuts nothing). */
  settle(names: string[]): Promise<void>;
  close(): Promise<void>;
}

export interface PathFigures {
  /** Saturated throughput: submissions to the sandbox's create, per second. */
  perSec: number;
  /**
   * CPU time of this process (all its threads) per launch while saturated, ms: the work a launch
   * costs, which on a shared machine moves less than the wall clock. Both paths share the process,
   * so the other path's idle background (heartbeats, blocking reads) is counted too, equally small.
   */
  cpuMsPerLaunch: number;
  /**
   * CPU ms per launch of the other processes the path kept busy (Redis, the sandbox, the caller),
   * median of the rounds, by process; a process whose CPU could not be read is missing.
   */
  otherCpuMsPerLaunch: Record<string, number>;
  /**
   * CPU ms per launch of this process and every other it kept busy, summed per round (median of the
   * rounds' sums); undefined unless every process was read in every round.
   */
  machineCpuMsPerLaunch?: number;
  /** Latency at a paced load (see `pacedRate`): submission to the sandbox's create, ms. */
  p50Ms: number;
  p99Ms: number;
  pacedRate: number;
}

/**
 * How often the sandbox's campaign list is read while waiting for arrivals. The times themselves come
 * from the sandbox (its createdAt), so this only decides how soon the wait notices the end; reading
 * the whole list every few ms would spend the CPU of both processes on the benchmark itself, while
 * the path under test is still working.
 */
const ARRIVALS_POLL_MS = 100;

async function arrivalsFor(
  sandbox: SandboxProcess,
  names: string[],
  since: number,
  timeoutMs: number,
): Promise<number[]> {
  let arrivals = new Map<string, number>();
  await waitFor(
    `${names.length} creates on the sandbox`,
    async () => {
      arrivals = await sandbox.arrivals(since);
      return names.every((n) => arrivals.has(n));
    },
    timeoutMs,
    ARRIVALS_POLL_MS,
  );
  return names.map((n) => arrivals.get(n) as number);
}

/**
 * Saturated: `count` submissions, `concurrency` in flight; rate from first submission to last create,
 * and the CPU per launch of this process and of `others` (plus the path's own) until the last create
 * was seen.
 */
export async function measureThroughput(
  path: LaunchPath,
  sandbox: SandboxProcess,
  count: number,
  concurrency: number,
  offset: number,
  others: readonly CpuSource[] = [],
): Promise<{ perSec: number; cpuMsPerLaunch: number; otherCpuMsPerLaunch: Map<string, number> }> {
  const sources = [...others, ...(path.cpuSources ?? [])];
  const since = Date.now();
  const othersBefore = await readAll(sources);
  const cpuBefore = process.cpuUsage();
  const sent = await path.saturate(offset, count, concurrency);
  const names = sent.map((s) => s.name);
  const arrived = await arrivalsFor(sandbox, names, since, 300_000);
  const cpu = process.cpuUsage(cpuBefore);
  const othersAfter = await readAll(sources);
  await path.settle(names);
  return {
    perSec: ratePerSecond(count, Math.min(...sent.map((s) => s.sentAt)), Math.max(...arrived)),
    cpuMsPerLaunch: (cpu.user + cpu.system) / 1000 / count,
    otherCpuMsPerLaunch: perLaunch(othersBefore, othersAfter, count),
  };
}

/**
 * Open loop at `rate` submissions per second (below saturation, as a production fleet runs), so the
 * latency measures the pipeline rather than the length of a backlog.
 */
export async function measureLatency(
  path: LaunchPath,
  sandbox: SandboxProcess,
  count: number,
  rate: number,
  offset: number,
): Promise<{ p50Ms: number; p99Ms: number }> {
  const start = Date.now();
  const sent = await path.pace(offset, count, rate);
  const names = sent.map((s) => s.name);
  const arrived = await arrivalsFor(sandbox, names, start, 120_000);
  await path.settle(names);
  const latencies = arrived.map((t, i) => t - (sent[i] as { sentAt: number }).sentAt);
  return { p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) };
}

export interface MeasureOptions {
  launches: number;
  concurrency: number;
  warmup: number;
  latencyLaunches: number;
  /** Throughput rounds per path, alternating between the paths (the median counts). */
  rounds: number;
  /** Paced rate for the latency phase; defaults to half the first path's throughput. */
  pacedRate?: number;
  /** Processes every path keeps busy (Redis, the sandbox), read around each measured round. */
  cpuSources?: readonly CpuSource[];
}

/** Median of unsorted values (mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export interface ComparedFigures {
  /** Figures per path, in the order given. */
  paths: (PathFigures & { rounds: number[] })[];
}

/**
 * Measures several paths fairly on a shared, noisy machine: each is warmed up (token, JIT, pools,
 * scripts loaded into Redis; not measured), then saturated throughput is measured in `rounds` rounds
 * that alternate between the paths, so that a change of background load hits every path alike; each
 * path's figure is its median round. Latency is then measured for every path at the same paced rate,
 * half the first path's throughput.
 */
export async function measurePaths(
  paths: readonly LaunchPath[],
  sandbox: SandboxProcess,
  opts: MeasureOptions,
): Promise<ComparedFigures> {
  let offset = 0;
  const next = (n: number) => {
    const start = offset;
    offset += n;
    return start;
  };
  for (const path of paths) {
    await measureThroughput(path, sandbox, opts.warmup, opts.concurrency, next(opts.warmup));
  }
  const rounds: number[][] = paths.map(() => []);
  const cpu: number[][] = paths.map(() => []);
  const otherCpu: Map<string, number[]>[] = paths.map(() => new Map());
  const machineCpu: number[][] = paths.map(() => []);
  const expected = paths.map((path) =>
    [...(opts.cpuSources ?? []), ...(path.cpuSources ?? [])].map((source) => source.name),
  );
  for (let r = 0; r < opts.rounds; r++) {
    for (const [i, path] of paths.entries()) {
      const measured = await measureThroughput(
        path,
        sandbox,
        opts.launches,
        opts.concurrency,
        next(opts.launches),
        opts.cpuSources,
      );
      rounds[i]!.push(measured.perSec);
      cpu[i]!.push(measured.cpuMsPerLaunch);
      for (const [name, ms] of measured.otherCpuMsPerLaunch) {
        const values = otherCpu[i]!.get(name) ?? [];
        values.push(ms);
        otherCpu[i]!.set(name, values);
      }
      const total = roundTotal(measured.cpuMsPerLaunch, measured.otherCpuMsPerLaunch, expected[i]!);
      if (total !== undefined) machineCpu[i]!.push(total);
    }
  }
  const perSec = rounds.map((r) => median(r));
  const pacedRate = opts.pacedRate ?? Math.max(1, (perSec[0] as number) / 2);
  const figures: ComparedFigures['paths'] = [];
  for (const [i, path] of paths.entries()) {
    const latency = await measureLatency(
      path,
      sandbox,
      opts.latencyLaunches,
      pacedRate,
      next(opts.latencyLaunches),
    );
    figures.push({
      perSec: perSec[i] as number,
      cpuMsPerLaunch: median(cpu[i] as number[]),
      // Only processes read in every round: a median of fewer rounds would not be comparable.
      otherCpuMsPerLaunch: Object.fromEntries(
        [...(otherCpu[i] as Map<string, number[]>)]
          .filter(([, values]) => values.length === opts.rounds)
          .map(([name, values]) => [name, median(values)]),
      ),
      ...(machineCpu[i]!.length === opts.rounds ? { machineCpuMsPerLaunch: median(machineCpu[i]!) } : {}),
      pacedRate,
      rounds: rounds[i] as number[],
      ...latency,
    });
  }
  return { paths: figures };
}
