import { Worker } from 'bullmq';
import type { AppContext } from '../../src/shared/context.js';
import { QUEUES } from '../../src/shared/keys.js';
import { createLaunchStore, type LaunchRecord } from '../../src/shared/launch-store.js';
import { withLaunchSweep } from '../../src/workers/launch-sweep.js';
import { createLaunchWorker } from '../../src/workers/launch-worker.js';
import { FAST_LOCKS, waitFor } from '../e2e/stack.js';

/**
 * A worker on the launch queue that takes the next job and holds it active until `release` is called:
 * a launch job a worker is still running. Added to `workers` (the test's afterEach closes them), and
 * returned once `launchId`'s job is active.
 */
export async function holdLaunchJob(
  ctx: AppContext,
  launchId: string,
  workers: Worker[],
): Promise<{ holder: Worker; release: () => void }> {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const holder = new Worker(QUEUES.launch, () => gate, {
    connection: ctx.redis,
    prefix: ctx.keys.prefix,
    concurrency: 1,
  });
  workers.push(holder);
  await waitFor(
    'the job to be active',
    async () => (await ctx.queues.launch.getJobState(launchId)) === 'active',
  );
  return { holder, release };
}

/**
 * Runs the launch sweep beside a launch worker (added to `workers`) every 100 ms, the grace of the
 * `index` sweep (`lost`: the queued-launch index; `running`: the running-launch index) at 0, until
 * `launchId` reads failed and the sweep that failed it has reported, then 300 ms more for any later
 * sweep that would settle it again. Returns the failed launch and every launch the `index` sweeps
 * settled meanwhile.
 */
export async function failedByScheduledSweep(
  ctx: AppContext,
  workers: Worker[],
  index: 'lost' | 'running',
  launchId: string,
): Promise<{ launch: LaunchRecord; settled: string[] }> {
  const sweeps: string[][] = [];
  workers.push(
    withLaunchSweep(ctx, createLaunchWorker(ctx, FAST_LOCKS), {
      intervalMs: 100,
      ...(index === 'lost' ? { lostGraceMs: 0 } : { runningGraceMs: 0 }),
      onSwept: (result) => sweeps.push(result[index]?.settled ?? []),
    }),
  );
  const launch = await waitFor('the sweep to fail the launch', async () => {
    const l = await createLaunchStore(ctx).get(launchId);
    return l?.status === 'failed' ? l : undefined;
  });
  // The sweep that failed it reports once its whole pass is done, which a loaded machine can hold
  // past the 300 ms below: waited for, so the later sweeps are the only ones the pause is for.
  await waitFor('the sweep that failed it to report', async () => sweeps.flat().includes(launchId));
  await new Promise((r) => setTimeout(r, 300));
  return { launch, settled: sweeps.flat() };
}
