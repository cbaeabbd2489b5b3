import type { Job, Queue } from 'bullmq';
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { submitLaunch } from '../../src/producers/launch-submit.js';
import type { AuditTrailStore } from '../../src/shared/audit/trail.js';
import { campaignConfigSchema } from '../../src/shared/campaign-schema.js';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import { CxoneValidationError } from '../../src/shared/errors.js';
import type { EventPublisherStore } from '../../src/shared/events/publisher.js';
import { createLaunchStore, launchAuditId, type LaunchStore } from '../../src/shared/launch-store.js';
import { processLaunch } from '../../src/workers/launch-worker.js';
import { campaignConfig, startStack, type Stack } from '../e2e/stack.js';
import { launchDeps } from './last-attempt.js';

/**
 * A launch's trail is written ahead of the steps that depend on it. Its request is audited before
 * the job is enqueued, so no worker can append to the trail first; and a launch the API shows as
 * finished has its audit records: they are written before the launch record is marked succeeded or
 * failed, so neither a client reading the trail right after the launch finished nor a worker killed
 * between the two writes can leave a finished launch without them (a redelivery before `finish`
 * writes them again, once, by their dedupe keys). The job runs here through `processLaunch`, with a
 * launch store whose `finish` and a queue whose `add` first read the trail.
 */
describe('launch records finish after their audit records', () => {
  let stack: Stack;
  let launchQueue: Queue;
  let refuseCreates = false;
  /** Job id → the launch trail's actions when the job was added. */
  const trailAtEnqueue = new Map<string, string[]>();
  beforeAll(async () => {
    stack = await startStack({
      api: false,
      ctxOverrides: (ctx) => ({
        queues: {
          ...ctx.queues,
          launch: Object.assign(Object.create(ctx.queues.launch) as Queue, {
            add: async (...args: Parameters<Queue['add']>) => {
              const jobId = String(args[2]?.jobId);
              const trail = await (ctx.audit as AuditTrailStore).list(launchAuditId(jobId));
              trailAtEnqueue.set(
                jobId,
                trail.map((r) => r.action),
              );
              return ctx.queues.launch.add(...args);
            },
          }),
        },
        cxone: {
          ...ctx.cxone,
          createCampaign: (body, opts) =>
            refuseCreates
              ? Promise.reject(
                  new CxoneValidationError([{ field: 'name', message: 'test: refused' }], {
                    endpoint: 'POST /api/v2/campaigns',
                    status: 422,
                  }),
                )
              : ctx.cxone.createCampaign(body, opts),
        },
      }),
    });
    launchQueue = stack.ctx.queues.launch;
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('audits the request before the job is enqueued', async () => {
    const config = campaignConfigSchema.parse(campaignConfig());
    const { launchId } = await submitLaunch(stack.ctx, { config, actor: 'test' });
    expect(trailAtEnqueue.get(launchId)).toEqual(['launch_requested']);
    expect(await launchQueue.getJob(launchId)).toBeDefined();
  });

  /** Runs the launch job of a fresh submission; returns what the trail held when `finish` was called. */
  async function launch(startInMs: number): Promise<{ auditedAtFinish: string[]; status?: string }> {
    const config = campaignConfigSchema.parse(
      campaignConfig({ startDateTime: DateTime.now().plus({ milliseconds: startInMs }).toISO() ?? '' }),
    );
    const { launchId } = await submitLaunch(stack.ctx, { config, actor: 'test' });
    const job = (await launchQueue.getJob(launchId)) as Job;
    const store = createLaunchStore(stack.ctx);
    const audit = stack.ctx.audit as AuditTrailStore;
    let auditedAtFinish: string[] = [];
    const launches = Object.assign(Object.create(store) as LaunchStore, {
      finish: async (...args: Parameters<LaunchStore['finish']>) => {
        const [id, fields] = args;
        const trail = fields.campaignId ?? (await store.get(id))?.campaignId ?? launchAuditId(id);
        auditedAtFinish = (await audit.list(trail)).map((r) => r.action);
        // With its event (written by the same script).
        return store.finish(...args);
      },
    });
    await processLaunch(
      { ctx: stack.ctx, launches, campaigns: createCampaignStore(stack.ctx), lockMs: 30_000 },
      job,
    ).catch(() => undefined);
    return { auditedAtFinish, status: (await store.get(launchId))?.status };
  }

  it.each([
    ['an hour away (activation job added alongside the records)', 3_600_000],
    // Under the 5 s from which the job is added alongside, yet far enough that the launch reaches its
    // plan before the start on a loaded machine (with 2 s, a slow one found it passed and activated).
    ['4.5 s away (activation job added after them)', 4_500],
  ])('a scheduled launch whose start is %s', async (_, startInMs) => {
    const { auditedAtFinish, status } = await launch(startInMs);
    expect(status).toBe('succeeded');
    expect(auditedAtFinish).toEqual(['campaign_created', 'state_changed']);
  });

  it('a launch CXone refuses for good whose record is gone (deleted by hand) is still announced failed', async () => {
    const config = campaignConfigSchema.parse(campaignConfig({ name: 'Record gone' }));
    const { launchId } = await submitLaunch(stack.ctx, { config, actor: 'test' });
    const job = (await launchQueue.getJob(launchId)) as Job;
    await stack.redis.del(stack.ctx.keys.launch(launchId));
    refuseCreates = true;
    try {
      await processLaunch(launchDeps(stack.ctx), job).catch(() => undefined);
    } finally {
      refuseCreates = false;
    }
    // finish refuses the missing record and the event it carried; the failure is published after it.
    const announced = (await (stack.ctx.events as EventPublisherStore).recent(50))
      .filter((e) => e.data.launchId === launchId)
      .map((e) => e.type);
    expect(announced.sort()).toEqual(['campaign.launch.failed', 'campaign.launch.requested']);
    expect(await stack.redis.exists(stack.ctx.keys.launch(launchId))).toBe(0);
  });

  it('a launch CXone refuses for good', async () => {
    refuseCreates = true;
    try {
      const { auditedAtFinish, status } = await launch(3_600_000);
      expect(status).toBe('failed');
      expect(auditedAtFinish).toEqual(['launch_requested', 'launch_failed']);
    } finally {
      refuseCreates = false;
    }
  });
});
