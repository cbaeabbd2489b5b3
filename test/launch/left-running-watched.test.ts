import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { submitLaunch } from '../../src/producers/launch-submit.js';
import { campaignConfigSchema } from '../../src/shared/campaign-schema.js';
import type { AppContext } from '../../src/shared/context.js';
import { launchIdempotencyKey } from '../../src/shared/cxone/idempotency.js';
import { toCreateCampaignRequest } from '../../src/shared/cxone/to-wire.js';
import { activateJobId, type LaunchJob } from '../../src/shared/jobs.js';
import type { LaunchRecord, LaunchStore } from '../../src/shared/launch-store.js';
import { CXONE_ENDPOINTS } from '../../src/shared/cxone/wire.js';
import { finishGivenUpLaunch, processActivate, processLaunch } from '../../src/workers/launch-worker.js';
import { campaignConfig, patchOnSandbox, sandboxStatus, startStack, type Stack } from '../e2e/stack.js';
import { sandboxFaults, scriptFaults } from '../support/sandbox-faults.js';
import { fakeActivationJob } from './activation-job.js';
import { lastAttemptLaunch, launchDeps } from './last-attempt.js';
import { launchFailures, recording, type Recorded } from './recording.js';
import { expectWatched, scheduledWithRecord } from './watched.js';

const stalled = new Error('job stalled more than allowable limit');

/** Given up as BullMQ gives up a job whose workers died (its last stall), state `failed`. */
const givenUp = (job: Job) => Object.assign(Object.create(job) as Job, { getState: async () => 'failed' });

/**
 * A failed launch leaves running a campaign an operator started in CXone — and the orchestrator, which
 * knows it is dialing, watches it from then on as any campaign it launched: statistics polls (and with
 * them the abandonment guard), its calling-window jobs, the trail and an event saying so. An operator's
 * early activation of a scheduled campaign counts as such a start: no activating write of the
 * orchestrator's was ever sent for it. Real Redis, the sandbox over HTTP.
 */
