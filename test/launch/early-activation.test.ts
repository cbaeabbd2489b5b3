import { randomUUID } from 'node:crypto';
import { DelayedError } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditTrailStore } from '../../src/shared/audit/trail.js';
import { campaignConfigSchema } from '../../src/shared/campaign-schema.js';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import type { EventPublisherStore } from '../../src/shared/events/publisher.js';
import { createLaunchStore } from '../../src/shared/launch-store.js';
import { toCreateCampaignRequest } from '../../src/shared/cxone/to-wire.js';
import { CXONE_ENDPOINTS } from '../../src/shared/cxone/wire.js';
import { cxoneCalls } from '../../src/shared/metrics.js';
import { pollSchedulerId } from '../../src/shared/polling/schedulers.js';
import { SCHEDULED_CHECK_MIN_MS } from '../../src/workers/launch-plan.js';
import { campaignView } from '../../src/producers/routes/campaigns.js';
import { processActivate } from '../../src/workers/launch-worker.js';
import { historyJobId } from '../../src/shared/audit/history-sync.js';
import { safeStartPacingRecord } from '../../src/shared/pacing/safe-start.js';
import { startingCallRate } from '../../src/shared/pacing/start.js';
import { recordStartedOutside } from '../../src/shared/started-outside.js';
import { campaignConfig, patchOnSandbox, startStack, type Stack } from '../e2e/stack.js';
import { scriptFaults } from '../support/sandbox-faults.js';
import { fakeActivationJob, launchWorkerDeps, succeededLaunch } from './activation-job.js';

/**
 * A scheduled campaign's activation job wakes before the start to look at it: one activated in CXone
 * behind the orchestrator's back is taken over (polled, kept to its windows) instead of dialing
 * unwatched until its planned start. Real Redis, the sandbox over HTTP.
 */
