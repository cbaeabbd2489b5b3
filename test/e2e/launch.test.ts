import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditTrailStore } from '../../src/shared/audit/trail.js';
import type { CampaignConfigInput } from '../../src/shared/campaign-config.js';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import { windowJobOf } from '../../src/shared/compliance/enforcement.js';
import { CXONE_ENDPOINTS, type CxoneEndpoint } from '../../src/shared/cxone/wire.js';
import { CxoneValidationError } from '../../src/shared/errors.js';
import { launchAuditId } from '../../src/shared/launch-store.js';
import type { EventPublisherStore } from '../../src/shared/events/publisher.js';
import { activateJobId } from '../../src/shared/jobs.js';
import { historyJobId } from '../../src/shared/audit/history-sync.js';
import { noteMissingOnCxone } from '../../src/shared/campaign-missing.js';
import { pollSchedulerId, stopPolling } from '../../src/shared/polling/schedulers.js';
import { planActivation, SCHEDULED_CHECK_MIN_MS } from '../../src/workers/launch-plan.js';
import {
  api,
  campaignConfig,
  patchOnSandbox,
  sandboxStatus,
  startStack,
  waitFor,
  waitForLaunch,
  zoneAtNight,
  type Stack,
} from './stack.js';
import { sandboxCounters } from '../support/sandbox-counters.js';

/**
 * Launch end to end: API → Redis/BullMQ → launch worker → sandbox over real HTTP, with 1-second
 * OAuth tokens so the client's refresh path is exercised on the way.
 */
