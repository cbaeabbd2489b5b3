import { expect } from 'vitest';
import type { CampaignConfig } from '../../src/shared/campaign-config.js';
import { campaignConfigSchema } from '../../src/shared/campaign-schema.js';
import { windowJobId } from '../../src/shared/compliance/enforcement.js';
import type { AppContext } from '../../src/shared/context.js';
import { toCreateCampaignRequest } from '../../src/shared/cxone/to-wire.js';
import { runPollCycle } from '../../src/shared/polling/poll-cycle.js';
import { listPolledCampaigns, pollSchedulerId } from '../../src/shared/polling/schedulers.js';
import { campaignConfig } from '../e2e/stack.js';
import { succeededLaunch } from './activation-job.js';
import { launchDeps } from './last-attempt.js';

/**
 * Asserts a campaign is watched as every campaign the orchestrator runs: its statistics poll scheduler
 * and its calling-window job are in Redis, and a poll of it (as its scheduler's job runs one: the
 * statistics read, the abandonment guard, pacing) goes through.
 */
export async function expectWatched(ctx: AppContext, campaignId: string): Promise<void> {
  expect(
    await ctx.queues.poll.getJobScheduler(pollSchedulerId(campaignId)),
    'its poll scheduler',
  ).toBeTruthy();
  expect((await listPolledCampaigns(ctx)).has(campaignId), 'among the polled campaigns').toBe(true);
  expect(await ctx.queues.compliance.getJob(windowJobId(campaignId)), 'its calling-window job').toBeTruthy();
  expect(await runPollCycle(ctx, campaignId)).toMatchObject({ kind: 'polled' });
}

/**
 * A campaign scheduled on the sandbox with its succeeded launch and its record, as a launch leaves
 * one whose start is still to come. `activationNoted`: the record also notes an activating write
 * sent on the scheduled version, as a run whose write went out leaves it.
 */
export async function scheduledWithRecord(
  ctx: AppContext,
  opts: { config?: CampaignConfig; activationNoted?: boolean } = {},
) {
  const config = opts.config ?? campaignConfigSchema.parse(campaignConfig());
  const created = await ctx.cxone.createCampaign(toCreateCampaignRequest(config));
  const scheduled = await ctx.cxone.updateCampaign(created.id, created.version, { status: 'scheduled' });
  const launchId = await succeededLaunch(ctx, created.id);
  const deps = launchDeps(ctx);
  await deps.campaigns.syncFromCxone(
    scheduled,
    opts.activationNoted ? { config, launchId, activationSent: scheduled.version } : { config, launchId },
  );
  return { config, created, scheduled, launchId, deps };
}