describe('the activation job before a scheduled start', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ api: false });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const startIn2Days = () => new Date(Date.now() + 2 * 86_400_000).toISOString().replace(/\.\d{3}Z$/, 'Z');

  async function scheduledCampaign(launchId: string) {
    const config = campaignConfigSchema.parse(campaignConfig({ startDateTime: startIn2Days() }));
    const created = await stack.ctx.cxone.createCampaign(toCreateCampaignRequest(config));
    const scheduled = await stack.ctx.cxone.updateCampaign(created.id, created.version, {
      status: 'scheduled',
    });
    await createCampaignStore(stack.ctx).syncFromCxone(scheduled, { config, launchId });
    return { id: created.id, config, scheduled };
  }

  const deps = () => launchWorkerDeps(stack.ctx);

  it('looks again at the next check, not at the start, while the campaign waits for it', async () => {
    const { id } = await scheduledCampaign('launch-early-wait');
    // Counted now: prom-client hands out its own value objects, which later calls go on counting in,
    // and the counter is the process's, which earlier test files in it may have counted in already.
    const callsTo = async (endpoint: string) =>
      (await cxoneCalls.get()).values
        .filter((v) => v.labels.endpoint === endpoint)
        .reduce((n, v) => n + v.value, 0);
    const gets = await callsTo(CXONE_ENDPOINTS.getCampaign);
    const updates = await callsTo(CXONE_ENDPOINTS.updateCampaign);
    const { job, delayedTo } = fakeActivationJob(id, 'launch-early-wait');
    const started = Date.now();
    await expect(processActivate(deps(), job, 'token')).rejects.toBeInstanceOf(DelayedError);

    expect(delayedTo).toHaveLength(1);
    // The next look, not the start two days ahead.
    expect(delayedTo[0]! - started).toBeGreaterThanOrEqual(SCHEDULED_CHECK_MIN_MS);
    expect(delayedTo[0]! - started).toBeLessThan(3_600_000);
    expect((await callsTo(CXONE_ENDPOINTS.getCampaign)) - gets).toBe(1);
    expect((await callsTo(CXONE_ENDPOINTS.updateCampaign)) - updates).toBe(0);
    expect((await stack.ctx.cxone.getCampaign(id)).status).toBe('scheduled');
    expect(await stack.ctx.queues.poll.getJobScheduler(pollSchedulerId(id))).toBeUndefined();
    expect(await (stack.ctx.audit as AuditTrailStore).list(id)).toEqual([]);
  });

  it('takes over a campaign activated in CXone before its start: audited, polled, at the safe start', async () => {
    const { id, scheduled } = await scheduledCampaign('launch-early-active');
    // Someone starts it in CXone's console two days early.
    const changed = await patchOnSandbox(stack.sandbox, id, { status: 'active' });
    expect(changed.status).toBe(200);
    const { job, delayedTo } = fakeActivationJob(id, 'launch-early-active');

    const result = await processActivate(deps(), job, 'token');

    expect(result).toMatchObject({ outcome: 'succeeded', campaignStatus: 'active' });
    // CXone's account of who activated it is imported into the trail shortly.
    const importJob = await stack.ctx.queues.audit.getJob(historyJobId(id, Number(changed.body.version)));
    expect(importJob?.data).toEqual({ campaignId: id, version: changed.body.version });
    expect(delayedTo).toEqual([]);
    expect(await stack.ctx.queues.poll.getJobScheduler(pollSchedulerId(id))).toBeDefined();
    const record = await createCampaignStore(stack.ctx).get(id);
    expect(record).toMatchObject({ status: 'active' });
    expect(record!.version).toBeGreaterThan(scheduled.version);
    const trail = await (stack.ctx.audit as AuditTrailStore).list(id);
    expect(trail.map((r) => r.action)).toEqual(['state_changed', 'campaign_launched', 'pacing_decision']);
    expect(trail[0]!.details).toMatchObject({
      from: 'scheduled',
      to: 'active',
      changedIn: 'cxone',
      launchId: 'launch-early-active',
    });
    expect(Date.parse(String(trail[0]!.details['plannedStart']))).toBeGreaterThan(Date.now() + 86_400_000);
    // The launch is fulfilled, but its record does not pass the operator's start for the orchestrator's.
    expect(trail[1]!.details).toMatchObject({ launchId: 'launch-early-active', startedOutside: true });
    // It was dialing at the requested 0.5 with no statistic seen: brought down to the safe start,
    // from which pacing ramps up (the record shows the decision).
    const onCxone = await stack.ctx.cxone.getCampaign(id);
    expect(onCxone.dialerSettings.callRate).toBeLessThan(0.5);
    expect(trail[2]!.details).toMatchObject({
      reason: 'safe start',
      previousCallRate: 0.5,
      output: { callRate: onCxone.dialerSettings.callRate },
    });
    expect(record!.config.dialerStrategy.callRate).toBe(onCxone.dialerSettings.callRate);

    // A redelivery records nothing twice and writes nothing again.
    await processActivate(deps(), fakeActivationJob(id, 'launch-early-active').job, 'token');
    expect((await (stack.ctx.audit as AuditTrailStore).list(id)).map((r) => r.action)).toEqual([
      'state_changed',
      'campaign_launched',
      'pacing_decision',
    ]);
    expect((await stack.ctx.cxone.getCampaign(id)).version).toBe(onCxone.version);
  });

  it('takes over, at its start, a campaign activated in CXone since its last look: no write of its own was noted', async () => {
    // Due now (the job woke at its start); an operator started it in the console in the minutes since
    // the last look. No activating write of the orchestrator's is noted on the record, so it is not
    // this job's own activation with its answer lost: the trail says who did not start it, and it is
    // brought down to the safe start.
    const config = campaignConfigSchema.parse(campaignConfig());
    const created = await stack.ctx.cxone.createCampaign(toCreateCampaignRequest(config));
    const scheduled = await stack.ctx.cxone.updateCampaign(created.id, created.version, {
      status: 'scheduled',
    });
    await createCampaignStore(stack.ctx).syncFromCxone(scheduled, { config, launchId: 'launch-at-start' });
    expect((await patchOnSandbox(stack.sandbox, created.id, { status: 'active' })).status).toBe(200);

    const result = await processActivate(
      deps(),
      fakeActivationJob(created.id, 'launch-at-start').job,
      'token',
    );

    expect(result).toMatchObject({ outcome: 'succeeded', campaignStatus: 'active' });
    const trail = await (stack.ctx.audit as AuditTrailStore).list(created.id);
    expect(trail[0]).toMatchObject({
      action: 'state_changed',
      details: { from: 'scheduled', to: 'active', changedIn: 'cxone', launchId: 'launch-at-start' },
    });
    expect((await stack.ctx.cxone.getCampaign(created.id)).dialerSettings.callRate).toBeLessThan(0.5);
    expect(await stack.ctx.queues.poll.getJobScheduler(pollSchedulerId(created.id))).toBeDefined();
  });

  it('records the takeover also when a read refreshed the campaign record first', async () => {
    const { id } = await scheduledCampaign('launch-early-read');
    expect((await patchOnSandbox(stack.sandbox, id, { status: 'active' })).status).toBe(200);
    // An operator's GET /v1/campaigns/:id (or a command) stores what CXone says before the look.
    const campaigns = createCampaignStore(stack.ctx);
    await campaigns.syncFromCxone(await stack.ctx.cxone.getCampaign(id));
    expect((await campaigns.get(id))?.status).toBe('active');

    const result = await processActivate(deps(), fakeActivationJob(id, 'launch-early-read').job, 'token');

    expect(result).toMatchObject({ outcome: 'succeeded', campaignStatus: 'active' });
    const trail = await (stack.ctx.audit as AuditTrailStore).list(id);
    expect(trail.map((r) => r.action)).toEqual(['state_changed', 'campaign_launched', 'pacing_decision']);
    expect(trail[0]!.details).toMatchObject({ from: 'scheduled', to: 'active', changedIn: 'cxone' });
    expect(await stack.ctx.queues.poll.getJobScheduler(pollSchedulerId(id))).toBeDefined();
  });

  it('records, on the run after a takeover that died once it had marked the record, campaign_launched as started outside', async () => {
    // Due now; an operator's activation beat the job's own write (a 409), and the run took it over:
    // its trail record, its safe start, the record synced with the mark and the start — then died
    // (a Redis blip setting up its watch) before campaign_launched. The next run finds the campaign
    // active and marked, so it is not told it is a takeover, and its record said nothing of it.
    const config = campaignConfigSchema.parse(campaignConfig());
    const created = await stack.ctx.cxone.createCampaign(toCreateCampaignRequest(config));
    const scheduled = await stack.ctx.cxone.updateCampaign(created.id, created.version, {
      status: 'scheduled',
    });
    const campaigns = createCampaignStore(stack.ctx);
    await campaigns.syncFromCxone(scheduled, { config, launchId: 'launch-died-takeover' });
    const active = await patchOnSandbox(stack.sandbox, created.id, { status: 'active' });
    const current = await stack.ctx.cxone.getCampaign(created.id);
    await recordStartedOutside(stack.ctx, current, {
      launchId: 'launch-died-takeover',
      from: 'scheduled',
      reason: "activated outside the orchestrator while its launch's own activation was on its way",
    });
    const start = startingCallRate(config, { dialing: true })!;
    const safe = await stack.ctx.cxone.updateCampaign(created.id, Number(active.body.version), {
      dialerSettings: { callRate: start.callRate },
    });
    const at = new Date().toISOString();
    await campaigns.syncFromCxone(safe, {
      launchId: 'launch-died-takeover',
      pacing: safeStartPacingRecord(start, at),
      startedOutside: { at, from: 'scheduled' },
    });

    const result = await processActivate(
      deps(),
      fakeActivationJob(created.id, 'launch-died-takeover').job,
      'token',
    );

    expect(result).toMatchObject({ outcome: 'succeeded', campaignStatus: 'active' });
    const trail = await (stack.ctx.audit as AuditTrailStore).list(created.id);
    expect(trail.map((r) => r.action)).toEqual(['state_changed', 'campaign_launched']);
    expect(trail[1]!.details).toMatchObject({ launchId: 'launch-died-takeover', startedOutside: true });
    // Nothing written again: its safe start stands.
    expect((await stack.ctx.cxone.getCampaign(created.id)).version).toBe(safe.version);
  });

  it('announces a takeover once, by one event id, when the run that announced it died before marking the record', async () => {
    const { id } = await scheduledCampaign('launch-died-announced');
    await patchOnSandbox(stack.sandbox, id, { status: 'active' });
    // The first run took it over as far as its trail record and its event, then died: nothing else.
    await recordStartedOutside(stack.ctx, await stack.ctx.cxone.getCampaign(id), {
      launchId: 'launch-died-announced',
      from: 'scheduled',
      reason: 'activated outside the orchestrator before its start',
    });

    const result = await processActivate(deps(), fakeActivationJob(id, 'launch-died-announced').job, 'token');

    expect(result).toMatchObject({ outcome: 'succeeded', campaignStatus: 'active' });
    const trail = await (stack.ctx.audit as AuditTrailStore).list(id);
    expect(trail.filter((r) => r.action === 'state_changed')).toHaveLength(1);
    const recent = await (stack.ctx.events as EventPublisherStore).recent(100, id);
    const changed = recent.filter((e) => e.type === 'campaign.state.changed');
    expect(changed.map((e) => [e.data['from'], e.data['to'], e.data['reason']])).toEqual([
      ['scheduled', 'active', 'activated-outside-before-start'],
    ]);
  });

  it('announces an activation given up for good once, by one event id, when the run that announced it died before noting it', async () => {
    // Due now, its last attempt; CXone refuses the activating write. The first run audits and announces
    // the failure, then dies before noting it on the launch (its note lost); the redelivery meets the
    // same refusal.
    const config = campaignConfigSchema.parse(campaignConfig());
    const created = await stack.ctx.cxone.createCampaign(toCreateCampaignRequest(config));
    const scheduled = await stack.ctx.cxone.updateCampaign(created.id, created.version, {
      status: 'scheduled',
    });
    const launchId = await succeededLaunch(stack.ctx, created.id);
    await createCampaignStore(stack.ctx).syncFromCxone(scheduled, { config, launchId });
    const lastAttempt = () => Object.assign(fakeActivationJob(created.id, launchId).job, { attemptsMade: 9 });
    const base = deps();
    const noteLost = Object.assign(Object.create(base.launches) as typeof base.launches, {
      recordActivation: () => Promise.reject(new Error('worker died')),
    });
    for (const launches of [noteLost, base.launches]) {
      await scriptFaults(stack.sandbox, {
        failNext: 1,
        status: 503,
        endpoint: CXONE_ENDPOINTS.updateCampaign,
      });
      await expect(processActivate({ ...base, launches }, lastAttempt(), 'token')).rejects.toThrow();
    }

    const trail = await (stack.ctx.audit as AuditTrailStore).list(created.id);
    expect(trail.filter((r) => r.action === 'launch_failed')).toHaveLength(1);
    const recent = await (stack.ctx.events as EventPublisherStore).recent(100, created.id);
    expect(recent.filter((e) => e.type === 'campaign.launch.failed')).toHaveLength(1);
    expect((await base.launches.get(launchId))?.activationError).toBeDefined();
  });

  it('notes on the launch what came of its activation: stopped before the start, or given up for good', async () => {
    const launches = createLaunchStore(stack.ctx);

    // Stopped by an operator (or in the console) before its start.
    const { id: stopped } = await scheduledCampaign('unused');
    const stoppedLaunch = await succeededLaunch(stack.ctx, stopped);
    expect((await patchOnSandbox(stack.sandbox, stopped, { status: 'cancelled' })).status).toBe(200);
    const skipped = await processActivate(deps(), fakeActivationJob(stopped, stoppedLaunch).job, 'token');
    expect(skipped).toMatchObject({ outcome: 'skipped' });
    const cancelledOnCxone = await stack.ctx.cxone.getCampaign(stopped);
    expect(await launches.get(stoppedLaunch)).toMatchObject({
      status: 'succeeded',
      campaignStatus: 'cancelled',
      cxoneVersion: cancelledOnCxone.version,
    });

    // Due, but never scheduled on CXone: the activation gives up for good.
    const config = campaignConfigSchema.parse(campaignConfig({ startDateTime: new Date().toISOString() }));
    const draft = await stack.ctx.cxone.createCampaign(toCreateCampaignRequest(config));
    const draftLaunch = await succeededLaunch(stack.ctx, draft.id);
    await createCampaignStore(stack.ctx).syncFromCxone(await stack.ctx.cxone.getCampaign(draft.id), {
      config,
      launchId: draftLaunch,
    });
    await expect(
      processActivate(deps(), fakeActivationJob(draft.id, draftLaunch).job, 'token'),
    ).rejects.toThrow(/still draft/);
    const failed = await launches.get(draftLaunch);
    expect(failed).toMatchObject({ status: 'succeeded', campaignStatus: 'scheduled' });
    expect(failed?.activationError).toMatch(/still draft on CXone; it was never scheduled/);
    // The campaign's own view says so too, and plans no activation nobody will run.
    const record = await createCampaignStore(stack.ctx).get(draft.id);
    expect(record?.activationFailed?.reason).toMatch(/still draft on CXone; it was never scheduled/);
    // Seen an hour before its start, when the plan would still lie ahead.
    const hourBefore = Date.parse(record!.config.startDateTime) - 3_600_000;
    expect(
      campaignView({ ...record!, status: 'scheduled', activationFailed: undefined }, false, hourBefore),
    ).toHaveProperty('activateAt');
    const view = campaignView({ ...record!, status: 'scheduled' }, false, hourBefore);
    expect(view.activationFailed).toMatchObject({ reason: expect.stringMatching(/still draft/) });
    expect(view).not.toHaveProperty('activateAt');
  });

  it('does not activate a campaign whose record is gone: the state rules it was launched under would not bind', async () => {
    const config = campaignConfigSchema.parse(
      campaignConfig({
        startDateTime: new Date().toISOString(),
        complianceTimeZone: 'America/New_York',
        recipientStates: ['FL'],
        allowedCallTimes: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '20:00' }],
      }),
    );
    const created = await stack.ctx.cxone.createCampaign(toCreateCampaignRequest(config));
    await stack.ctx.cxone.updateCampaign(created.id, created.version, { status: 'scheduled' });
    const launchId = await succeededLaunch(stack.ctx, created.id);
    // No campaign record: CXone's copy has no recipient states to bind the activation.
    await expect(
      processActivate(deps(), fakeActivationJob(created.id, launchId).job, 'token'),
    ).rejects.toThrow(/no campaign record/);
    expect((await stack.ctx.cxone.getCampaign(created.id)).status).toBe('scheduled');
    expect((await createLaunchStore(stack.ctx).get(launchId))?.activationError).toMatch(
      /recipient states and settings it was launched with are unknown/,
    );
    const trail = await (stack.ctx.audit as AuditTrailStore).list(created.id);
    expect(trail.map((r) => r.action)).toEqual(['launch_failed']);
  });

  it('notes a campaign deleted in CXone as missing, looks again until its start, then gives up', async () => {
    const { scheduled, config } = await scheduledCampaign('unused');
    const launches = createLaunchStore(stack.ctx);
    const campaigns = createCampaignStore(stack.ctx);
    // The same campaign under ids CXone has never heard of: as if deleted in CXone's console.
    const ghostLaunch = async (startDateTime: string) => {
      const ghost = randomUUID();
      const launchId = await succeededLaunch(stack.ctx, ghost);
      await campaigns.syncFromCxone(
        { ...scheduled, id: ghost, startDateTime },
        { config: { ...config, startDateTime }, launchId },
      );
      return { launchId, ghost };
    };

    // Before the start: noted missing once, and looked at again (a 404 may pass).
    const early = await ghostLaunch(scheduled.startDateTime);
    const { job, delayedTo } = fakeActivationJob(early.ghost, early.launchId);
    await expect(processActivate(deps(), job, 'token')).rejects.toBeInstanceOf(DelayedError);
    expect(delayedTo).toHaveLength(1);
    expect((await campaigns.get(early.ghost))?.missingOnCxone).toBeDefined();
    const trail = await (stack.ctx.audit as AuditTrailStore).list(early.ghost);
    expect(trail.map((r) => [r.action, r.actor])).toEqual([['campaign_missing', 'worker:launch']]);
    expect((await launches.get(early.launchId))?.activationError).toBeUndefined();

    // At its start, on the last attempt: the activation gives up, and its launch says why.
    const due = await ghostLaunch(new Date().toISOString());
    const last = fakeActivationJob(due.ghost, due.launchId).job;
    (last as unknown as { attemptsMade: number }).attemptsMade = 9;
    await expect(processActivate(deps(), last, 'token')).rejects.toThrow();
    expect((await launches.get(due.launchId))?.activationError).toMatch(/no longer exists on CXone/);
  });

  it('holds the activation when a console edit breaks the rules of the states it was launched for (which CXone never holds)', async () => {
    const all = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
    const config = campaignConfigSchema.parse(
      campaignConfig({
        startDateTime: startIn2Days(),
        complianceTimeZone: 'America/New_York',
        recipientStates: ['FL'],
        allowedCallTimes: [{ days: [...all], start: '09:00', end: '20:00' }],
      }),
    );
    const created = await stack.ctx.cxone.createCampaign(toCreateCampaignRequest(config));
    const scheduled = await stack.ctx.cxone.updateCampaign(created.id, created.version, {
      status: 'scheduled',
    });
    expect(scheduled.complianceSettings).not.toHaveProperty('recipientStates');
    await createCampaignStore(stack.ctx).syncFromCxone(scheduled, { config, launchId: 'launch-declared' });
    // In the console: an 08:00 start (07:00 in the panhandle). Florida is in our record only.
    const edited = await patchOnSandbox(stack.sandbox, created.id, {
      complianceSettings: { allowedCallTimes: [{ days: [...all], start: '08:00', end: '20:00' }] },
    });
    expect(edited.status).toBe(200);
    const { job, delayedTo } = fakeActivationJob(created.id, 'launch-declared');
    const before = Date.now();

    await expect(processActivate(deps(), job, 'token')).rejects.toBeInstanceOf(DelayedError);

    // Held for the breach (looked at again in 5 minutes), not merely looked at, and recorded.
    expect(delayedTo).toHaveLength(1);
    expect(delayedTo[0]! - before).toBeGreaterThanOrEqual(5 * 60_000 - 1_000);
    const trail = await (stack.ctx.audit as AuditTrailStore).list(created.id);
    expect(trail.map((r) => [r.action, r.details['kind']])).toEqual([
      ['compliance_action', 'outside_change_noncompliant'],
    ]);
    expect(JSON.stringify(trail[0]!.details)).toContain('FL recipients on America/Chicago time');
  });

  it('looks again later when CXone does not answer a look, without failing the activation', async () => {
    const { id } = await scheduledCampaign('launch-early-503');
    await scriptFaults(stack.sandbox, { failNext: 1, status: 503, endpoint: CXONE_ENDPOINTS.getCampaign });
    const { job, delayedTo } = fakeActivationJob(id, 'launch-early-503');
    const started = Date.now();
    // On its last attempt, too: a look that failed is no reason to give the activation up.
    (job as unknown as { attemptsMade: number }).attemptsMade = 9;

    const unavailable = async () =>
      (await cxoneCalls.get()).values.find(
        (v) => v.labels.endpoint === CXONE_ENDPOINTS.getCampaign && String(v.labels.status) === '503',
      )?.value ?? 0;
    const before = await unavailable();

    await expect(processActivate(deps(), job, 'token')).rejects.toBeInstanceOf(DelayedError);

    expect(await unavailable()).toBe(before + 1);
    expect(delayedTo).toHaveLength(1);
    expect(delayedTo[0]! - started).toBeGreaterThanOrEqual(SCHEDULED_CHECK_MIN_MS);
    expect(await (stack.ctx.audit as AuditTrailStore).list(id)).toEqual([]);
    expect((await stack.ctx.cxone.getCampaign(id)).status).toBe('scheduled');
  });
});
