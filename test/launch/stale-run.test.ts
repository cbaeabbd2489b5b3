import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditStoreFor } from '../../src/shared/audit/trail.js';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import type { CxoneApi } from '../../src/shared/cxone/api.js';
import type { LaunchJob } from '../../src/shared/jobs.js';
import { createLaunchStore } from '../../src/shared/launch-store.js';
import { processLaunch } from '../../src/workers/launch-worker.js';
import { patchOnSandbox, startStack, type Stack } from '../e2e/stack.js';
import { lastAttemptLaunch } from './last-attempt.js';

/**
 * A launch run that lost its job to another worker (Redis stalled past the job's lock; BullMQ gave
 * the job to a second worker, which launched the campaign) and then comes back: its next CXone write
 * fails because the campaign moved on, and that failure must not mark the launch failed nor cancel
 * the live campaign. Real Redis and the sandbox over HTTP; the other worker's run is played by the
 * test, between the stale run's create and its schedule.
 */
describe('a launch run that comes back after losing its job', () => {
  let stack: Stack;
  /** Runs once, before the stale run's first PATCH: the other worker's run finishing the launch. */
  let otherRun: ((campaignId: string) => Promise<void>) | undefined;

  beforeAll(async () => {
    stack = await startStack({
      api: false,
      ctxOverrides: (ctx) => ({
        cxone: {
          ...ctx.cxone,
          updateCampaign: async (...args: Parameters<CxoneApi['updateCampaign']>) => {
            const run = otherRun;
            otherRun = undefined;
            await run?.(args[0]);
            return ctx.cxone.updateCampaign(...args);
          },
        } as CxoneApi,
      }),
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  async function staleRun(
    extendLockAnswer: 0 | 1,
    token: string | undefined,
    otherRunFinished: boolean,
    /**
     * The other run syncs the campaign record before activating and notes its activating write there,
     * as every run of the launch worker does; `operator`: the activation is an operator's in CXone's
     * console instead, after the other run scheduled and synced it (no write of the orchestrator's noted).
     */
    otherRunSynced: boolean | 'operator' = false,
  ) {
    // The stale run is on its last attempt, so its failure would be final.
    const { launchId, job } = await lastAttemptLaunch(stack.ctx, {
      extendLock: async () => extendLockAnswer,
    });
    const launches = createLaunchStore(stack.ctx);
    otherRun = async (campaignId) => {
      const current = await stack.ctx.cxone.getCampaign(campaignId);
      const scheduled = await stack.ctx.cxone.updateCampaign(campaignId, current.version, {
        status: 'scheduled',
      });
      if (otherRunSynced) {
        await createCampaignStore(stack.ctx).syncFromCxone(scheduled, {
          launchId,
          config: (job.data as LaunchJob).config,
          ...(otherRunSynced === 'operator' ? {} : { activationSent: scheduled.version }),
        });
      }
      const active =
        otherRunSynced === 'operator'
          ? await patchOnSandbox(stack.sandbox, campaignId, { status: 'active' }).then(() =>
              stack.ctx.cxone.getCampaign(campaignId),
            )
          : await stack.ctx.cxone.updateCampaign(campaignId, scheduled.version, { status: 'active' });
      if (!otherRunFinished) return;
      await launches.finish(launchId, {
        status: 'succeeded',
        campaignId,
        campaignStatus: 'active',
        cxoneVersion: active.version,
      });
    };
    const err = await processLaunch(
      { ctx: stack.ctx, launches, campaigns: createCampaignStore(stack.ctx), lockMs: 30_000 },
      job,
      token,
    ).catch((e: unknown) => e);
    const record = await launches.get(launchId);
    return { err, record, campaign: await stack.ctx.cxone.getCampaign(String(record?.campaignId)) };
  }

  it('leaves the outcome to the run that owns the job once its lock is gone', async () => {
    // The owning run has activated the campaign but not yet recorded the outcome.
    const { err, record, campaign } = await staleRun(0, 'stale-token', false);
    expect(err).toBeInstanceOf(Error);
    expect(record?.status).toBe('running');
    expect(campaign.status).toBe('active');
  });

  it('does not take over, as started in CXone, a draft another run of its launch scheduled and activated', async () => {
    // This run still holds its job (it cannot tell it lost it): the record the other run synced before
    // activating is what says the campaign was started by the launch, not in CXone's console.
    const { record, campaign } = await staleRun(1, undefined, true, true);
    expect(record).toMatchObject({
      status: 'succeeded',
      campaignStatus: 'active',
      cxoneVersion: campaign.version,
    });
    const trail = await auditStoreFor(stack.ctx).list(campaign.id);
    expect(trail.filter((r) => r.details.changedIn === 'cxone')).toEqual([]);
    expect(trail.map((r) => r.action)).not.toContain('launch_failed');
  });

  it('does not fail or cancel a launch another run of it activated and has yet to finish', async () => {
    // This run holds the job (the other lost it, and does not know yet): its schedule write meets the
    // other run's activation, whose record says the launch started it. As a first read finding it
    // active would, this run watches it and finishes the launch; failing, it would cancel it.
    const { err, record, campaign } = await staleRun(1, undefined, false, true);
    expect(err).not.toBeInstanceOf(Error);
    expect(record).toMatchObject({ status: 'succeeded', campaignStatus: 'active' });
    expect(campaign.status).toBe('active');
    const trail = await auditStoreFor(stack.ctx).list(campaign.id);
    expect(trail.filter((r) => r.details.changedIn === 'cxone')).toEqual([]);
    expect(trail.map((r) => r.action)).not.toContain('launch_failed');
  });

  it('takes over a campaign an operator activated after another run of its launch scheduled it', async () => {
    // The record the other run synced notes no activating write of the orchestrator's: CXone's
    // console started it. Taken over as an early activation: recorded, announced, at the safe start.
    const { err, record, campaign } = await staleRun(1, undefined, false, 'operator');
    expect(err).not.toBeInstanceOf(Error);
    expect(record).toMatchObject({ status: 'succeeded', campaignStatus: 'active' });
    const trail = await auditStoreFor(stack.ctx).list(campaign.id);
    expect(trail.filter((r) => r.details.changedIn === 'cxone').map((r) => r.details)).toEqual([
      expect.objectContaining({
        from: 'scheduled',
        to: 'active',
        reason: 'activated outside the orchestrator before its start',
      }),
    ]);
    expect(await createCampaignStore(stack.ctx).get(campaign.id)).toMatchObject({
      startedOutside: { from: 'scheduled' },
    });
    expect(campaign.dialerSettings.callRate).toBeLessThan(0.5);
  });

  it('does not fail or cancel a launch another run already finished, even when it cannot tell', async () => {
    const { record, campaign } = await staleRun(1, undefined, true);
    expect(record).toMatchObject({ status: 'succeeded', campaignStatus: 'active' });
    expect(campaign.status).toBe('active');
  });
});
