import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditStoreFor } from '../../src/shared/audit/trail.js';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import type { CxoneApi } from '../../src/shared/cxone/api.js';
import type { EventPublisherStore } from '../../src/shared/events/publisher.js';
import { activateJobId } from '../../src/shared/jobs.js';
import { createLaunchStore } from '../../src/shared/launch-store.js';
import { finishGivenUpLaunch, processLaunch } from '../../src/workers/launch-worker.js';
import { sandboxStatus, startStack, type Stack } from '../e2e/stack.js';
import { lastAttemptLaunch } from './last-attempt.js';

/**
 * A launch run that hung (not died) past BullMQ's stall limit: BullMQ gave the job up, and the
 * given-up handler recorded the launch failed and cleaned up what it knew of. Then the hung run wakes
 * and carries on. It must not turn the failed launch into a succeeded one, and a campaign it created
 * that the failure never heard of must not be left running. Real Redis and the sandbox over HTTP; the
 * given-up handler is run by the test at the moment the hung run is stuck in a CXone call.
 */
describe('a launch run that wakes after its job was given up', () => {
  let stack: Stack;
  /** Runs once, right after the next CXone call of this kind answered and before the run sees it. */
  let afterCreate: (() => Promise<void>) | undefined;
  let afterUpdate: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    stack = await startStack({
      api: false,
      ctxOverrides: (ctx) => ({
        cxone: {
          ...ctx.cxone,
          createCampaign: async (...args: Parameters<CxoneApi['createCampaign']>) => {
            const created = await ctx.cxone.createCampaign(...args);
            const hang = afterCreate;
            afterCreate = undefined;
            await hang?.();
            return created;
          },
          updateCampaign: async (...args: Parameters<CxoneApi['updateCampaign']>) => {
            const written = await ctx.cxone.updateCampaign(...args);
            const hang = afterUpdate;
            afterUpdate = undefined;
            await hang?.();
            return written;
          },
        } as CxoneApi,
      }),
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const stalled = new Error('job stalled more than allowable limit');
  const givenUp = (job: Job) =>
    Object.assign(Object.create(job) as Job, { getState: async () => 'failed' as const });

  async function run(job: Job) {
    const launches = createLaunchStore(stack.ctx);
    const deps = { ctx: stack.ctx, launches, campaigns: createCampaignStore(stack.ctx), lockMs: 30_000 };
    return processLaunch(deps, job);
  }

  it('cancels the campaign it created that the failed launch never recorded, and names it there', async () => {
    const { launchId, job } = await lastAttemptLaunch(stack.ctx);
    const launches = createLaunchStore(stack.ctx);
    const deps = { ctx: stack.ctx, launches, campaigns: createCampaignStore(stack.ctx) };
    // Hung right after CXone created the campaign, before recording it on the launch.
    afterCreate = async () => {
      expect(await finishGivenUpLaunch(deps, givenUp(job), stalled)).toBe(true);
    };

    const result = await run(job);

    expect(result).toMatchObject({ outcome: 'skipped' });
    const record = await launches.get(launchId);
    expect(record).toMatchObject({ status: 'failed', cancelled: true, campaignStatus: 'cancelled' });
    expect(record?.error).toMatch(/given up/);
    const campaignId = String(record?.campaignId);
    expect(sandboxStatus(stack.sandbox, campaignId)).toBe('cancelled');
    expect(await launches.launchOfCampaign(campaignId)).toBeNull();
    const trail = await auditStoreFor(stack.ctx).list(campaignId);
    expect(trail.map((r) => [r.action, r.details.to])).toContainEqual(['state_changed', 'cancelled']);
  });

  it('leaves the launch failed and does not announce a success once the failure cancelled its campaign', async () => {
    const { launchId, job } = await lastAttemptLaunch(stack.ctx);
    const launches = createLaunchStore(stack.ctx);
    const deps = { ctx: stack.ctx, launches, campaigns: createCampaignStore(stack.ctx) };
    // Hung right after the schedule PATCH answered; the failure cancels the campaign meanwhile.
    afterUpdate = async () => {
      expect(await finishGivenUpLaunch(deps, givenUp(job), stalled)).toBe(true);
    };

    const result = await run(job);

    expect(result).toMatchObject({ outcome: 'skipped' });
    const record = await launches.get(launchId);
    expect(record).toMatchObject({ status: 'failed', cancelled: true, campaignStatus: 'cancelled' });
    const campaignId = String(record?.campaignId);
    expect(sandboxStatus(stack.sandbox, campaignId)).toBe('cancelled');
    expect(await launches.launchOfCampaign(campaignId)).toBeNull();
    const events = await (stack.ctx.events as EventPublisherStore).recent(200, campaignId);
    expect(events.map((e) => e.type)).toContain('campaign.launch.failed');
    expect(events.map((e) => e.type)).not.toContain('campaign.launch.succeeded');
    // Nor is an activation left waiting for the campaign the failure ended.
    expect(await stack.ctx.queues.launch.getJob(activateJobId(campaignId))).toBeUndefined();
  });
});
