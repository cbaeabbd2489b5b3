import type { Job, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditStoreFor } from '../../src/shared/audit/trail.js';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import type { CxoneApi } from '../../src/shared/cxone/api.js';
import { CXONE_ENDPOINTS } from '../../src/shared/cxone/wire.js';
import { getCommand } from '../../src/shared/lifecycle/enqueue.js';
import { createAdjustWorker } from '../../src/workers/adjust-worker.js';
import type { EventPublisherStore } from '../../src/shared/events/publisher.js';
import { activateJobId } from '../../src/shared/jobs.js';
import { createLaunchStore } from '../../src/shared/launch-store.js';
import { finishGivenUpLaunch, processLaunch } from '../../src/workers/launch-worker.js';
import { sandboxStatus, startStack, waitFor, type Stack } from '../e2e/stack.js';
import { scriptFaults } from '../support/sandbox-faults.js';
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
  /** Runs once, right after the next command job was queued and before its enqueuer sees it. */
  let afterCommandQueued: ((commandId: string) => Promise<void>) | undefined;

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
        queues: {
          ...ctx.queues,
          adjust: Object.assign(Object.create(ctx.queues.adjust) as typeof ctx.queues.adjust, {
            add: async (...args: Parameters<typeof ctx.queues.adjust.add>) => {
              const job = await ctx.queues.adjust.add(...args);
              const hook = afterCommandQueued;
              afterCommandQueued = undefined;
              await hook?.(String(job.id));
              return job;
            },
          }),
        },
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
    // Hung right after CXone created the campaign, before recording it on the launch; the failure's
    // own ask for the create (with the launch's key) goes unanswered, so it never hears of the campaign.
    afterCreate = async () => {
      await scriptFaults(stack.sandbox, {
        failNext: 1,
        status: 503,
        endpoint: CXONE_ENDPOINTS.createCampaign,
      });
      expect(await finishGivenUpLaunch(deps, givenUp(job), stalled)).toBe(true);
      expect((await launches.get(launchId))?.cleanupError).toContain('CXone may have created the campaign');
    };

    const result = await run(job);

    expect(result).toMatchObject({ outcome: 'skipped' });
    const record = await launches.get(launchId);
    expect(record).toMatchObject({ status: 'failed', cancelled: true, campaignStatus: 'cancelled' });
    expect(record?.error).toMatch(/given up/);
    // Found after all: the launch no longer says one may exist.
    expect(record?.cleanupError).toBeUndefined();
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

  it('cannot record its campaign once a failure has claimed the launch, and cancels it; the failure then finishes', async () => {
    const { launchId, job } = await lastAttemptLaunch(stack.ctx);
    const launches = createLaunchStore(stack.ctx);
    const deps = { ctx: stack.ctx, launches, campaigns: createCampaignStore(stack.ctx) };
    // The given-up handler has claimed the launch (no campaign named yet) and not yet recorded it.
    afterCreate = async () => {
      expect(await launches.claimFailure(launchId, 'the launch job was given up: stalled')).toMatchObject({
        kind: 'claimed',
      });
    };

    expect(await run(job)).toMatchObject({ outcome: 'skipped' });
    const between = await launches.get(launchId);
    const campaignId = String(between?.campaignId);
    expect(sandboxStatus(stack.sandbox, campaignId)).toBe('cancelled');

    // The failure goes on (here: the given-up handler seeing the claim) and records the launch.
    expect(await finishGivenUpLaunch(deps, givenUp(job), stalled)).toBe(true);
    const record = await launches.get(launchId);
    expect(record).toMatchObject({
      status: 'failed',
      campaignId,
      cancelled: true,
      campaignStatus: 'cancelled',
    });
    expect(record?.error).toBe('the launch job was given up: stalled');
    expect(record?.failing).toBeUndefined();
    expect(await launches.launchOfCampaign(campaignId)).toBeNull();
  });

  it('cannot record a success once a failure has claimed the launch; the failure cancels the campaign', async () => {
    const { launchId, job } = await lastAttemptLaunch(stack.ctx);
    const launches = createLaunchStore(stack.ctx);
    const deps = { ctx: stack.ctx, launches, campaigns: createCampaignStore(stack.ctx) };
    // Claimed after the schedule PATCH, while the failure still has its cleanup and record to do.
    afterUpdate = async () => {
      expect(await launches.claimFailure(launchId, 'the launch job was given up: stalled')).toMatchObject({
        kind: 'claimed',
        campaignId: expect.any(String),
      });
    };

    expect(await run(job)).toMatchObject({ outcome: 'skipped' });
    expect(await finishGivenUpLaunch(deps, givenUp(job), stalled)).toBe(true);

    const record = await launches.get(launchId);
    expect(record).toMatchObject({ status: 'failed', cancelled: true, campaignStatus: 'cancelled' });
    const campaignId = String(record?.campaignId);
    expect(sandboxStatus(stack.sandbox, campaignId)).toBe('cancelled');
    const events = await (stack.ctx.events as EventPublisherStore).recent(200, campaignId);
    expect(events.map((e) => e.type)).not.toContain('campaign.launch.succeeded');
    expect(await stack.ctx.queues.launch.getJob(activateJobId(campaignId))).toBeUndefined();
  });

  it('finishes a claimed failure when the job is redelivered after its worker stopped half-way', async () => {
    const { launchId, job } = await lastAttemptLaunch(stack.ctx);
    const launches = createLaunchStore(stack.ctx);
    await launches.begin(launchId);
    await launches.claimFailure(launchId, 'CXone answered 503 (gave up after 5 attempts)');

    await expect(run(job)).rejects.toThrow(/failed: CXone answered 503/);
    expect(await launches.get(launchId)).toMatchObject({
      status: 'failed',
      error: 'CXone answered 503 (gave up after 5 attempts)',
    });
  });

  it('notes on the launch a cleanup stop that went through before the late campaign was named', async () => {
    const { launchId, job } = await lastAttemptLaunch(stack.ctx);
    const launches = createLaunchStore(stack.ctx);
    const deps = { ctx: stack.ctx, launches, campaigns: createCampaignStore(stack.ctx) };
    afterCreate = async () => {
      // The failure's own ask for the create goes unanswered: it never hears of the campaign.
      await scriptFaults(stack.sandbox, {
        failNext: 1,
        status: 503,
        endpoint: CXONE_ENDPOINTS.createCampaign,
      });
      expect(await finishGivenUpLaunch(deps, givenUp(job), stalled)).toBe(true);
      // The late run's cancel gets a 503, so it queues a stop instead…
      await scriptFaults(stack.sandbox, {
        failNext: 1,
        status: 503,
        endpoint: CXONE_ENDPOINTS.updateCampaign,
      });
    };
    // …which an adjust worker carries out before the late run has named the campaign on the launch.
    let adjust: Worker | undefined;
    afterCommandQueued = async (commandId) => {
      adjust = createAdjustWorker(stack.ctx);
      await waitFor('the stop to go through', async () =>
        (await getCommand(stack.ctx, commandId))?.status === 'succeeded' ? true : undefined,
      );
    };
    try {
      expect(await run(job)).toMatchObject({ outcome: 'skipped' });
    } finally {
      await adjust?.close();
    }

    const record = await launches.get(launchId);
    expect(record).toMatchObject({ status: 'failed', cancelled: true, campaignStatus: 'cancelled' });
    expect(record?.cancelCommandId).toBeUndefined();
    expect(sandboxStatus(stack.sandbox, String(record?.campaignId))).toBe('cancelled');
    expect(await launches.launchOfCampaign(String(record?.campaignId))).toBeNull();
  });
});
