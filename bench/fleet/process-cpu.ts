/**
 * CPU time of the other processes a launch keeps busy — Redis, the sandbox, the caller — so the
 * benchmark can say what a launch costs the whole machine, not only its own process. On a small
 * machine (two cores carry the benchmark, Redis, the sandbox and the caller) that sum, not one
 * process's share, is what bounds saturated throughput, and so `vsBareBullmq`.
 */
import { readFile } from 'node:fs/promises';
import type { Redis } from 'ioredis';

/** A process whose CPU time is read before and after each round: cumulative ms, undefined if unknown. */
export interface CpuSource {
  name: string;
  read(): Promise<number | undefined>;
}

/**
 * Linux reports utime and stime in clock ticks of USER_HZ, which the kernel fixes at 100 for user
 * space on every architecture Node runs on (sysconf(_SC_CLK_TCK), not readable from Node).
 */
const USER_HZ = 100;

/**
 * CPU ms (user + system) from the text of /proc/<pid>/stat: fields 14 and 15, counted after the
 * command name's closing parenthesis (a name may itself hold spaces and parentheses).
 */
export function cpuMsFromProcStat(text: string, ticksPerSecond = USER_HZ): number | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  // After ") " come field 3 (state) onwards: utime is field 14, stime field 15.
  const fields = text.slice(close + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return ((utime + stime) * 1000) / ticksPerSecond;
}

/** Redis's own CPU ms (every thread, every client) from `INFO cpu`: used_cpu_user + used_cpu_sys. */
export function redisCpuMsFromInfo(text: string): number | undefined {
  const field = (name: string) => {
    const match = new RegExp(`^${name}:([0-9.]+)\\s*$`, 'm').exec(text);
    return match ? Number(match[1]) : Number.NaN;
  };
  const seconds = field('used_cpu_user') + field('used_cpu_sys');
  return Number.isFinite(seconds) ? seconds * 1000 : undefined;
}

/** A child process's CPU from /proc; undefined off Linux or once it has exited. */
export function processCpu(name: string, pid: number | undefined): CpuSource {
  return {
    name,
    read: async () => {
      if (pid === undefined) return undefined;
      try {
        return cpuMsFromProcStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        return undefined;
      }
    },
  };
}

/** The Redis server's CPU through INFO (so a remote Redis counts too). */
export function redisCpu(redis: Redis): CpuSource {
  return {
    name: 'Redis',
    read: async () => {
      try {
        return redisCpuMsFromInfo(await redis.info('cpu'));
      } catch {
        return undefined;
      }
    },
  };
}

/** Cumulative readings of several sources at one moment. */
export type CpuReadings = Map<string, number | undefined>;

export async function readAll(sources: readonly CpuSource[]): Promise<CpuReadings> {
  const values = await Promise.all(sources.map((s) => s.read()));
  return new Map(sources.map((s, i) => [s.name, values[i]]));
}

/**
 * Each source's CPU ms per launch between two readings; a source unknown at either end is left out,
 * so a partial figure never passes for a whole one (the caller checks every name is present).
 */
export function perLaunch(before: CpuReadings, after: CpuReadings, launches: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const [name, end] of after) {
    const start = before.get(name);
    if (start === undefined || end === undefined || launches <= 0) continue;
    out.set(name, (end - start) / launches);
  }
  return out;
}

/**
 * What one round cost every process that worked on it, per launch: this process's CPU plus each
 * expected other's; undefined when any expected process was not read at both ends, so a partial sum
 * never passes for the whole.
 */
export function roundTotal(
  selfMs: number,
  others: ReadonlyMap<string, number>,
  expected: readonly string[],
): number | undefined {
  let total = selfMs;
  for (const name of expected) {
    const ms = others.get(name);
    if (ms === undefined) return undefined;
    total += ms;
  }
  return total;
}
