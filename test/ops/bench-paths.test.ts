import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBarePath } from '../../bench/fleet/bare.js';
import { measureThroughput, type LaunchPath } from '../../bench/fleet/measure.js';
import { startPipelinePath } from '../../bench/fleet/pipeline.js';
import { startSandboxProcess, type SandboxProcess } from '../../bench/fleet/sandbox-proc.js';
import { REDIS_URL } from './helpers.js';

/**
 * The fleet benchmark's two paths end to end, with their workers in this process and in processes
 * of their own (--split): every submission reaches the sandbox, and a split path counts its
 * worker's CPU with its own.
 */
describe('fleet benchmark paths (real Redis, sandbox process)', () => {
  let sandbox: SandboxProcess;

  beforeAll(async () => {
    sandbox = await startSandboxProcess();
  }, 60_000);

  afterAll(async () => {
    await sandbox?.close();
  });

  const cases: [string, (workerProcess: boolean) => Promise<LaunchPath>][] = [
    [
      'ours',
      (workerProcess) =>
        startPipelinePath({
          redisUrl: REDIS_URL,
          sandboxUrl: sandbox.url,
          workerConcurrency: 4,
          workerProcess,
        }),
    ],
    [
      'bare',
      (workerProcess) =>
        startBarePath({
          redisUrl: REDIS_URL,
          sandboxUrl: sandbox.url,
          workerConcurrency: 4,
          calls: 'launch',
          workerProcess,
        }),
    ],
  ];

  for (const [name, start] of cases) {
    for (const workerProcess of [false, true]) {
      it(`${name}, worker ${workerProcess ? 'in a process of its own' : 'in this process'}`, async () => {
        const path = await start(workerProcess);
        try {
          const before = await sandbox.count();
          const measured = await measureThroughput(path, sandbox, 12, 4, 0);
          expect(await sandbox.count()).toBe(before + 12);
          expect(measured.perSec).toBeGreaterThan(0);
          const sources = (path.cpuSources ?? []).map((s) => s.name);
          expect(sources.includes('worker')).toBe(workerProcess);
          if (workerProcess) expect(measured.otherCpuMsPerLaunch.get('worker')).toBeGreaterThan(0);
        } finally {
          await path.close();
        }
      }, 60_000);
    }
  }
});
