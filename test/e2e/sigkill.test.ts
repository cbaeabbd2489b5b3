import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AuditTrailStore } from '../../src/shared/audit/trail.js';
import { createLaunchStore } from '../../src/shared/launch-store.js';
import { createLaunchWorker } from '../../src/workers/launch-worker.js';
import { startWorkers, type RunningWorkers } from '../../src/workers/index.js';
import { recordingLogger } from '../support/log-capture.js';
import {
  api,
  campaignConfig,
  FAST_LOCKS,
  sandboxStatus,
  startStack,
  testEnv,
  waitFor,
  waitForLaunch,
  type Stack,
} from './stack.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/held-launch-worker-process.ts', import.meta.url));

/**
 * Exactly-once creation (issue 3, item 5): a worker SIGKILLed after CXone created the campaign but
 * before the job completed must not create a second campaign when the job runs again elsewhere.
 */
describe('a launch worker killed mid-launch', () => {
  let stack: Stack;
  /** Every worker process started, each held (taking no job) until its test tells it to run. */
  const workers: ChildProcess[] = [];
  /** Each test's worker process; the second's starts while the first test runs. */
  let first: ChildProcess;
  let second: Promise<ChildProcess> | undefined;
  let rescuer: RunningWorkers | undefined;

  // One stack for both tests. A worker process takes seconds of CPU to start: the second test's
  // starts while the first test waits on slow CXone calls and a lock's expiry. Held, it takes no
  // job until its own test, so it cannot touch the first test's launch.
  beforeAll(async () => {
    stack = await startStack();
    first = await spawnWorker();
    second = spawnWorker();
    // Awaited by the second test; a start-up that fails meanwhile is its failure, not an unhandled one.
    second.catch(() => undefined);
  });
  afterEach(async () => {
    await rescuer?.close(2_000);
    rescuer = undefined;
  });
  afterAll(async () => {
    await second?.catch(() => undefined);
    for (const child of workers) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    await rescuer?.close(2_000);
    await stack?.close();
  });

  /** Lets a held worker process take jobs. */
  function run(child: ChildProcess): ChildProcess {
    child.stdin?.write('run\n');
    return child;
  }

  async function spawnWorker(): Promise<ChildProcess> {
    const proc = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
      env: { ...process.env, ...testEnv(stack.prefix, stack.sandbox.url) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    workers.push(proc);
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise<void>((resolve, reject) => {
      proc.stdout?.on('data', (d: Buffer) => {
        if (d.toString().includes('ready')) resolve();
      });
      proc.once('exit', (code) => reject(new Error(`worker process exited early (${code}): ${stderr}`)));
    });
    return proc;
  }

  async function killAndRecover(proc: ChildProcess, launchId: string): Promise<Record<string, unknown>> {
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await exited;
    stack.sandbox.setFaults({ latencyMs: 0 });
    const { logger, lines } = recordingLogger();
    rescuer = await startWorkers({ ...stack.ctx, logger }, [
      ['launch', (c) => createLaunchWorker(c, FAST_LOCKS)],
    ]);
    const launch = await waitForLaunch(stack, launchId, ['succeeded', 'failed'], 20_000);
    // The operator's only clue to why this launch took a lock's length longer: one warning naming it.
    const stalled = lines.filter((l) => l.msg.startsWith('job stalled'));
    expect(stalled).toEqual([expect.objectContaining({ level: 40, worker: 'launch', jobId: launchId })]);
    return launch;
  }

  it('right after CXone created the campaign: the retry finds it by Idempotency-Key', async () => {
    const campaignsBefore = stack.sandbox.campaignCount();
    const child = run(first);
    // Every sandbox call now takes 1.5 s, so the kill lands between the create and the next call.
    stack.sandbox.setFaults({ latencyMs: 1_500 });
    const reply = await api(stack, 'POST', '/v1/campaigns', {
      body: campaignConfig({ name: 'Killed early' }),
    });
    const launchId = String(reply.body.launchId);
    await waitFor(
      'the create to reach CXone',
      async () => stack.sandbox.campaignCount() === campaignsBefore + 1,
      15_000,
      5,
    );

    const launch = await killAndRecover(child, launchId);
    expect(launch.status).toBe('succeeded');
    expect(stack.sandbox.campaignCount()).toBe(campaignsBefore + 1);
    expect(sandboxStatus(stack.sandbox, String(launch.campaignId))).toBe('active');
    // The audit trail tells the story once, however many runs it took (the default config is
    // activated at its safe start rate: one pacing_decision).
    const actions = (await (stack.ctx.audit as AuditTrailStore).list(String(launch.campaignId))).map(
      (r) => r.action,
    );
    expect(actions).toEqual(['campaign_created', 'campaign_launched', 'pacing_decision']);
  });

  it('after the campaign id was recorded: the retry reads the campaign instead of creating', async () => {
    const campaignsBefore = stack.sandbox.campaignCount();
    const child = run(await (second ?? spawnWorker()));
    stack.sandbox.setFaults({ latencyMs: 1_500 });
    const reply = await api(stack, 'POST', '/v1/campaigns', {
      body: campaignConfig({ name: 'Killed late' }),
    });
    const launchId = String(reply.body.launchId);
    const launches = createLaunchStore(stack.ctx);
    const recorded = await waitFor(
      'the campaign id in the launch record',
      async () => (await launches.get(launchId))?.campaignId,
      15_000,
      5,
    );

    const launch = await killAndRecover(child, launchId);
    expect(launch).toMatchObject({ status: 'succeeded', campaignId: recorded });
    expect(stack.sandbox.campaignCount()).toBe(campaignsBefore + 1);
    expect(sandboxStatus(stack.sandbox, recorded)).toBe('active');
    const actions = (await (stack.ctx.audit as AuditTrailStore).list(recorded)).map((r) => r.action);
    expect(actions).toEqual(['campaign_created', 'campaign_launched', 'pacing_decision']);
  });
});
