import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/shared/clock.js';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import type { AppContext } from '../../src/shared/context.js';
import {
  CREATE_KEY_LIFETIME_MS,
  CREATE_KEY_MARGIN_MS,
  launchIdempotencyKey,
} from '../../src/shared/cxone/idempotency.js';
import { toCreateCampaignRequest } from '../../src/shared/cxone/to-wire.js';
import { CXONE_ENDPOINTS } from '../../src/shared/cxone/wire.js';
import type { LaunchJob } from '../../src/shared/jobs.js';
import { createLaunchStore } from '../../src/shared/launch-store.js';
import { finishGivenUpLaunch, processLaunch } from '../../src/workers/launch-worker.js';
import { patchOnSandbox, sandboxStatus, startStack, type Stack } from '../e2e/stack.js';
import { scriptFaults } from '../support/sandbox-faults.js';
import { lastAttemptLaunch } from './last-attempt.js';
import { launchFailures, recording, type Recorded } from './recording.js';
import { expectWatched } from './watched.js';

const stalled = new Error('job stalled more than allowable limit');

/** Given up as BullMQ gives up a job whose workers died (its last stall), state `failed`. */
const givenUp = (job: Job) => Object.assign(Object.create(job) as Job, { getState: async () => 'failed' });

/**
 * A failed launch cancels the campaign it created, so nothing is left half-launched — but not one an
 * operator started in CXone's console: no campaign record (every activation of ours syncs it first),
 * or one the launch took over as started outside. That one is left running, named on the launch with
 * why. Real Redis, the sandbox over HTTP.
 */
