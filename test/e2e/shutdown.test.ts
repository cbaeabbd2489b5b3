import { afterEach, describe, expect, it } from 'vitest';
import { createLaunchStore } from '../../src/shared/launch-store.js';
import { startWorkers } from '../../src/workers/index.js';
import { createLaunchWorker } from '../../src/workers/launch-worker.js';
import { api, campaignConfig, FAST_LOCKS, startStack, waitFor, type Stack } from './stack.js';

/** Shutdown: stop taking jobs, let the active one finish within the bound, force after it. */
describe('worker shutdown', () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  async function launchInFlight(s: Stack) {
    const workers = await startWorkers(s.ctx, [['launch', (c) => createLaunchWorker(c, FAST_LOCKS)]]);
    s.sandbox.setFaults({ latencyMs: 700 });
    const reply = await api(s, 'POST', '/v1/campaigns', { body: campaignConfig({ name: 'Draining' }) });
    const launchId = String(reply.body.launchId);
    await waitFor(
      'the launch to be running',
      async () => (await createLaunchStore(s.ctx).get(launchId))?.status === 'running',
    );
    return { workers, launchId };
  }

  it('waits for the active launch to finish when it fits in the bound', async () => {
    stack = await startStack();
    const { workers, launchId } = await launchInFlight(stack);
    const closing = workers.close(15_000);
    // The launch is mid-call when the close begins; the calls after that one need not be slow too.
    stack.sandbox.setFaults({ latencyMs: 0 });
    await closing;
    const launch = await createLaunchStore(stack.ctx).get(launchId);
    expect(launch).toMatchObject({ status: 'succeeded', campaignStatus: 'active' });
  });

  it('gives up after the bound, leaving the job to be redelivered', async () => {
    stack = await startStack();
    const { workers, launchId } = await launchInFlight(stack);
    const started = Date.now();
    await workers.close(300);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect((await createLaunchStore(stack.ctx).get(launchId))?.status).toBe('running');
    // Another worker picks the abandoned job up once its lock expires, and finishes the launch once.
    stack.sandbox.setFaults({ latencyMs: 0 });
    const rescuer = await startWorkers(stack.ctx, [['launch', (c) => createLaunchWorker(c, FAST_LOCKS)]]);
    try {
      await waitFor(
        'the launch to finish elsewhere',
        async () => (await createLaunchStore(stack!.ctx).get(launchId))?.status === 'succeeded',
        20_000,
      );
      expect(stack.sandbox.campaignCount()).toBe(1);
    } finally {
      await rescuer.close(2_000);
    }
  });
});