describe('launch pipeline', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ launchWorker: true, sandbox: { tokenTtlSeconds: 1 } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const audit = () => stack.ctx.audit as AuditTrailStore;
  /**
   * Starts counting the CXone calls this stack's sandbox receives (the launch worker is the only
   * caller here); the function it returns gives, per endpoint, how many came since. The sandbox's own
   * counts, not the process's metric: an earlier test file that shared this process counted there too.
   */
  const countCalls = async () => {
    const before = await sandboxCounters(stack.sandbox);
    return async () => {
      const after = await sandboxCounters(stack.sandbox);
      return (endpoint: CxoneEndpoint) =>
        (after[endpoint]?.requests ?? 0) - (before[endpoint]?.requests ?? 0);
    };
  };

  it('creates and activates a campaign whose start has come, inside its calling window', async () => {
    const callsSince = await countCalls();
    const reply = await api(stack, 'POST', '/v1/campaigns', { body: campaignConfig({ name: 'Now' }) });
    expect(reply.status).toBe(202);
    const launch = await waitForLaunch(stack, String(reply.body.launchId));
    expect(launch).toMatchObject({ status: 'succeeded', campaignStatus: 'active' });
    // Create, schedule, activate: each write builds on the resource the previous one returned, so
    // the launch spends no rate-limited call on reading back what it just wrote.
    const made = await callsSince();
    expect(made(CXONE_ENDPOINTS.createCampaign)).toBe(1);
    expect(made(CXONE_ENDPOINTS.updateCampaign)).toBe(2);
    expect(made(CXONE_ENDPOINTS.getCampaign)).toBe(0);
    const campaignId = String(launch.campaignId);
    expect(sandboxStatus(stack.sandbox, campaignId)).toBe('active');

    const view = await api(stack, 'GET', `/v1/campaigns/${campaignId}`);
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({ campaignId, status: 'active', launchId: reply.body.launchId });
    expect((view.body.config as { name: string }).name).toBe('Now');

    const actions = (await audit().list(campaignId)).map((r) => r.action);
    expect(actions).toEqual(expect.arrayContaining(['campaign_created', 'campaign_launched']));
    const launched = (await audit().list(campaignId)).find((r) => r.action === 'campaign_launched');
    expect(launched?.cxoneVersion).toBeGreaterThanOrEqual(3);
    expect(launched?.details).not.toHaveProperty('startedOutside');
    const requested = await audit().list(launchAuditId(String(reply.body.launchId)));
    expect(requested.map((r) => r.action)).toEqual(['launch_requested']);
    expect(requested[0]?.actor).toMatch(/^api:/);

    // Watching starts with the campaign: a stats poll scheduler and a calling-window job.
    expect(await stack.ctx.queues.poll.getJobScheduler(`poll:${campaignId}`)).toBeTruthy();
    const windowJobs = await stack.ctx.queues.compliance.getJobs(['delayed', 'waiting']);
    expect(windowJobs.some((j) => windowJobOf(j).campaignId === campaignId)).toBe(true);
  });

  it('turns a future start into a delayed activation job that activates when due', async () => {
    const callsSince = await countCalls();
    // Far enough ahead that the launch is through before it even on a loaded machine (had the start
    // passed by then, the campaign would go active at once, never scheduled).
    const start = DateTime.now().plus({ seconds: 6 });
    const reply = await api(stack, 'POST', '/v1/campaigns', {
      body: campaignConfig({ name: 'Soon', startDateTime: start.toISO() ?? '' }),
    });
    const launch = await waitForLaunch(stack, String(reply.body.launchId));
    expect(launch).toMatchObject({ status: 'succeeded', campaignStatus: 'scheduled' });
    const campaignId = String(launch.campaignId);
    expect(Date.parse(String(launch.activateAt))).toBe(start.toMillis());
    expect(sandboxStatus(stack.sandbox, campaignId)).toBe('scheduled');
    const job = await stack.ctx.queues.launch.getJob(activateJobId(campaignId));
    expect(await job?.getState()).toBe('delayed');

    await waitFor(
      'scheduled campaign to go active',
      async () => sandboxStatus(stack.sandbox, campaignId) === 'active',
      20_000,
    );
    expect(Date.now()).toBeGreaterThanOrEqual(start.toMillis());
    // The safe start's record is appended after the activation's: waited for, not raced.
    const actions = await waitFor('activation audit records', async () => {
      const list = (await audit().list(campaignId)).map((r) => r.action);
      return list.includes('campaign_launched') && list.includes('pacing_decision') ? list : undefined;
    });
    // The activation job reads the campaign once (its start may have been changed meanwhile) and
    // activates on that version; no second read.
    const made = await callsSince();
    expect(made(CXONE_ENDPOINTS.getCampaign)).toBe(1);
    expect(made(CXONE_ENDPOINTS.updateCampaign)).toBe(2);
    // The default config (predictive, callRate 0.5 at answerRate 0.3, abandonment-target pacing)
    // activates at the safe start rate, audited as a pacing decision.
    expect(actions).toEqual(['campaign_created', 'state_changed', 'campaign_launched', 'pacing_decision']);
    // The launch no longer reads "scheduled" once its campaign dials.
    const activated = await waitFor('the launch to show the activation', async () => {
      const view = (await api(stack, 'GET', `/v1/launches/${String(reply.body.launchId)}`)).body;
      return view.campaignStatus === 'active' ? view : undefined;
    });
    expect(activated).toMatchObject({ status: 'succeeded', activateAt: launch.activateAt });
    expect(Date.parse(String(activated.activatedAt))).toBeGreaterThanOrEqual(start.toMillis());
    expect(activated.cxoneVersion).toBe((await stack.ctx.cxone.getCampaign(campaignId)).version);
  });

  it('re-checks the calling window at activation: changed windows move the activation', async () => {
    const zone = campaignConfig().complianceTimeZone;
    // Far enough ahead for the launch and the change on CXone below to come before it on a loaded
    // machine (an activation that ran first would find the old windows and dial).
    const start = DateTime.now().plus({ seconds: 5 });
    const reply = await api(stack, 'POST', '/v1/campaigns', {
      body: campaignConfig({ name: 'Moved', startDateTime: start.toISO() ?? '' }),
    });
    const launch = await waitForLaunch(stack, String(reply.body.launchId));
    const campaignId = String(launch.campaignId);
    // Before the start, someone narrows the windows on CXone to an hour that is not now.
    const allDays = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
    const patched = await patchOnSandbox(stack.sandbox, campaignId, {
      complianceSettings: { allowedCallTimes: [{ days: allDays, start: '08:00', end: '09:00' }] },
    });
    expect(patched.status).toBe(200);

    const job = await stack.ctx.queues.launch.getJob(activateJobId(campaignId));
    const firstRun = job?.timestamp ?? 0;
    await waitFor(
      'the activate job to move itself',
      async () => {
        const j = await stack.ctx.queues.launch.getJob(activateJobId(campaignId));
        return j && (await j.getState()) === 'delayed' && j.processedOn ? j : undefined;
      },
      20_000,
    );
    const moved = await stack.ctx.queues.launch.getJob(activateJobId(campaignId));
    const nextOpen = DateTime.now()
      .setZone(zone)
      .plus({ days: 1 })
      .set({ hour: 8, minute: 0, second: 0, millisecond: 0 });
    // The record follows CXone, and the activation is planned from the narrowed windows: tomorrow's open.
    const record = await createCampaignStore(stack.ctx).get(campaignId);
    expect(record?.config.allowedCallTimes).toEqual([{ days: allDays, start: '08:00', end: '09:00' }]);
    expect(planActivation(record!.config, Date.now()).activateAtMs).toBe(nextOpen.toMillis());
    // The launch says the moved time too, as the campaign's view does.
    const relaunch = (await api(stack, 'GET', `/v1/launches/${String(reply.body.launchId)}`)).body;
    expect(Date.parse(String(relaunch.activateAt))).toBe(nextOpen.toMillis());
    // Until then the job wakes only to look at the campaign (one activated in CXone meanwhile is
    // taken over). BullMQ keeps the due time only approximately: `delay` counts from the move, made
    // while the run that began at processedOn went on (timestamp + delay is early by the whole time
    // from the job's creation to that run: the start's lead and the wait for a worker).
    const dueAt = (moved?.processedOn ?? 0) + (moved?.delay ?? 0);
    expect(dueAt - Date.now()).toBeGreaterThan(SCHEDULED_CHECK_MIN_MS - 5_000);
    expect(dueAt).toBeLessThan(nextOpen.toMillis());
    expect(moved?.timestamp).toBeGreaterThanOrEqual(firstRun);
    expect(sandboxStatus(stack.sandbox, campaignId)).toBe('scheduled');
  });

  it('moves a start outside the calling window to the next window open', async () => {
    const zone = zoneAtNight();
    const reply = await api(stack, 'POST', '/v1/campaigns', {
      body: campaignConfig({ name: 'Night', complianceTimeZone: zone }),
    });
    const launch = await waitForLaunch(stack, String(reply.body.launchId));
    expect(launch).toMatchObject({ status: 'succeeded', campaignStatus: 'scheduled' });
    const activateAt = DateTime.fromISO(String(launch.activateAt), { zone });
    expect(activateAt.toFormat('HH:mm')).toBe('08:00');
    expect(activateAt.toMillis()).toBeGreaterThan(Date.now());
    expect(sandboxStatus(stack.sandbox, String(launch.campaignId))).toBe('scheduled');
    // The campaign's own view says when, for an operator who holds only the campaign id.
    const view = await api(stack, 'GET', `/v1/campaigns/${String(launch.campaignId)}`);
    expect(view.body).toMatchObject({ status: 'scheduled', activateAt: launch.activateAt });
    // Both answers are documented field by field in the OpenAPI document (its schemas are open, so
    // a field left out would still validate).
    const doc = (await api(stack, 'GET', '/docs/json')).body as {
      components: { schemas: Record<string, { properties: Record<string, unknown> }> };
    };
    const undocumented = (body: Record<string, unknown>, schema: string) =>
      Object.keys(body).filter((k) => !(k in (doc.components.schemas[schema]?.properties ?? {})));
    expect(undocumented(launch, 'LaunchStatus')).toEqual([]);
    expect(undocumented(view.body, 'CampaignView')).toEqual([]);
    // Its activation job first wakes for a look at the campaign, well before the start.
    const job = await stack.ctx.queues.launch.getJob(activateJobId(String(launch.campaignId)));
    expect(job?.delay).toBeGreaterThanOrEqual(SCHEDULED_CHECK_MIN_MS);
    expect((job?.timestamp ?? 0) + (job?.delay ?? 0)).toBeLessThan(activateAt.toMillis() - 60_000);
  });

  it("moves a start on one of the campaign's blackout dates to the first open after it", async () => {
    const config = campaignConfig({ name: 'Day off' });
    const zone = config.complianceTimeZone;
    const today = DateTime.now().setZone(zone);
    const reply = await api(stack, 'POST', '/v1/campaigns', {
      body: { ...config, blackoutDates: [today.toISODate()] },
    });
    expect(reply.status).toBe(202);
    const launch = await waitForLaunch(stack, String(reply.body.launchId));
    // Inside its window by the clock, but not on this date: scheduled for tomorrow's 08:00 there.
    expect(launch).toMatchObject({ status: 'succeeded', campaignStatus: 'scheduled' });
    const activateAt = DateTime.fromISO(String(launch.activateAt), { zone });
    expect(activateAt.toISODate()).toBe(today.plus({ days: 1 }).toISODate());
    expect(activateAt.toFormat('HH:mm')).toBe('08:00');
    const view = await api(stack, 'GET', `/v1/campaigns/${String(launch.campaignId)}`);
    expect(view.body).toMatchObject({
      status: 'scheduled',
      config: { blackoutDates: [today.toISODate()] },
    });
    // The orchestrator's own field: CXone never holds it.
    expect(JSON.stringify(stack.sandbox.getCampaignState(String(launch.campaignId)))).not.toMatch(
      /blackout/i,
    );
  });

  it('refreshes a stale view from CXone, and CXone wins where the two disagree', async () => {
    const reply = await api(stack, 'POST', '/v1/campaigns', { body: campaignConfig({ name: 'Drift' }) });
    const launch = await waitForLaunch(stack, String(reply.body.launchId));
    const campaignId = String(launch.campaignId);
    const version = Number((await api(stack, 'GET', `/v1/campaigns/${campaignId}`)).body.version);

    // Someone changes the campaign on CXone directly (CXone admin console, another tool).
    const patched = await patchOnSandbox(stack.sandbox, campaignId, { dialerSettings: { callRate: 0.9 } });
    expect(patched.status).toBe(200);

    // Still fresh: the cached view is served as is — what CXone said at activation, where the safe
    // start lowered the requested 0.5 to 0.1 (one line per idle agent, whatever answerRate declares).
    const cached = await api(stack, 'GET', `/v1/campaigns/${campaignId}`);
    expect((cached.body.config as { dialerStrategy: { callRate: number } }).dialerStrategy.callRate).toBe(
      0.1,
    );

    // Once stale, the view is read again from CXone, which wins.
    await createCampaignStore(stack.ctx).patch(campaignId, { syncedAt: '2000-01-01T00:00:00.000Z' });
    const refreshed = await api(stack, 'GET', `/v1/campaigns/${campaignId}`);
    expect(refreshed.body.version).toBe(version + 1);
    expect((refreshed.body.config as { dialerStrategy: { callRate: number } }).dialerStrategy.callRate).toBe(
      0.9,
    );
    expect(refreshed.body.stale).toBeUndefined();
    // And the trail will get CXone's account of who changed it.
    const job = await stack.ctx.queues.audit.getJob(historyJobId(campaignId, version + 1));
    expect(job?.data).toEqual({ campaignId, version: version + 1 });
    // Receivers hear of it too, as when a poll finds it: the poll that follows finds the record at
    // CXone's version already, so a read that synced without telling left the change untold for good.
    const told = (await (stack.ctx.events as EventPublisherStore).recent(50, campaignId)).filter(
      (e) => e.type === 'campaign.settings.changed',
    );
    expect(told.map((e) => e.data)).toEqual([
      {
        changes: [{ field: 'dialerStrategy.callRate', from: 0.1, to: 0.9 }],
        version: version + 1,
        reason: 'outside',
      },
    ]);
  });

  it('keeps the recipient states in its own record: CXone is never sent them, and a sync from CXone keeps them', async () => {
    const example = JSON.parse(
      readFileSync(new URL('../../examples/campaign.json', import.meta.url), 'utf8'),
    ) as CampaignConfigInput;
    expect(example.recipientStates).toEqual(['NY', 'NJ', 'PA']);
    // The example itself: active inside New York's 08:00–21:00, scheduled for 08:00 outside it.
    const reply = await api(stack, 'POST', '/v1/campaigns', { body: { ...example, name: 'States' } });
    expect(reply.status).toBe(202);
    const launch = await waitForLaunch(stack, String(reply.body.launchId));
    expect(launch.status).toBe('succeeded');
    const campaignId = String(launch.campaignId);
    const onCxone = stack.sandbox.getCampaignState(campaignId) as {
      resource: { complianceSettings: Record<string, unknown> };
    };
    expect(Object.keys(onCxone.resource.complianceSettings).sort()).toEqual([
      'allowedCallTimes',
      'doNotCallListCheck',
      'regulatoryCompliance',
      'timeZone',
    ]);
    const statesOf = (body: Record<string, unknown>) =>
      (body.config as { recipientStates?: string[] }).recipientStates;
    expect(statesOf((await api(stack, 'GET', `/v1/campaigns/${campaignId}`)).body)).toEqual([
      'NY',
      'NJ',
      'PA',
    ]);

    // Changed in CXone's console, then read again from CXone (a stale view's GET): the states stay.
    expect((await patchOnSandbox(stack.sandbox, campaignId, { name: 'States, renamed' })).status).toBe(200);
    const store = createCampaignStore(stack.ctx);
    await store.patch(campaignId, { syncedAt: '2000-01-01T00:00:00.000Z' });
    const refreshed = await api(stack, 'GET', `/v1/campaigns/${campaignId}`);
    expect((refreshed.body.config as { name: string }).name).toBe('States, renamed');
    expect(statesOf(refreshed.body)).toEqual(['NY', 'NJ', 'PA']);
    // A poll's sync stores CXone's resource the same way.
    await store.syncFromCxone(await stack.ctx.cxone.getCampaign(campaignId));
    const record = await store.get(campaignId);
    expect(record?.config.recipientStates).toEqual(['NY', 'NJ', 'PA']);
    expect(record?.cxone.complianceSettings).not.toHaveProperty('recipientStates');
    // Kept apart too, so a sync writing the config from a copy without them cannot drop them.
    expect(record?.declaredStates).toEqual(['NY', 'NJ', 'PA']);
    const { recipientStates: _dropped, ...withoutStates } = record!.config;
    await store.syncFromCxone(await stack.ctx.cxone.getCampaign(campaignId), { config: withoutStates });
    expect((await store.get(campaignId))?.config.recipientStates).toEqual(['NY', 'NJ', 'PA']);
  });

  it('says so when CXone no longer knows a campaign, and records it once', async () => {
    const reply = await api(stack, 'POST', '/v1/campaigns', { body: campaignConfig({ name: 'Deleted' }) });
    const launch = await waitForLaunch(stack, String(reply.body.launchId));
    const store = createCampaignStore(stack.ctx);
    const record = (await store.get(String(launch.campaignId)))!;
    // The same campaign under an id CXone has never heard of: as if deleted in CXone's console.
    const ghost = randomUUID();
    await store.put({
      ...record,
      campaignId: ghost,
      cxone: { ...record.cxone, id: ghost },
      syncedAt: '2000-01-01T00:00:00.000Z',
    });

    const first = await api(stack, 'GET', `/v1/campaigns/${ghost}`);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      status: 'active',
      stale: true,
      missingOnCxone: { since: expect.any(String) },
    });
    const again = await api(stack, 'GET', `/v1/campaigns/${ghost}`);
    expect(again.body.missingOnCxone).toEqual(first.body.missingOnCxone);
    const trail = await audit().list(ghost);
    // Named by the caller who met the 404 (no X-Actor: the token's fingerprint), as every API actor is.
    expect(trail.map((r) => [r.action, r.actor])).toEqual([
      ['campaign_missing', expect.stringMatching(/^api:token-[0-9a-f]{10}$/)],
    ]);
    expect(trail[0]!.details).toMatchObject({ lastStatus: 'active', seenBy: 'api' });

    // A 404 that was passing (a tenant misconfigured for a while): once CXone answers for the
    // campaign again the note goes and the running campaign is polled again.
    const real = String(launch.campaignId);
    await noteMissingOnCxone(stack.ctx, real, 'poll');
    await stopPolling(stack.ctx, real);
    await store.patch(real, { syncedAt: '2000-01-01T00:00:00.000Z' });
    const back = await api(stack, 'GET', `/v1/campaigns/${real}`);
    expect(back.body.missingOnCxone).toBeUndefined();
    expect(back.body.stale).toBeUndefined();
    expect(await stack.ctx.queues.poll.getJobScheduler(pollSchedulerId(real))).toBeDefined();
  });

  it('rides out a CXone outage, showing the last error while it retries', async () => {
    stack.sandbox.setFaults({ errorRate: 1 });
    try {
      const reply = await api(stack, 'POST', '/v1/campaigns', { body: campaignConfig({ name: 'Outage' }) });
      const launchId = String(reply.body.launchId);
      const running = await waitFor('a retried failure to show', async () => {
        const r = await api(stack, 'GET', `/v1/launches/${launchId}`);
        return r.body.lastError ? r.body : undefined;
      });
      expect(running.status).toBe('running');
      expect(String(running.lastError)).toMatch(/^attempt \d+: /);
      stack.sandbox.setFaults({ errorRate: 0 });
      const launch = await waitForLaunch(stack, launchId, ['succeeded', 'failed'], 20_000);
      expect(launch).toMatchObject({ status: 'succeeded', campaignStatus: 'active' });
      expect(launch.lastError).toBeUndefined();
      expect(sandboxStatus(stack.sandbox, String(launch.campaignId))).toBe('active');
    } finally {
      stack.sandbox.setFaults({ errorRate: 0 });
    }
  });

  it('fails a launch naming a target list the tenant lacks, saying which field, without retrying', async () => {
    const unknownList = '11111111-2222-4333-8444-555555555555';
    const reply = await api(stack, 'POST', '/v1/campaigns', {
      body: campaignConfig({ name: 'Wrong list', targetListId: unknownList }),
    });
    expect(reply.status).toBe(202);
    const launchId = String(reply.body.launchId);
    const launch = await waitForLaunch(stack, launchId);
    expect(launch.status).toBe('failed');
    expect(String(launch.error)).toContain(`targetListId: no target list ${unknownList} in this tenant`);
    expect(launch.campaignId).toBeUndefined();
    const job = await stack.ctx.queues.launch.getJob(launchId);
    expect(job?.attemptsMade).toBe(1);
  });

  it('replays an idempotent submission after the launch finished without launching again', async () => {
    const headers = { 'idempotency-key': `e2e-${Date.now()}` };
    const body = campaignConfig({ name: 'Once' });
    const first = await api(stack, 'POST', '/v1/campaigns', { body, headers });
    await waitForLaunch(stack, String(first.body.launchId));
    const campaigns = stack.sandbox.campaignCount();
    const again = await api(stack, 'POST', '/v1/campaigns', { body, headers });
    expect(again.body).toEqual({ launchId: first.body.launchId, status: 'succeeded' });
    await new Promise((r) => setTimeout(r, 300));
    expect(stack.sandbox.campaignCount()).toBe(campaigns);
  });
});