describe('a campaign a failed launch left running because an operator started it', () => {
  const recorded: Recorded = { audit: [], events: [] };
  let stack: Stack;

  /** Runs once, just before an activating write (`status: active`) is sent, with that write. */
  let beforeActivation:
    | ((campaignId: string, ...write: Parameters<AppContext['cxone']['updateCampaign']>) => Promise<unknown>)
    | undefined;

  beforeAll(async () => {
    stack = await startStack({
      api: false,
      ctxOverrides: recording(recorded, (cxone) => ({
        updateCampaign: async (...args: Parameters<AppContext['cxone']['updateCampaign']>) => {
          const hook = args[2].status === 'active' ? beforeActivation : undefined;
          if (hook) {
            beforeActivation = undefined;
            await hook(args[0], ...args);
          }
          return cxone.updateCampaign(...args);
        },
      })),
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  /** The launch store with its next `finish` failing, as a worker that died before recording its outcome. */
  const finishFailingOnce = (launches: LaunchStore): LaunchStore => {
    let failed = false;
    return Object.assign(Object.create(launches) as LaunchStore, {
      finish: (...args: Parameters<LaunchStore['finish']>) => {
        if (failed) return launches.finish(...args);
        failed = true;
        return Promise.reject(new Error('Redis went away'));
      },
    });
  };

  type Deps = ReturnType<typeof launchDeps>;

  /** A launch due now, submitted as the API does; its queued job and the worker's dependencies. */
  const dueNowLaunch = async () => {
    const config = campaignConfigSchema.parse(campaignConfig());
    const { launchId } = await submitLaunch(stack.ctx, { config, actor: 'test' });
    const queued = (await stack.ctx.queues.launch.getJob(launchId)) as Job;
    return { launchId, queued, deps: launchDeps(stack.ctx) };
  };

  /** Runs the launch through, its worker dying before it records the outcome. */
  const runDyingBeforeFinish = async (deps: Deps, job: Job) => {
    await expect(processLaunch({ ...deps, launches: finishFailingOnce(deps.launches) }, job)).rejects.toThrow(
      'Redis went away',
    );
  };

  /** The campaign the launch's record names. */
  const campaignOf = async (deps: Deps, launchId: string) =>
    String((await deps.launches.get(launchId))?.campaignId);

  /** Gives the launch up as BullMQ does at its job's last stall, and checks its cleanup ran. */
  const giveUp = async (deps: Deps, job: Job) => {
    expect(await finishGivenUpLaunch(deps, givenUp(job), stalled)).toBe(true);
  };

  /** Left active as the operator's: the launch failed without cancelling it (and matches `more`); the launch. */
  const expectSpared = async (
    deps: Deps,
    launchId: string,
    campaignId: string,
    more: Partial<LaunchRecord> = {},
  ) => {
    expect(sandboxStatus(stack.sandbox, campaignId), "the operator's campaign").toBe('active');
    const launch = await deps.launches.get(launchId);
    expect(launch).toMatchObject({ status: 'failed', campaignId, cancelled: false, ...more });
    return launch;
  };

  /** expectSpared, and it is watched. */
  const expectSparedAndWatched = async (deps: Deps, launchId: string, campaignId: string) => {
    await expectSpared(deps, launchId, campaignId);
    await expectWatched(stack.ctx, campaignId);
  };

  /** The campaign store with its first record sync that `which` picks refused (Redis out of memory). */
  const syncRefusedOnce = (campaigns: Deps['campaigns'], which: (status: string) => boolean = () => true) => {
    const refusal = { refused: false };
    const refusing = Object.assign(Object.create(campaigns) as Deps['campaigns'], {
      syncFromCxone: (...args: Parameters<Deps['campaigns']['syncFromCxone']>) => {
        if (refusal.refused || !which(args[0].status)) return campaigns.syncFromCxone(...args);
        refusal.refused = true;
        return Promise.reject(new Error('OOM command not allowed'));
      },
    });
    return { campaigns: refusing, refusal };
  };

  /** The activation's last attempt: its failure is final. */
  const lastActivationAttempt = (campaignId: string, launchId: string) =>
    Object.assign(fakeActivationJob(campaignId, launchId).job, { attemptsMade: 9 });

  /** The launch's activation error says the campaign runs, active, and is watched, not that it stays scheduled. */
  const expectSaysActiveAndWatched = (activationError: string | undefined) => {
    expect(activationError).toContain('runs on CXone (active)');
    expect(activationError).toContain('it is watched');
    expect(activationError).not.toContain('stays scheduled');
  };

  /** The trail's one launch failure for the campaign: at its activation, left running, watched. */
  const expectActivationFailureWatched = (campaignId: string) => {
    const failure = recorded.audit.filter((a) => a.campaignId === campaignId && a.action === 'launch_failed');
    expect(failure.map((a) => a.details)).toEqual([
      expect.objectContaining({ stage: 'activation', leftRunning: 'active', watched: true }),
    ]);
  };

  it('is watched when the operator started the draft before the given-up launch asked for it again', async () => {
    // For Florida's recipients (its 20:00 close): only the launch's config names them, never CXone.
    const { launchId, job } = await lastAttemptLaunch(
      stack.ctx,
      {},
      {
        complianceTimeZone: 'America/New_York',
        recipientStates: ['FL'],
        allowedCallTimes: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '20:00' }],
      },
    );
    const deps = launchDeps(stack.ctx);
    await deps.launches.begin(launchId);
    const made = await stack.ctx.cxone.createCampaign(
      toCreateCampaignRequest((job.data as LaunchJob).config),
      {
        idempotencyKey: launchIdempotencyKey(launchId),
      },
    );
    expect((await patchOnSandbox(stack.sandbox, made.id, { status: 'active' })).status).toBe(200);

    await giveUp(deps, job);

    expect(sandboxStatus(stack.sandbox, made.id)).toBe('active');
    const launch = await deps.launches.get(launchId);
    expect(launch).toMatchObject({ status: 'failed', campaignId: made.id, cancelled: false });
    expect(launch?.cleanupError).toContain('started outside the orchestrator');
    expect(launch?.cleanupError).toContain('it is watched');
    // Its record, from the launch's config (the recipient states CXone never sees), marked.
    const record = await deps.campaigns.get(made.id);
    expect(record).toMatchObject({ launchId, status: 'active', startedOutside: { from: 'draft' } });
    expect(record?.config.recipientStates).toEqual(['FL']);
    await expectWatched(stack.ctx, made.id);

    const failure = launchFailures(recorded, launchId);
    expect(failure.audit[0]?.details).toMatchObject({ leftRunning: 'active', watched: true });
    expect(failure.events[0]?.data).toMatchObject({ cancelled: false, leftRunning: 'active', watched: true });
    const started = recorded.audit.filter((a) => a.campaignId === made.id && a.action === 'state_changed');
    expect(started).toHaveLength(1);
    expect(started[0]?.details).toMatchObject({ launchId, from: 'draft', to: 'active', changedIn: 'cxone' });
    expect(
      recorded.events.filter(
        (e) => e.type === 'campaign.state.changed' && e.data.version === made.version + 1,
      ),
    ).toEqual([expect.objectContaining({ data: expect.objectContaining({ from: 'draft', to: 'active' }) })]);
  });

  it("is taken over by the launch's next run when an operator activated the scheduled campaign before its start", async () => {
    // As above, but the launch is run again rather than given up: its run finds the campaign running
    // with no activating write of the orchestrator's noted, so an operator started it.
    const { launchId, job } = await lastAttemptLaunch(stack.ctx, { attemptsMade: 0 });
    const deps = launchDeps(stack.ctx);
    await runDyingBeforeFinish(deps, job);
    const campaignId = await campaignOf(deps, launchId);
    const activated = await patchOnSandbox(stack.sandbox, campaignId, { status: 'active' });
    expect(activated.status).toBe(200);
    const eventsBefore = recorded.events.length;

    expect(await processLaunch(deps, Object.assign(job, { attemptsMade: 1 }))).toMatchObject({
      outcome: 'succeeded',
      campaignStatus: 'active',
    });

    expect(await deps.campaigns.get(campaignId)).toMatchObject({ startedOutside: { from: 'scheduled' } });
    const started = recorded.audit.filter((a) => a.campaignId === campaignId && a.action === 'state_changed');
    expect(started.map((a) => a.details)).toContainEqual(
      expect.objectContaining({ launchId, from: 'scheduled', to: 'active', changedIn: 'cxone' }),
    );
    expect(recorded.events.slice(eventsBefore)).toContainEqual(
      expect.objectContaining({
        type: 'campaign.state.changed',
        data: expect.objectContaining({ from: 'scheduled', reason: 'activated-outside-before-start' }),
      }),
    );
    // Dialing at the operator's 0.5 with no statistic seen: brought down to the safe start.
    expect((await stack.ctx.cxone.getCampaign(campaignId)).dialerSettings.callRate).toBeLessThan(0.5);
    await expectWatched(stack.ctx, campaignId);
    expect(await stack.ctx.queues.launch.getJob(activateJobId(campaignId))).toBeUndefined();
  });

  it('says loudly, on the launch and in the trail, when it could not be watched', async () => {
    const { launchId, job } = await lastAttemptLaunch(stack.ctx);
    // The poll queue refuses its scheduler (Redis out of memory, say).
    const poll = Object.assign(Object.create(stack.ctx.queues.poll) as typeof stack.ctx.queues.poll, {
      upsertJobScheduler: () => Promise.reject(new Error('OOM command not allowed')),
    });
    const ctx = Object.assign(Object.create(stack.ctx) as AppContext, {
      queues: { ...stack.ctx.queues, poll },
    });
    const deps = launchDeps(ctx);
    await deps.launches.begin(launchId);
    const made = await stack.ctx.cxone.createCampaign(
      toCreateCampaignRequest((job.data as LaunchJob).config),
      { idempotencyKey: launchIdempotencyKey(launchId) },
    );
    expect((await patchOnSandbox(stack.sandbox, made.id, { status: 'active' })).status).toBe(200);

    await giveUp(deps, job);

    expect(sandboxStatus(stack.sandbox, made.id), "still the operator's call").toBe('active');
    const launch = await deps.launches.get(launchId);
    expect(launch).toMatchObject({ status: 'failed', campaignId: made.id, cancelled: false });
    expect(launch?.cleanupError).toContain('could NOT be watched (OOM command not allowed)');
    expect(launch?.cleanupError).toContain('stop it in CXone');
    const failure = launchFailures(recorded, launchId);
    expect(failure.audit[0]?.details).toMatchObject({
      leftRunning: 'active',
      watched: false,
      watchError: 'OOM command not allowed',
    });
    expect(failure.events[0]?.data).toMatchObject({ leftRunning: 'active', watched: false });
  });

  it('is spared and watched when an operator activated the scheduled campaign before its start', async () => {
    // Its first run scheduled the campaign and synced its record, then died before recording the
    // outcome; before anything ran it again an operator activated it in the console, ahead of its start.
    const { launchId, job } = await lastAttemptLaunch(stack.ctx, { attemptsMade: 0 });
    const deps = launchDeps(stack.ctx);
    await runDyingBeforeFinish(deps, job);
    const campaignId = await campaignOf(deps, launchId);
    expect(await deps.campaigns.get(campaignId)).toMatchObject({ status: 'scheduled' });
    expect(
      await stack.ctx.queues.launch.getJob(activateJobId(campaignId)),
      'its activation added',
    ).toBeDefined();
    expect((await patchOnSandbox(stack.sandbox, campaignId, { status: 'active' })).status).toBe(200);

    await giveUp(deps, job);

    const launch = await expectSpared(deps, launchId, campaignId, { campaignStatus: 'active' });
    expect(launch?.cleanupError).toContain(`campaign ${campaignId} was left active, not cancelled`);
    expect(launch?.cleanupError).toContain('it is watched');
    expect(await deps.campaigns.get(campaignId)).toMatchObject({
      status: 'active',
      startedOutside: { from: 'scheduled' },
    });
    await expectWatched(stack.ctx, campaignId);
    // The activation its first run left waiting goes: its look would take the campaign over again.
    expect(await stack.ctx.queues.launch.getJob(activateJobId(campaignId))).toBeUndefined();
    const started = recorded.audit.filter((a) => a.campaignId === campaignId && a.action === 'state_changed');
    expect(started.map((a) => a.details)).toContainEqual(
      expect.objectContaining({ from: 'scheduled', to: 'active', changedIn: 'cxone' }),
    );
  });

  it('is watched when the takeover of a scheduled campaign activated early fails for good', async () => {
    // A scheduled campaign (its launch succeeded) an operator activates in the console two days early;
    // the activation job's look finds it, and the takeover's safe-start write meets CXone's 503 on
    // the job's last attempt.
    const config = campaignConfigSchema.parse(
      campaignConfig({ startDateTime: new Date(Date.now() + 2 * 86_400_000).toISOString() }),
    );
    const { created, launchId, deps } = await scheduledWithRecord(stack.ctx, { config });
    expect((await patchOnSandbox(stack.sandbox, created.id, { status: 'active' })).status).toBe(200);
    await scriptFaults(stack.sandbox, { failNext: 1, status: 503, endpoint: CXONE_ENDPOINTS.updateCampaign });
    const lastAttempt = lastActivationAttempt(created.id, launchId);
    const eventsBefore = recorded.events.length;

    await expect(processActivate(deps, lastAttempt, 'token')).rejects.toThrow();

    expect((await sandboxFaults(stack.sandbox)).scripted, 'the safe start met the 503').toEqual([]);
    expect(sandboxStatus(stack.sandbox, created.id)).toBe('active');
    expect(await deps.campaigns.get(created.id)).toMatchObject({
      status: 'active',
      startedOutside: { from: 'scheduled' },
    });
    await expectWatched(stack.ctx, created.id);
    const launch = await deps.launches.get(launchId);
    expect(launch?.activationError).toContain('runs on CXone');
    expect(launch?.activationError).toContain('it is watched');
    expect(launch?.activationError).not.toContain('stays scheduled');
    expectActivationFailureWatched(created.id);
    expect(
      recorded.events.filter((e) => e.type === 'campaign.launch.failed' && e.data.launchId === launchId),
    ).toEqual([
      expect.objectContaining({ data: expect.objectContaining({ leftRunning: 'active', watched: true }) }),
    ]);
    // Its start announced once, by the takeover.
    expect(
      recorded.events.slice(eventsBefore).filter((e) => e.type === 'campaign.state.changed'),
    ).toHaveLength(1);
  });

  it("is spared and watched when an operator activated it while its launch's own activation was on its way", async () => {
    // Due now: the launch schedules it and sends its activation; just before that write goes out an
    // operator activates it in the console, so CXone refuses ours (409) and the re-read finds it active.
    const { launchId, queued, deps } = await dueNowLaunch();
    beforeActivation = async (campaignId) => {
      expect((await patchOnSandbox(stack.sandbox, campaignId, { status: 'active' })).status).toBe(200);
    };
    await runDyingBeforeFinish(deps, queued);
    expect(beforeActivation, 'the console activated it first').toBeUndefined();
    const campaignId = await campaignOf(deps, launchId);
    // The operator's activation, taken over: brought down from their 0.5 to the safe start, marked.
    expect((await stack.ctx.cxone.getCampaign(campaignId)).dialerSettings.callRate).toBeLessThan(0.5);
    expect(await deps.campaigns.get(campaignId)).toMatchObject({ startedOutside: { from: 'scheduled' } });
    expect((await deps.campaigns.get(campaignId))?.activationSent).toBeUndefined();

    await giveUp(deps, queued);

    const launch = await expectSpared(deps, launchId, campaignId, { campaignStatus: 'active' });
    expect(launch?.cleanupError).toContain('it is watched');
    expect(await deps.campaigns.get(campaignId)).toMatchObject({ startedOutside: { from: 'scheduled' } });
    await expectWatched(stack.ctx, campaignId);
  });

  it("takes over a campaign an operator activated while its launch's own activation was on its way", async () => {
    // Due now: just before the launch's activating write goes out an operator activates the campaign in
    // the console at its full rate (0.5), so CXone refuses ours (409) and the re-read finds it active.
    // Not the launch's activation: taken over as one activated before its start — the trail and an
    // event say CXone started it, it is brought down to the safe start and marked started outside.
    const { launchId, queued, deps } = await dueNowLaunch();
    let activatedAt: number | undefined;
    beforeActivation = async (campaignId) => {
      const activated = await patchOnSandbox(stack.sandbox, campaignId, { status: 'active' });
      expect(activated.status).toBe(200);
      activatedAt = (await stack.ctx.cxone.getCampaign(campaignId)).version;
    };
    const eventsBefore = recorded.events.length;

    expect(await processLaunch(deps, queued)).toMatchObject({
      outcome: 'succeeded',
      campaignStatus: 'active',
    });

    expect(beforeActivation, 'the console activated it first').toBeUndefined();
    const campaignId = await campaignOf(deps, launchId);
    expect((await stack.ctx.cxone.getCampaign(campaignId)).dialerSettings.callRate).toBeLessThan(0.5);
    const record = await deps.campaigns.get(campaignId);
    expect(record).toMatchObject({ startedOutside: { from: 'scheduled' } });
    expect(record?.activationSent).toBeUndefined();
    expect(record?.pacing).toMatchObject({ lastDecision: { reason: 'safe start' } });
    const trail = recorded.audit.filter((a) => a.campaignId === campaignId);
    expect(trail.filter((a) => a.action === 'state_changed' && a.details.changedIn === 'cxone')).toEqual([
      expect.objectContaining({
        cxoneVersion: activatedAt,
        details: expect.objectContaining({ launchId, from: 'scheduled', to: 'active', changedIn: 'cxone' }),
      }),
    ]);
    // Recorded as the other takeovers are: the outside start first, then the launch's own records.
    const actions = trail.map((a) => a.action);
    expect(actions.indexOf('state_changed', actions.indexOf('campaign_created') + 1)).toBeLessThan(
      actions.indexOf('campaign_launched'),
    );
    expect(actions).toContain('pacing_decision');
    expect(trail.find((a) => a.action === 'campaign_launched')?.details).toMatchObject({
      launchId,
      startedOutside: true,
    });
    expect(recorded.events.slice(eventsBefore)).toContainEqual(
      expect.objectContaining({
        type: 'campaign.state.changed',
        data: expect.objectContaining({ from: 'scheduled', reason: 'activated-outside-before-start' }),
      }),
    );
    await expectWatched(stack.ctx, campaignId);
  });

  it("takes over, at its start, a campaign an operator activated while the delayed activation's write was on its way", async () => {
    // Due now, still scheduled: the activation job at its start sends its activating write, and just
    // before it goes out an operator activates the campaign in the console (409, found active). Not
    // the scheduled start: no scheduled-start announcement, the operator's start taken over.
    const { created, launchId, deps } = await scheduledWithRecord(stack.ctx);
    beforeActivation = async (campaignId) => {
      expect((await patchOnSandbox(stack.sandbox, campaignId, { status: 'active' })).status).toBe(200);
    };
    const eventsBefore = recorded.events.length;
    const { job } = fakeActivationJob(created.id, launchId);

    expect(await processActivate(deps, job, 'token')).toMatchObject({
      outcome: 'succeeded',
      campaignStatus: 'active',
    });

    expect(beforeActivation, 'the console activated it first').toBeUndefined();
    expect((await stack.ctx.cxone.getCampaign(created.id)).dialerSettings.callRate).toBeLessThan(0.5);
    const record = await deps.campaigns.get(created.id);
    expect(record).toMatchObject({ startedOutside: { from: 'scheduled' } });
    expect(record?.activationSent).toBeUndefined();
    expect(
      recorded.audit.filter(
        (a) => a.campaignId === created.id && a.action === 'state_changed' && a.details.changedIn === 'cxone',
      ),
    ).toEqual([
      expect.objectContaining({
        details: expect.objectContaining({ launchId, from: 'scheduled', to: 'active', changedIn: 'cxone' }),
      }),
    ]);
    const changes = recorded.events.slice(eventsBefore).filter((e) => e.type === 'campaign.state.changed');
    expect(changes.map((e) => e.data.reason)).toEqual(['activated-outside-before-start']);
    expect((await deps.launches.get(launchId))?.activatedAt).toBeDefined();
    await expectWatched(stack.ctx, created.id);
  });

  it("is spared and watched when an operator activated it after CXone refused its launch's own activation", async () => {
    // Due now: the launch's activating write meets CXone's 429 (never applied; the job is put back for
    // a later try) and, before anything runs it again, an operator activates the campaign in the
    // console — CXone throttling the fleet, the operator starting it by hand. The note of an activating
    // write that CXone refused must not make the operator's activation read as the orchestrator's.
    const { launchId, queued, deps } = await dueNowLaunch();
    beforeActivation = () =>
      scriptFaults(stack.sandbox, { failNext: 1, status: 429, endpoint: CXONE_ENDPOINTS.updateCampaign });
    await expect(processLaunch(deps, queued)).rejects.toThrow();
    expect(beforeActivation, 'the activating write was tried').toBeUndefined();
    expect((await sandboxFaults(stack.sandbox)).scripted, 'it met the 429').toEqual([]);
    const campaignId = await campaignOf(deps, launchId);
    expect(sandboxStatus(stack.sandbox, campaignId), 'not activated by the launch').toBe('scheduled');
    expect((await deps.campaigns.get(campaignId))?.activationSent).toBeUndefined();
    expect((await patchOnSandbox(stack.sandbox, campaignId, { status: 'active' })).status).toBe(200);

    await giveUp(deps, queued);

    const launch = await expectSpared(deps, launchId, campaignId);
    expect(launch?.cleanupError).toContain('it is watched');
    expect(await deps.campaigns.get(campaignId)).toMatchObject({ startedOutside: { from: 'scheduled' } });
    await expectWatched(stack.ctx, campaignId);
  });

  it("is spared when an operator activated it after its launch's activation met a 401 and no fresh token came", async () => {
    // Due now: the activating write is sent with a token CXone revoked meanwhile (401: refused, not
    // applied) and the fresh token it waits for to send it again fails at the token endpoint (503):
    // that write never left a second time. Its note must be taken back as for any refused write.
    const { launchId, queued, deps } = await dueNowLaunch();
    beforeActivation = async () => {
      expect((await fetch(`${stack.sandbox.url}/__sandbox/tokens`, { method: 'DELETE' })).status).toBe(200);
      await scriptFaults(stack.sandbox, { failNext: 1, status: 503, endpoint: CXONE_ENDPOINTS.token });
    };
    await expect(processLaunch(deps, queued)).rejects.toThrow(CXONE_ENDPOINTS.token);
    expect(beforeActivation, 'the activating write was tried').toBeUndefined();
    expect((await sandboxFaults(stack.sandbox)).scripted, 'the token request met the 503').toEqual([]);
    const campaignId = await campaignOf(deps, launchId);
    expect(sandboxStatus(stack.sandbox, campaignId), 'not activated by the launch').toBe('scheduled');
    expect((await deps.campaigns.get(campaignId))?.activationSent).toBeUndefined();
    expect((await patchOnSandbox(stack.sandbox, campaignId, { status: 'active' })).status).toBe(200);

    await giveUp(deps, queued);

    await expectSparedAndWatched(deps, launchId, campaignId);
  });

  it("is still cancelled when another run of its launch activated it while this run's activation was on its way", async () => {
    // Due now: two runs of one launch (one lost its job's lock to a stalled worker, the other took the
    // job) send the same activating write on the same version; the other's lands first, so CXone
    // refuses this one (409) and the re-read finds the campaign active — at the safe start this run's
    // write carried: the launch's own activation, not an operator's. This run then dies before
    // recording the outcome, and the launch is given up: its cleanup cancels the campaign.
    const { launchId, queued, deps } = await dueNowLaunch();
    beforeActivation = (_campaignId, ...write) => stack.ctx.cxone.updateCampaign(...write);
    await runDyingBeforeFinish(deps, queued);
    expect(beforeActivation, 'the other run activated it first').toBeUndefined();
    const campaignId = await campaignOf(deps, launchId);
    expect((await stack.ctx.cxone.getCampaign(campaignId)).dialerSettings.callRate).toBeLessThan(0.5);
    expect((await deps.campaigns.get(campaignId))?.activationSent).toBeDefined();

    await giveUp(deps, queued);

    expect(sandboxStatus(stack.sandbox, campaignId), 'its own launch activated it').toBe('cancelled');
    const launch = await deps.launches.get(launchId);
    expect(launch).toMatchObject({ status: 'failed', campaignId, cancelled: true });
    expect(launch?.cleanupError).toBeUndefined();
    const outside = recorded.audit.filter(
      (a) => a.campaignId === campaignId && a.action === 'state_changed' && a.details.changedIn === 'cxone',
    );
    expect(outside, 'no start outside the orchestrator recorded').toEqual([]);
    const launched = recorded.audit.find(
      (a) => a.campaignId === campaignId && a.action === 'campaign_launched',
    );
    expect(launched, 'its own activation recorded as launched').toBeDefined();
    expect(launched!.details).not.toHaveProperty('startedOutside');
  });

  it('is spared when an operator lowered it to the safe start and activated it while its activation was on its way', async () => {
    // Due now: while the launch's activating write is on its way, an operator brings the campaign down
    // to the lowest rate (the very rate of the safe start) and activates it in the console, two saves:
    // the write meets a 409 and the re-read finds it active at that rate — but two versions past the
    // one the write named, which another run's identical write (one version) cannot make. The
    // operator's start: a failure of the launch leaves it running, watched.
    const { launchId, queued, deps } = await dueNowLaunch();
    beforeActivation = async (campaignId, _id, _version, body) => {
      const rate = body.dialerSettings?.callRate;
      expect(rate, 'the write carries a safe start').toBeDefined();
      expect(
        (await patchOnSandbox(stack.sandbox, campaignId, { dialerSettings: { callRate: rate } })).status,
      ).toBe(200);
      expect((await patchOnSandbox(stack.sandbox, campaignId, { status: 'active' })).status).toBe(200);
    };
    await runDyingBeforeFinish(deps, queued);
    expect(beforeActivation, 'the operator activated it first').toBeUndefined();
    const campaignId = await campaignOf(deps, launchId);
    expect((await deps.campaigns.get(campaignId))?.activationSent).toBeUndefined();

    await giveUp(deps, queued);

    await expectSparedAndWatched(deps, launchId, campaignId);
  });

  it('is watched, not said to stay scheduled, when its activation at the start fails for good after it went active', async () => {
    // Due now; an earlier run's activating write went through with its answer lost, so this last
    // attempt finds the campaign active — and Redis refuses the record's sync once.
    const { created, scheduled, launchId, deps } = await scheduledWithRecord(stack.ctx, {
      activationNoted: true,
    });
    await stack.ctx.cxone.updateCampaign(created.id, scheduled.version, { status: 'active' });
    const { campaigns, refusal } = syncRefusedOnce(deps.campaigns);

    await expect(
      processActivate({ ...deps, campaigns }, lastActivationAttempt(created.id, launchId), 'token'),
    ).rejects.toThrow('OOM');

    expect(refusal.refused, 'the sync was refused').toBe(true);
    expect(sandboxStatus(stack.sandbox, created.id)).toBe('active');
    await expectWatched(stack.ctx, created.id);
    const launch = await deps.launches.get(launchId);
    expectSaysActiveAndWatched(launch?.activationError);
    expect(launch?.campaignStatus).toBe('active');
    expectActivationFailureWatched(created.id);
  });

  it('is watched, not said to stay scheduled, when its activation at the start activates it and then fails for good', async () => {
    // Due now, still scheduled: this last attempt's own activating write goes through — and Redis
    // refuses the record's sync after it. The campaign dials, activated by this very run.
    const { created, launchId, deps } = await scheduledWithRecord(stack.ctx);
    // Only the sync after its activating write, of the campaign it made active.
    const { campaigns, refusal } = syncRefusedOnce(deps.campaigns, (status) => status === 'active');

    await expect(
      processActivate({ ...deps, campaigns }, lastActivationAttempt(created.id, launchId), 'token'),
    ).rejects.toThrow('OOM');

    expect(refusal.refused, 'the sync was refused').toBe(true);
    expect(sandboxStatus(stack.sandbox, created.id), 'activated by this run').toBe('active');
    await expectWatched(stack.ctx, created.id);
    const launch = await deps.launches.get(launchId);
    expectSaysActiveAndWatched(launch?.activationError);
    expect((await deps.campaigns.get(created.id))?.activationFailed).toBeUndefined();
    expectActivationFailureWatched(created.id);
  });

  it('is watched, not said to stay scheduled, when the last activation at its start is applied with its answer lost', async () => {
    // Due now, still scheduled: this last attempt's activating write is carried out by CXone, whose
    // gateway answers 504 (the answer lost). The campaign dials; nothing is left to try again.
    const { created, launchId, deps } = await scheduledWithRecord(stack.ctx);
    await scriptFaults(stack.sandbox, {
      failNext: 1,
      status: 504,
      applied: true,
      endpoint: CXONE_ENDPOINTS.updateCampaign,
    });

    await expect(
      processActivate(deps, lastActivationAttempt(created.id, launchId), 'token'),
    ).rejects.toThrow();

    expect((await sandboxFaults(stack.sandbox)).scripted, 'the activation met the 504').toEqual([]);
    expect(sandboxStatus(stack.sandbox, created.id), 'activated all the same').toBe('active');
    await expectWatched(stack.ctx, created.id);
    const launch = await deps.launches.get(launchId);
    expect(launch?.activationError).toContain('runs on CXone (active)');
    expect(launch?.activationError).not.toContain('stays scheduled');
    expect((await deps.campaigns.get(created.id))?.activationFailed).toBeUndefined();
  });

  it('still cancels a campaign its own launch activated before failing', async () => {
    // Due now: the launch activates it itself, then dies before recording the outcome.
    const { launchId, queued, deps } = await dueNowLaunch();
    await runDyingBeforeFinish(deps, queued);
    const campaignId = await campaignOf(deps, launchId);
    expect(sandboxStatus(stack.sandbox, campaignId), 'activated by its launch').toBe('active');

    await giveUp(deps, queued);

    expect(sandboxStatus(stack.sandbox, campaignId)).toBe('cancelled');
    const launch = await deps.launches.get(launchId);
    expect(launch).toMatchObject({ status: 'failed', campaignId, cancelled: true });
    expect(launch?.cleanupError).toBeUndefined();
  });
});
