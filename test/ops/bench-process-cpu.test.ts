import { afterAll, describe, expect, it } from 'vitest';
import {
  cpuMsFromProcStat,
  perLaunch,
  processCpu,
  redisCpu,
  redisCpuMsFromInfo,
  roundTotal,
} from '../../bench/fleet/process-cpu.js';
import { createRedis } from '../../src/shared/redis.js';

describe('fleet benchmark: CPU of the other processes (pure)', () => {
  it('reads utime + stime from /proc/<pid>/stat, past a command name with spaces and parentheses', () => {
    // Fields 14 and 15 (utime 250, stime 37 ticks); the name would shift a naive split by two.
    const stat =
      '4242 (node (sand box)) S 1 4242 4242 0 -1 4194560 9876 0 12 0 250 37 0 0 20 0 11 0 5000 1200000000 30000';
    expect(cpuMsFromProcStat(stat)).toBe(2870);
    expect(cpuMsFromProcStat(stat, 1000)).toBe(287);
    expect(cpuMsFromProcStat('garbage')).toBeUndefined();
    expect(cpuMsFromProcStat('1 (x) S 1 2')).toBeUndefined();
  });

  it("reads Redis's own CPU from INFO cpu, user plus system", () => {
    const info = '# CPU\r\nused_cpu_sys:1.500000\r\nused_cpu_user:2.250000\r\nused_cpu_sys_children:9.0\r\n';
    expect(redisCpuMsFromInfo(info)).toBe(3750);
    expect(redisCpuMsFromInfo('# CPU\r\nused_cpu_user:2.0\r\n')).toBeUndefined();
  });

  it('gives each process its CPU per launch, leaving out one not read at both ends', () => {
    const before = new Map<string, number | undefined>([
      ['Redis', 1000],
      ['sandbox', 500],
      ['caller', undefined],
    ]);
    const after = new Map<string, number | undefined>([
      ['Redis', 1400],
      ['sandbox', 700],
      ['caller', 90],
    ]);
    expect(Object.fromEntries(perLaunch(before, after, 400))).toEqual({ Redis: 1, sandbox: 0.5 });
    const round = perLaunch(before, after, 400);
    expect(roundTotal(1.25, round, ['Redis', 'sandbox'])).toBe(2.75);
    // The caller was not read at both ends: no total rather than a partial one.
    expect(roundTotal(1.25, round, ['Redis', 'sandbox', 'caller'])).toBeUndefined();
  });
});

describe('fleet benchmark: CPU of the other processes (real readings)', () => {
  const redis = createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  afterAll(() => redis.disconnect());

  it.runIf(process.platform === 'linux')(
    "reads a live process's CPU from /proc, and nothing once it is gone",
    async () => {
      const self = processCpu('self', process.pid);
      const start = (await self.read()) as number;
      expect(start).toBeGreaterThan(0);
      // Burn 60 ms of CPU (not of wall clock, which a busy machine may give to others).
      const cpuBefore = process.cpuUsage();
      while (process.cpuUsage(cpuBefore).user < 60_000) Math.sqrt(Math.random());
      // /proc counts in 10 ms ticks.
      expect(await self.read()).toBeGreaterThanOrEqual(start + 40);
      expect(await processCpu('gone', 2 ** 22 + 12_345).read()).toBeUndefined();
      expect(await processCpu('never started', undefined).read()).toBeUndefined();
    },
  );

  it("reads the Redis server's CPU through INFO", async () => {
    const ms = await redisCpu(redis).read();
    expect(ms).toBeGreaterThan(0);
  });
});
