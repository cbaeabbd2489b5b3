import type { AppContext } from '../shared/context.js';
import { createLaunchStore, type LaunchRecord } from '../shared/launch-store.js';
import { ApiError } from './errors.js';

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

/**
 * The 404 for a campaign this orchestrator has no record of: one CXone has created for a launch still
 * under way (GET /v1/launches shows its id before the launch writes the record) is named as coming,
 * with the launch to follow, so a client that took the id from there hears it is not unknown.
 * (Read after the record, the marker may be gone for a launch that just wrote it: a plain 404 then,
 * which the retry the client makes anyway answers.)
 */
export async function campaignNotKnown(ctx: AppContext, campaignId: string): Promise<ApiError> {
  const marker = await createLaunchStore(ctx).launchOfCampaign(campaignId);
  const launch = marker ? await launchInProgress(ctx, marker) : null;
  if (launch) {
    return new ApiError(
      404,
      'not_found',
      `campaign ${campaignId} is still being launched (launch ${launch.launchId} is ${launch.status}); retry once GET /v1/launches/${launch.launchId} shows it finished`,
      { launchId: launch.launchId },
    );
  }
  return new ApiError(404, 'not_found', `campaign ${campaignId} is not known to this orchestrator`);
}