describe("a failed launch's cleanup of a campaign started outside the orchestrator", () => {
  const recorded: Recorded = { audit: [], events: [] };
  let stack: Stack;
  /** Runs once, just before the launch's schedule write is sent. */
  let beforeSchedule: ((campaignId: string) => Promise<void>) | undefined;
  /** Runs once, just before a write of the callRate alone (a takeover's safe start) is sent. */
  let beforeSafeStart: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    stack = await startStack({
      api: false,
      ctxOverrides: recording(recorded, (cxone) => ({
        updateCampaign: async (...args: Parameters<AppContext['cxone']['updateCampaign']>) => {
          const body = args[2];
          const hook =
            body.status === 'scheduled'
              ? beforeSchedule
              : body.status === undefined && body.dialerSettings
                ? beforeSafeStart
                : undefined;
          if (hook === beforeSchedule) beforeSchedule = undefined;
          if (hook === beforeSafeStart) beforeSafeStart = undefined;
          if (hook) await hook(args[0]);
          return cxone.updateCampaign(...args);
        },
      })),
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const stores = () => ({
    ctx: stack.ctx,
    launches: createLaunchStore(stack.ctx),
    campaigns: createCampaignStore(stack.ctx),
  });

  it.each(['active', 'paused'] as const)(
    'leaves a draft an operator started (%s) before the given-up launch asked for it again running, and says so',
    async (status) => {
      const { launchId, job } = await lastAttemptLaunch(stack.ctx);
      const deps = stores();
      // The dead run's create, carried out by CXone and never recorded; minutes later, before the sweep
      // or the given-up handler gets to it, an operator starts the draft from the console.
      await deps.launches.begin(launchId);
      const made = await stack.ctx.cxone.createCampaign(
        toCreateCampaignRequest((job.data as LaunchJob).config),
        { idempotencyKey: launchIdempotencyKey(launchId) },
      );
      expect((await patchOnSandbox(stack.sandbox, made.id, { status: 'active' })).status).toBe(200);
      if (status === 'paused')
        expect((await patchOnSandbox(stack.sandbox, made.id, { status: 'paused' })).status).toBe(200);

      expect(await finishGivenUpLaunch(deps, givenUp(job), stalled)).toBe(true);

      expect(sandboxStatus(stack.sandbox, made.id)).toBe(status);
      const launch = await deps.launches.get(launchId);
      expect(launch).toMatchObject({
        status: 'failed',
        campaignId: made.id,
        cancelled: false,
        campaignStatus: status,
      });
      expect(launch?.cancelCommandId).toBeUndefined();
      expect(launch?.cleanupError).toContain(`campaign ${made.id} was left ${status}, not cancelled`);
      expect(launch?.cleanupError).toContain('started outside the orchestrator');
      // No stop left to cancel it later, and no marker tying it to a launch still going.
      expect(await deps.launches.launchOfCampaign(made.id)).toBeNull();
      const failure = launchFailures(recorded, launchId).audit;
      expect(failure).toHaveLength(1);
      expect(failure[0]).toMatchObject({ campaignId: made.id });
      expect(failure[0]?.details).toMatchObject({
        cancelledOnCxone: false,
        leftRunning: status,
        cleanupError: launch?.cleanupError,
      });
    },
  );

  it('still cancels the draft a given-up launch left when nobody started it', async () => {
    const { launchId, job } = await lastAttemptLaunch(stack.ctx);
    const deps = stores();
    await deps.launches.begin(launchId);
    const made = await stack.ctx.cxone.createCampaign(
      toCreateCampaignRequest((job.data as LaunchJob).config),
      {
        idempotencyKey: launchIdempotencyKey(launchId),
      },
    );

    expect(await finishGivenUpLaunch(deps, givenUp(job), stalled)).toBe(true);

    expect(sandboxStatus(stack.sandbox, made.id)).toBe('cancelled');
    const launch = await deps.launches.get(launchId);
    expect(launch).toMatchObject({ status: 'failed', campaignId: made.id, cancelled: true });
    expect(launch?.cleanupError).toBeUndefined();
  });

  it('leaves running the draft it took over when the takeover fails on its last attempt', async () => {
    const { launchId, job } = await lastAttemptLaunch(stack.ctx);
    const deps = { ...stores(), lockMs: 30_000 };
    beforeSchedule = async (campaignId) => {
      expect((await patchOnSandbox(stack.sandbox, campaignId, { status: 'active' })).status).toBe(200);
    };
    // The takeover's safe-start write meets CXone's 503: the launch's last attempt fails for good.
    beforeSafeStart = () =>
      scriptFaults(stack.sandbox, { failNext: 1, status: 503, endpoint: CXONE_ENDPOINTS.updateCampaign });

    await expect(processLaunch(deps, job)).rejects.toThrow();

    expect(beforeSchedule, 'the console started the draft before the schedule write').toBeUndefined();
    expect(beforeSafeStart, 'the takeover sent its safe start').toBeUndefined();
    const launch = await deps.launches.get(launchId);
    expect(launch?.status).toBe('failed');
    const campaignId = String(launch?.campaignId);
    expect(sandboxStatus(stack.sandbox, campaignId)).toBe('active');
    expect(launch).toMatchObject({ cancelled: false, campaignStatus: 'active' });
    expect(launch?.cleanupError).toContain('started outside the orchestrator');
    expect(await deps.campaigns.get(campaignId)).toMatchObject({ startedOutside: { from: 'draft' } });
    // Its takeover never got to watch it; the cleanup that left it running does.
    expect(launch?.cleanupError).toContain('it is watched');
    expect(launchFailures(recorded, launchId).audit[0]?.details).toMatchObject({ watched: true });
    await expectWatched(stack.ctx, campaignId);
  });
});

/** A clock both CXone (the sandbox) and the fleet read, moved by hand. */
class SharedClock implements Clock {
  offsetMs = 0;
  now(): number {
    return Date.now() + this.offsetMs;
  }
}

/**
 * CXone remembers a create's Idempotency-Key for 24 h (docs/sandbox.md). A failed launch re-sends its
 * create under the key to get back a campaign an unanswered create made — past the key's lifetime that
 * would make a new campaign, cancel it, and leave the real one. The sandbox's clock and the fleet's
 * move together.
 */
describe("a failed launch's re-sent create and its Idempotency-Key's lifetime", () => {
  const clock = new SharedClock();
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ api: false, sandbox: { clock }, ctxOverrides: () => ({ clock }) });
  });
  afterAll(async () => {
    await stack?.close();
  });

  /** A begun launch whose dead run's create CXone carried out (unrecorded); then `laterMs` pass. */
  async function orphanedCreate(laterMs: number) {
    clock.offsetMs = 0;
    const { launchId, job } = await lastAttemptLaunch(stack.ctx);
    const deps = {
      ctx: stack.ctx,
      launches: createLaunchStore(stack.ctx),
      campaigns: createCampaignStore(stack.ctx),
    };
    await deps.launches.begin(launchId);
    const made = await stack.ctx.cxone.createCampaign(
      toCreateCampaignRequest((job.data as LaunchJob).config),
      {
        idempotencyKey: launchIdempotencyKey(launchId),
      },
    );
    clock.offsetMs = laterMs;
    return { launchId, job, deps, made };
  }

  it('sends nothing once CXone may have forgotten the key, and says to check CXone by hand', async () => {
    const { launchId, job, deps, made } = await orphanedCreate(CREATE_KEY_LIFETIME_MS + 3600_000);
    const before = stack.sandbox.campaignCount();

    expect(await finishGivenUpLaunch(deps, givenUp(job), stalled)).toBe(true);

    // No second campaign made (and cancelled); the orphan is as it was.
    expect(stack.sandbox.campaignCount()).toBe(before);
    expect(sandboxStatus(stack.sandbox, made.id)).toBe('draft');
    const launch = await deps.launches.get(launchId);
    expect(launch).toMatchObject({ status: 'failed' });
    expect(launch?.campaignId).toBeUndefined();
    expect(launch?.cleanupError).toContain('CXone may have created the campaign');
    expect(launch?.cleanupError).toContain('check CXone by hand');
    expect(launch?.cleanupError).toContain(launchIdempotencyKey(launchId));
    expect(launch?.cleanupError).toContain(launchId);
  });

  it('sends nothing inside the margin before the key expires', async () => {
    // CXone still remembers the key here; a re-send would get the orphan back — and one sent a little
    // later, once the fleet's budget allowed, might not.
    const { launchId, job, deps, made } = await orphanedCreate(
      CREATE_KEY_LIFETIME_MS - CREATE_KEY_MARGIN_MS + 60_000,
    );
    const before = stack.sandbox.campaignCount();
    expect(await finishGivenUpLaunch(deps, givenUp(job), stalled)).toBe(true);
    expect(stack.sandbox.campaignCount()).toBe(before);
    expect(sandboxStatus(stack.sandbox, made.id)).toBe('draft');
    const launch = await deps.launches.get(launchId);
    expect(launch?.campaignId).toBeUndefined();
    expect(launch?.cleanupError).toContain('check CXone by hand');
  });

  it('still gets the campaign back by its key well inside the lifetime', async () => {
    const { launchId, job, deps, made } = await orphanedCreate(
      CREATE_KEY_LIFETIME_MS - CREATE_KEY_MARGIN_MS - 600_000,
    );
    const before = stack.sandbox.campaignCount();

    expect(await finishGivenUpLaunch(deps, givenUp(job), stalled)).toBe(true);

    expect(stack.sandbox.campaignCount()).toBe(before);
    expect(sandboxStatus(stack.sandbox, made.id)).toBe('cancelled');
    expect(await deps.launches.get(launchId)).toMatchObject({
      status: 'failed',
      campaignId: made.id,
      cancelled: true,
    });
  });
});