describe('failed launches', () => {
  it('fails a launch CXone refuses for good, with the reason, without retrying', async () => {
    const stack = await startStack({
      launchWorker: true,
      // The fleet's OAuth client may read but not write: every create answers 403.
      sandbox: {
        clients: [
          {
            clientId: 'fleet-client',
            clientSecret: 'fleet-secret',
            scopes: ['outbound:campaigns:read', 'outbound:campaigns:stats:read'],
          },
        ],
      },
    });
    try {
      const reply = await api(stack, 'POST', '/v1/campaigns', { body: campaignConfig({ name: 'Refused' }) });
      const launchId = String(reply.body.launchId);
      const launch = await waitForLaunch(stack, launchId);
      expect(launch.status).toBe('failed');
      expect(String(launch.error)).toMatch(/scope|403/);
      expect(launch.campaignId).toBeUndefined();
      const job = await stack.ctx.queues.launch.getJob(launchId);
      expect(await job?.getState()).toBe('failed');
      expect(job?.attemptsMade).toBe(1);
      expect(job?.failedReason).toMatch(/scope|403/);
      const records = await (stack.ctx.audit as AuditTrailStore).list(launchAuditId(launchId));
      expect(records.map((r) => r.action)).toEqual(['launch_requested', 'launch_failed']);
      expect(stack.sandbox.campaignCount()).toBe(0);
    } finally {
      await stack.close();
    }
  });

  it('cancels a campaign it created but could not schedule, and audits that', async () => {
    const stack = await startStack({
      launchWorker: true,
      ctxOverrides: (ctx) => ({
        cxone: {
          createCampaign: (...a) => ctx.cxone.createCampaign(...a),
          getCampaign: (...a) => ctx.cxone.getCampaign(...a),
          getStats: (...a) => ctx.cxone.getStats(...a),
          history: (...a) => ctx.cxone.history(...a),
          updateCampaign: (id, version, body, opts) => {
            if (body.status === 'scheduled') {
              return Promise.reject(
                new CxoneValidationError([{ field: 'startDateTime', message: 'test: refused' }], {
                  endpoint: 'PATCH /api/v2/campaigns/:id',
                  status: 422,
                  campaignId: id,
                }),
              );
            }
            return ctx.cxone.updateCampaign(id, version, body, opts);
          },
        },
      }),
    });
    try {
      const reply = await api(stack, 'POST', '/v1/campaigns', { body: campaignConfig({ name: 'Half' }) });
      const launch = await waitForLaunch(stack, String(reply.body.launchId));
      expect(launch).toMatchObject({ status: 'failed', cancelled: true, campaignStatus: 'cancelled' });
      expect(String(launch.error)).toMatch(/startDateTime/);
      const campaignId = String(launch.campaignId);
      expect(sandboxStatus(stack.sandbox, campaignId)).toBe('cancelled');
      // The version the cancel left (the create's was 1).
      const onCxone = stack.sandbox.getCampaignState(campaignId) as { resource: { version: number } };
      expect(onCxone.resource.version).toBeGreaterThan(1);
      expect(launch.cxoneVersion).toBe(onCxone.resource.version);
      const failed = (await (stack.ctx.audit as AuditTrailStore).list(campaignId)).find(
        (r) => r.action === 'launch_failed',
      );
      expect(failed?.details).toMatchObject({ cancelledOnCxone: true });
    } finally {
      await stack.close();
    }
  });
});
