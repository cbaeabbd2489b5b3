import type { AppContext } from '../shared/context.js';
import { createLaunchStore, type LaunchRecord } from '../shared/launch-store.js';

/**
 * Whether a launch not recorded as finished still has a job that will finish it. A job BullMQ gave up
 * on (stalled too often, or removed by hand) never records an outcome: its campaign must not read as
 * being launched for as long as the launch record lives.
 */
async function launchJobAlive(ctx: AppContext, launchId: string): Promise<boolean> {
  const job = await ctx.queues.launch.getJob(launchId);
  if (!job) return false;
  return (await job.getState()) !== 'failed';
}

/** The launch, when it is still under way (not finished, its job alive); null otherwise. */
export async function launchInProgress(ctx: AppContext, launchId: string): Promise<LaunchRecord | null> {
  const launches = createLaunchStore(ctx);
  const launch = await launches.get(launchId);
  if (!launch || launches.isTerminal(launch)) return null;
  return (await launchJobAlive(ctx, launchId)) ? launch : null;
}
