import { expect } from 'vitest';
import { windowJobId } from '../../src/shared/compliance/enforcement.js';
import type { AppContext } from '../../src/shared/context.js';
import { runPollCycle } from '../../src/shared/polling/poll-cycle.js';
import { listPolledCampaigns, pollSchedulerId } from '../../src/shared/polling/schedulers.js';

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
