import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import { launchIdempotencyKey } from '../../src/shared/cxone/idempotency.js';
import { toCreateCampaignRequest } from '../../src/shared/cxone/to-wire.js';
import { CXONE_ENDPOINTS } from '../../src/shared/cxone/wire.js';
import { createLaunchStore } from '../../src/shared/launch-store.js';
import type { LaunchJob } from '../../src/shared/jobs.js';
import { finishGivenUpLaunch } from '../../src/workers/launch-worker.js';
import { sandboxStatus, startStack, type Stack } from '../e2e/stack.js';
import { scriptFaults } from '../support/sandbox-faults.js';
import { lastAttemptLaunch } from './last-attempt.js';

/**
 * A launch job BullMQ failed for stalling too often (its workers died mid-run, so no processor
 * recorded an outcome): the launch is finished as failed and the campaign it had created cancelled,
 * on real Redis and the sandbox over HTTP.
 */
describe('a launch job BullMQ gave up on', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ api: false });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('is recorded failed, its half-launched campaign cancelled; a job still retried is left alone', async () => {
    const { launchId, job } = await lastAttemptLaunch(stack.ctx);
    const launches = createLaunchStore(stack.ctx);
    const deps = { ctx: stack.ctx, launches, campaigns: createCampaignStore(stack.ctx) };
    // The dead run got as far as creating the campaign.
    await launches.begin(launchId);
    const created = await stack.ctx.cxone.createCampaign(
      toCreateCampaignRequest((job.data as LaunchJob).config),
    );
    await launches.recordCreated(launchId, created.id, created.version);
    const stalled = new Error('job stalled more than allowable limit');

    const retried = Object.assign(Object.create(job) as typeof job, { getState: async () => 'delayed' });
    expect(await finishGivenUpLaunch(deps, retried, stalled)).toBe(false);
    expect((await launches.get(launchId))?.status).toBe('running');

    const givenUp = Object.assign(Object.create(job) as typeof job, { getState: async () => 'failed' });
    expect(await finishGivenUpLaunch(deps, givenUp, stalled)).toBe(true);
    const launch = await launches.get(launchId);
    expect(launch).toMatchObject({ status: 'failed', cancelled: true, campaignStatus: 'cancelled' });
    expect(launch?.error).toMatch(/given up: job stalled more than allowable limit/);
    expect(sandboxStatus(stack.sandbox, created.id)).toBe('cancelled');
    expect(await launches.launchOfCampaign(created.id)).toBeNull();
    // Finished once: a second event changes nothing.
    expect(await finishGivenUpLaunch(deps, givenUp, stalled)).toBe(false);
  });

  /** Given up as BullMQ gives up a job whose workers died (its last stall), state `failed`. */
  const givenUpJob = (job: Awaited<ReturnType<typeof lastAttemptLaunch>>['job']) =>
    Object.assign(Object.create(job) as typeof job, { getState: async () => 'failed' });
  const stalled = new Error('job stalled more than allowable limit');

  it('cancels and names the campaign a run that died with its create in flight left on CXone', async () => {
    const { launchId, job } = await lastAttemptLaunch(stack.ctx);
    const launches = createLaunchStore(stack.ctx);
    const deps = { ctx: stack.ctx, launches, campaigns: createCampaignStore(stack.ctx) };
    // The dead run's create, carried out by CXone; the run died before it heard back and recorded it.
    await launches.begin(launchId);
    const made = await stack.ctx.cxone.createCampaign(
      toCreateCampaignRequest((job.data as LaunchJob).config),
      {
        idempotencyKey: launchIdempotencyKey(launchId),
      },
    );
    const before = stack.sandbox.campaignCount();

    expect(await finishGivenUpLaunch(deps, givenUpJob(job), stalled)).toBe(true);

    // Asked for again with its key: the same campaign, not a second one, named and cancelled.
    expect(stack.sandbox.campaignCount()).toBe(before);
    expect(sandboxStatus(stack.sandbox, made.id)).toBe('cancelled');
    const launch = await launches.get(launchId);
    expect(launch).toMatchObject({
      status: 'failed',
      campaignId: made.id,
      cancelled: true,
      campaignStatus: 'cancelled',
    });
    expect(launch?.error).toMatch(/given up: job stalled more than allowable limit/);
    expect(launch?.cleanupError).toBeUndefined();
    expect(await createCampaignStore(stack.ctx).get(made.id)).toMatchObject({
      status: 'cancelled',
      launchId,
    });
  });

  it('says a campaign may exist when CXone does not answer the create asked again', async () => {
    const { launchId, job } = await lastAttemptLaunch(stack.ctx);
    const launches = createLaunchStore(stack.ctx);
    const deps = { ctx: stack.ctx, launches, campaigns: createCampaignStore(stack.ctx) };
    await launches.begin(launchId);
    await scriptFaults(stack.sandbox, { failNext: 1, status: 503, endpoint: CXONE_ENDPOINTS.createCampaign });

    expect(await finishGivenUpLaunch(deps, givenUpJob(job), stalled)).toBe(true);

    const launch = await launches.get(launchId);
    expect(launch).toMatchObject({ status: 'failed' });
    expect(launch?.campaignId).toBeUndefined();
    expect(launch?.cleanupError).toContain('CXone may have created the campaign');
    expect(launch?.cleanupError).toContain(launchIdempotencyKey(launchId));
  });

  it('sends no create for a launch no worker began', async () => {
    const { launchId, job } = await lastAttemptLaunch(stack.ctx);
    const launches = createLaunchStore(stack.ctx);
    const deps = { ctx: stack.ctx, launches, campaigns: createCampaignStore(stack.ctx) };
    const before = stack.sandbox.campaignCount();

    expect(await finishGivenUpLaunch(deps, givenUpJob(job), stalled)).toBe(true);

    expect(stack.sandbox.campaignCount()).toBe(before);
    const launch = await launches.get(launchId);
    expect(launch).toMatchObject({ status: 'failed' });
    expect(launch?.campaignId).toBeUndefined();
    expect(launch?.cleanupError).toBeUndefined();
  });
});
