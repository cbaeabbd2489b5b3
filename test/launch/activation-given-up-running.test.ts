import type { Job } from 'bullmq';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ACTIVATE_JOB } from '../../src/shared/jobs.js';
import { finishGivenUpActivation } from '../../src/workers/launch-worker.js';
import { sandboxStatus, startStack, type Stack } from '../e2e/stack.js';
import { fakeActivationJob } from './activation-job.js';
import { expectWatched, scheduledWithRecord } from './watched.js';

/*
 * An activation BullMQ gives up on for its stall limit: the run that died last may have had its
 * activating write carried out by CXone before its worker died, and no run is left to watch the
 * campaign. Recorded as "may be active, look in CXone" and nothing more, it dialed with no calling
 * windows and no abandonment guard; the campaign is looked at, and one found running is watched.
 * Real Redis, the sandbox over HTTP.
 */
const stalled = new Error('job stalled more than allowable limit');

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ api: false });
});
afterAll(async () => {
  await stack?.close();
});

/** A scheduled campaign with its launch and record, as a launch leaves it; and its given-up activate job. */
async function scheduledCampaign() {
  const { deps, launchId, scheduled } = await scheduledWithRecord(stack.ctx);
  const { job } = fakeActivationJob(scheduled.id, launchId);
  // As BullMQ leaves it: failed, unrun, with its deferred failure.
  const givenUp = Object.assign(Object.create(job) as Job, {
    name: ACTIVATE_JOB,
    deferredFailure: stalled.message,
    getState: async () => 'failed',
  });
  return { deps, launchId, scheduled, givenUp };
}

it('watches a campaign the last stalled run had activated', async () => {
  const { deps, launchId, scheduled, givenUp } = await scheduledCampaign();
  // The last run's activating write went through; its worker died before it watched the campaign.
  await stack.ctx.cxone.updateCampaign(scheduled.id, scheduled.version, { status: 'active' });

  expect(await finishGivenUpActivation(deps, givenUp, stalled)).toBe(true);

  expect(sandboxStatus(stack.sandbox, scheduled.id)).toBe('active');
  await expectWatched(stack.ctx, scheduled.id);
  const launch = await deps.launches.get(launchId);
  expect(launch?.activationError).toMatch(
    /^job stalled more than allowable limit: the activation was given up/,
  );
  expect(launch?.activationError).toContain('runs on CXone (active)');
  expect(launch?.activationError).toContain('it is watched');
});

it('says the campaign stays scheduled when the look finds it so', async () => {
  const { deps, launchId, scheduled, givenUp } = await scheduledCampaign();

  expect(await finishGivenUpActivation(deps, givenUp, stalled)).toBe(true);

  expect(sandboxStatus(stack.sandbox, scheduled.id)).toBe('scheduled');
  const launch = await deps.launches.get(launchId);
  expect(launch?.activationError).toMatch(
    /^job stalled more than allowable limit: the activation was given up/,
  );
  expect(launch?.activationError).toContain('the campaign stays scheduled on CXone');
  expect((await deps.campaigns.get(scheduled.id))?.activationFailed?.reason).toBe(launch?.activationError);
});
