import { randomUUID } from 'node:crypto';
import type { Job } from 'bullmq';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import type { AppContext } from '../../src/shared/context.js';
import { createLaunchStore } from '../../src/shared/launch-store.js';

/**
 * An `activate` job to hand processActivate directly: its moves to delayed are recorded in
 * `delayedTo` instead of reaching BullMQ, and what a run saves in its data stays on the object.
 */
export function fakeActivationJob(campaignId: string, launchId: string): { job: Job; delayedTo: number[] } {
  const delayedTo: number[] = [];
  const job = {
    id: `activate-${campaignId}`,
    data: { launchId, campaignId, actor: 'api:test' },
    attemptsMade: 0,
    opts: { attempts: 10 },
    moveToDelayed: async (at: number) => void delayedTo.push(at),
    // As BullMQ's: a later run of the same job object reads what an earlier one saved.
    async updateData(data: unknown) {
      (this as { data: unknown }).data = data;
    },
  } as unknown as Job;
  return { job, delayedTo };
}

/** The launch worker's dependencies over a test context. */
export function launchWorkerDeps(ctx: AppContext) {
  return {
    ctx,
    launches: createLaunchStore(ctx),
    campaigns: createCampaignStore(ctx),
    lockMs: 30_000,
  };
}

/** A launch that has scheduled `campaignId` and finished, as the launch worker leaves it; its id. */
export async function succeededLaunch(ctx: AppContext, campaignId: string): Promise<string> {
  const launches = createLaunchStore(ctx);
  const launchId = randomUUID();
  await launches.create({ launchId, actor: 'api:test', name: 'x', requestedAt: new Date().toISOString() });
  await launches.finish(launchId, { status: 'succeeded', campaignId, campaignStatus: 'scheduled' });
  return launchId;
}
