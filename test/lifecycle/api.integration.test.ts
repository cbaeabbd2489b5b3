import type { Worker } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { DateTime } from 'luxon';
import { complianceActions } from '../../src/shared/metrics.js';
import { getWindowState, setGuardState, setWindowState } from '../../src/shared/compliance/state-store.js';
import { enforceWindow } from '../../src/shared/compliance/enforcement.js';
import { applyAbandonmentGuard } from '../../src/shared/compliance/guard-actions.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { CampaignStore } from '../../src/shared/campaign-store.js';
import { historyJobId } from '../../src/shared/audit/history-sync.js';
import { toCreateCampaignRequest } from '../../src/shared/cxone/to-wire.js';
import { createLaunchStore } from '../../src/shared/launch-store.js';
import { WEEKDAYS } from '../../src/shared/campaign-config.js';
import type { EventPublisherStore } from '../../src/shared/events/publisher.js';
import { listPolledCampaigns } from '../../src/shared/polling/schedulers.js';
import { runPollCycle } from '../../src/shared/polling/poll-cycle.js';
import { efficiencyScore } from '../../src/shared/efficiency.js';
import { applyPacing } from '../../src/shared/pacing/apply.js';
import { thresholdsSchema } from '../../src/shared/campaign-config.js';
import { statsOf } from './fixtures.js';
import { testCampaignConfig, zoneInsideWindowNow, type Harness } from './harness.js';
import { ALICE, adjustJobCount, startCommandApi, type CommandApi } from './command-api.js';

/** The command API end to end: producer app → adjust queue → worker → sandbox, real Redis and HTTP. */
let h: Harness;
let app: FastifyInstance;
let worker: Worker;
let api: CommandApi | undefined;
const auth = ALICE;

beforeAll(async () => {
  api = await startCommandApi();
  ({ h, app, worker } = api);
});

afterAll(() => api?.close());

const queued = () => adjustJobCount(h);

async function commandKeys(): Promise<number> {
  let n = 0;
  const stream = h.ctx.redis.scanStream({ match: h.ctx.keys.command('*'), count: 500 });
  for await (const batch of stream as AsyncIterable<string[]>) n += batch.length;
  return n;
}

async function act(id: string, action: string, extra: Record<string, unknown> = {}) {
  return app.inject({
    method: 'POST',
    url: `/v1/campaigns/${id}/actions`,
    headers: auth,
    payload: { action, ...extra },
  });
}

/** A PATCH of the campaign through the API, as alice. */
function patchCampaign(id: string, payload: Record<string, unknown>) {
  return app.inject({ method: 'PATCH', url: `/v1/campaigns/${id}`, headers: auth, payload });
}

async function auditTrail(id: string) {
  const res = await app.inject({ method: 'GET', url: `/v1/campaigns/${id}/audit?limit=100`, headers: auth });
  if (res.statusCode === 200)
    return (
      res.json() as { records: Array<{ action: string; actor: string; details: Record<string, unknown> }> }
    ).records;
  const trail = h.ctx.audit as unknown as {
    list(id: string): Promise<Array<{ action: string; actor: string; details: Record<string, unknown> }>>;
  };
  return trail.list(id);
}

describe('campaign command API', () => {
  it('pause, resume and stop are visible in the sandbox and in the audit trail with the caller', async () => {
    const campaign = await h.campaign('active');
    const steps: Array<[string, string]> = [
      ['pause', 'paused'],
      ['resume', 'active'],
      ['stop', 'completed'],
    ];
    for (const [action, expected] of steps) {
      const res = await act(campaign.id, action);
      expect(res.statusCode).toBe(202);
      const body = res.json() as { commandId: string; status: string };
      expect(body.status).toBe('queued');
      expect(res.headers.location).toBe(`/v1/commands/${body.commandId}`);
      await h.waitForCommand(body.commandId);

      const outcome = await app.inject({
        method: 'GET',
        url: `/v1/commands/${body.commandId}`,
        headers: auth,
      });
      expect(outcome.statusCode).toBe(200);
      expect(outcome.json()).toMatchObject({
        status: 'succeeded',
        actor: 'api:alice',
        result: { status: expected },
      });
      const state = h.sandbox.getCampaignState(campaign.id) as { resource: { status: string } };
      expect(state.resource.status).toBe(expected);
      // A resume makes sure the campaign is polled; a stop ends its polling.
      if (action !== 'pause') {
        expect((await listPolledCampaigns(h.ctx)).has(campaign.id)).toBe(action === 'resume');
      }
    }

    const events = await (h.ctx.events as EventPublisherStore).recent(100, campaign.id);
    const stateChanges = events.filter((e) => e.type === 'campaign.state.changed').reverse();
    expect(stateChanges.map((e) => e.data['to'])).toEqual(['paused', 'active', 'completed']);
    // Receivers tell an operator's change from compliance's by `reason` (docs/audit-and-webhooks.md).
    expect(stateChanges.map((e) => e.data['reason'])).toEqual(['operator', 'operator', 'operator']);

    const changes = (await auditTrail(campaign.id)).filter((r) => r.action === 'state_changed');
    expect(changes.map((r) => [r.details.before, r.details.after, r.actor])).toEqual([
      ['active', 'paused', 'api:alice'],
      ['paused', 'active', 'api:alice'],
      ['active', 'completed', 'api:alice'],
    ]);
  });

  it("records an operator's resume of a campaign the abandonment guard paused as a compliance decision", async () => {
    const campaign = await h.campaign('active');
    const zero = { totalCalls: 0, answeredCalls: 0, abandonedCalls: 0, complianceViolations: 0 };
    // The guard paused it in this period at 10 abandoned of 40 answered.
    await setGuardState(h.ctx, campaign.id, {
      version: 1,
      regime: 'TCPA',
      anchorMs: Date.now() - 60_000,
      periodIndex: 0,
      baseline: zero,
      lastSeen: { ...zero, totalCalls: 120, answeredCalls: 40, abandonedCalls: 10, atMs: Date.now() },
      throttled: false,
      pausedInPeriod: 0,
      lastAction: 'pause',
      periods: [],
    });
    for (const action of ['pause', 'resume']) {
      const res = await act(campaign.id, action);
      expect(res.statusCode).toBe(202);
      await h.waitForCommand((res.json() as { commandId: string }).commandId);
    }
    const lifted = (await auditTrail(campaign.id)).filter(
      (r) => r.action === 'compliance_action' && r.details['kind'] === 'guard_pause_lifted',
    );
    expect(lifted).toHaveLength(1);
    expect(lifted[0]).toMatchObject({
      actor: 'api:alice',
      details: { requestedBy: 'api:alice', reason: 'operator', answeredCalls: 40, abandonedCalls: 10 },
    });
  });

  it('lets an operator keep a campaign the calling window paused: the window no longer resumes it', async () => {
    const campaign = await h.campaign('paused');
    // The window paused it at its close a minute ago; at the next open it would resume it.
    const closedAt = Date.now() - 60_000;
    await setWindowState(h.ctx, campaign.id, {
      pausedAt: new Date(closedAt).toISOString(),
      lastTransitionMs: closedAt,
    });
    const res = await act(campaign.id, 'pause');
    expect(res.statusCode).toBe(202);
    const done = await h.waitForCommand((res.json() as { commandId: string }).commandId);
    // Nothing to write on CXone; the pause is now alice's.
    expect(done).toMatchObject({
      status: 'succeeded',
      result: { status: 'paused', alreadyApplied: ['status'] },
    });
    expect(await getWindowState(h.ctx, campaign.id)).toEqual({ lastTransitionMs: closedAt });
    const released = (await auditTrail(campaign.id)).filter(
      (r) => r.action === 'compliance_action' && r.details['kind'] === 'window_pause_released',
    );
    expect(released).toHaveLength(1);
    expect(released[0]).toMatchObject({ actor: 'api:alice', details: { pausedBy: 'api:alice' } });

    // The window opens (the campaign's window holds now): it leaves alice's pause alone.
    const before = await queued();
    const open = await enforceWindow(h.ctx, { campaignId: campaign.id, kind: 'open', atMs: Date.now() });
    expect(open.outcome).toBe('nothing');
    expect(await queued()).toBe(before);
    expect(
      (h.sandbox.getCampaignState(campaign.id) as { resource: { status: string } }).resource.status,
    ).toBe('paused');
  });

  it("ends the window's claim when an operator pauses a campaign the window had just resumed", async () => {
    const campaign = await h.campaign('active');
    // The window resumed it at the open; its re-check is still pending and would resume it again.
    const openedAt = Date.now() - 10_000;
    await setWindowState(h.ctx, campaign.id, {
      pausedAt: new Date(openedAt - 3_600_000).toISOString(),
      resumeCommandId: 'cmd-window-resume',
      resumeAttempts: 1,
      lastTransitionMs: openedAt,
    });
    const res = await act(campaign.id, 'pause');
    expect(res.statusCode).toBe(202);
    const done = await h.waitForCommand((res.json() as { commandId: string }).commandId);
    expect(done).toMatchObject({ status: 'succeeded', result: { status: 'paused' } });
    expect(await getWindowState(h.ctx, campaign.id)).toEqual({ lastTransitionMs: openedAt });
    const before = await queued();
    const verify = await enforceWindow(h.ctx, { campaignId: campaign.id, kind: 'verify', atMs: Date.now() });
    expect(verify.outcome).toBe('nothing');
    expect(await queued()).toBe(before);
  });

  it('leaves a campaign the abandonment guard paused at the minimum call rate, so a resume dials at it', async () => {
    const campaign = await h.campaign('active');
    const record = (await new CampaignStore(h.ctx).get(campaign.id))!;
    expect(record.config.dialerStrategy.callRate).toBe(0.5);
    // 4 abandoned of 100 live answers: over the 3% cap.
    const stats = { totalCalls: 300, answeredCalls: 100, abandonedCalls: 4, complianceViolations: 0 };
    const guard = await applyAbandonmentGuard(h.ctx, {
      campaignId: campaign.id,
      config: record.config,
      stats,
    });
    expect(guard.action).toBe('pause');
    const onCxone = () =>
      (
        h.sandbox.getCampaignState(campaign.id) as {
          resource: { status: string; dialerSettings: { callRate: number } };
        }
      ).resource;
    const deadline = Date.now() + 15_000;
    while (!(onCxone().status === 'paused' && onCxone().dialerSettings.callRate === 0.1)) {
      if (Date.now() > deadline) throw new Error(`not paused at 0.1: ${JSON.stringify(onCxone())}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    // The operator lifts the pause: dialing restarts at the minimum, not at the rate that broke the cap.
    const res = await act(campaign.id, 'resume');
    expect(res.statusCode).toBe(202);
    await h.waitForCommand((res.json() as { commandId: string }).commandId);
    expect(onCxone()).toMatchObject({ status: 'active', dialerSettings: { callRate: 0.1 } });
  });

  it("announces changes made in CXone's console, found by the poll, as events with reason outside", async () => {
    const campaign = await h.campaign('active');
    await h.consoleChange(campaign.id, { name: 'Renamed in the console' });
    const paused = await h.consoleChange(campaign.id, { status: 'paused' });
    expect(await runPollCycle(h.ctx, campaign.id)).toMatchObject({ kind: 'polled', status: 'paused' });
    const events = (await (h.ctx.events as EventPublisherStore).recent(20, campaign.id)).filter(
      (e) => e.data['reason'] === 'outside',
    );
    expect(events.map((e) => [e.type, e.data['version']])).toEqual(
      expect.arrayContaining([
        ['campaign.state.changed', paused.version],
        ['campaign.settings.changed', paused.version],
      ]),
    );
    expect(events.find((e) => e.type === 'campaign.state.changed')?.data).toMatchObject({
      from: 'active',
      to: 'paused',
    });
    expect(events.find((e) => e.type === 'campaign.settings.changed')?.data['changes']).toEqual([
      { field: 'name', from: campaign.name, to: 'Renamed in the console' },
    ]);
  });

  it('does not announce as outside a change of ours that landed while the poll waited', async () => {
    const campaign = await h.campaign('active');
    const store = new CampaignStore(h.ctx);
    // While the poll waits for its statistics, a command of ours pauses the campaign and syncs it.
    const racing = {
      ...h.ctx,
      cxone: {
        ...h.ctx.cxone,
        getStats: async (id: string, opts?: Parameters<typeof h.ctx.cxone.getStats>[1]) => {
          const paused = await h.ctx.cxone.updateCampaign(id, campaign.version, { status: 'paused' });
          await store.syncFromCxone(paused);
          return h.ctx.cxone.getStats(id, opts);
        },
      },
    } as typeof h.ctx;
    await runPollCycle(racing, campaign.id);
    const outside = (await (h.ctx.events as EventPublisherStore).recent(20, campaign.id)).filter(
      (e) => e.data['reason'] === 'outside',
    );
    expect(outside).toEqual([]);
  });

  it("puts the campaign's last measured efficiency on the command's audit records", async () => {
    const campaign = await h.campaign('active');
    const stats = { ...statsOf({ totalCalls: 400, answeredCalls: 120 }), version: campaign.version };
    await new CampaignStore(h.ctx).recordStats(campaign.id, stats, efficiencyScore(stats));
    const res = await act(campaign.id, 'pause');
    await h.waitForCommand((res.json() as { commandId: string }).commandId);
    const changed = (await auditTrail(campaign.id)).find((r) => r.action === 'state_changed') as
      { metrics?: unknown } | undefined;
    expect(changed?.metrics).toEqual(efficiencyScore(stats));
    expect(changed?.metrics).toMatchObject({ totalCalls: 400 });
  });

  it('paces a threshold campaign by its own bounds, and lets a PATCH move it to another strategy', async () => {
    const config = testCampaignConfig({
      pacing: {
        strategy: 'threshold',
        targetAbandonment: 0.025,
        pollIntervalMs: 15_000,
        thresholds: thresholdsSchema.parse({ lowerAnswerRate: 0.5 }),
      },
    });
    const campaign = await h.campaign('active', config);
    const record = (await new CampaignStore(h.ctx).get(campaign.id))!;
    // 40 % answered: inside the seed's 0.25..0.65, below this campaign's 0.5.
    const stats = { ...statsOf({ totalCalls: 100, answeredCalls: 40 }), version: record.version };
    const paced = await applyPacing(h.ctx, { record, stats, efficiency: null, throttle: null });
    expect(paced).toMatchObject({
      kind: 'decided',
      decision: { direction: 'down', reason: 'answer rate below 0.5' },
    });
    // Bounds the new strategy ignores do not hold the campaign on this one.
    const moved = await patchCampaign(campaign.id, { pacing: { strategy: 'abandonment-target' } });
    expect(moved.statusCode).toBe(202);
  });

  it('refuses an action the current state forbids with 409 and the reason, enqueueing nothing', async () => {
    const campaign = await h.campaign('active');
    const before = [await queued(), await commandKeys()];
    const res = await act(campaign.id, 'resume');
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({
      error: 'invalid_state',
      message: 'cannot resume a campaign that is active; only a paused campaign can be resumed',
    });
    expect([await queued(), await commandKeys()]).toEqual(before);

    // Refused or not, a command that finds the campaign changed in CXone has CXone's account of the
    // change imported into the trail.
    const changed = await h.consoleChange(campaign.id, { name: 'Renamed in the console' });
    expect((await act(campaign.id, 'resume')).statusCode).toBe(409);
    expect((await h.ctx.queues.audit.getJob(historyJobId(campaign.id, changed.version)))?.data).toEqual({
      campaignId: campaign.id,
      version: changed.version,
    });
  });

  it('reads the state from CXone, not from our record', async () => {
    const campaign = await h.campaign('active');
    // The console pauses it; our record still says active, where a resume would be refused.
    await h.consoleChange(campaign.id, { status: 'paused' });
    const res = await act(campaign.id, 'resume');
    expect(res.statusCode).toBe(202);
    await h.waitForCommand((res.json() as { commandId: string }).commandId);
    // And the other way round: CXone says active, so a resume is refused, naming CXone's status.
    const again = await act(campaign.id, 'resume');
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ error: 'invalid_state', status: 'active' });
  });

  it('refuses a resume outside the calling window with compliance_refused', async () => {
    const zone = zoneInsideWindowNow();
    const today = WEEKDAYS[DateTime.now().setZone(zone).weekday - 1];
    const campaign = await h.campaign(
      'paused',
      testCampaignConfig({
        allowedCallTimes: [{ days: WEEKDAYS.filter((d) => d !== today), start: '08:00', end: '21:00' }],
      }),
    );
    const before = await queued();
    const counted = async () =>
      (await complianceActions.get()).values.find((v) => v.labels.kind === 'refused_resume')?.value ?? 0;
    const countedBefore = await counted();
    const res = await act(campaign.id, 'resume');
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({
      error: 'compliance_refused',
      message: expect.stringContaining('outside'),
    });
    expect(await queued()).toBe(before);
    // The veto is on record as a compliance action, with who asked.
    expect(await counted()).toBe(countedBefore + 1);
    const refused = (await auditTrail(campaign.id)).filter((r) => r.action === 'compliance_action');
    expect(refused).toEqual([
      expect.objectContaining({
        actor: 'api:alice',
        details: expect.objectContaining({
          kind: 'refused_resume',
          reason: expect.stringContaining('outside'),
        }),
      }),
    ]);
  });

  it('validates a PATCH with the config schemas, before and after merging', async () => {
    const campaign = await h.campaign('active');
    const bad = await app.inject({
      method: 'PATCH',
      url: `/v1/campaigns/${campaign.id}`,
      headers: auth,
      payload: { dialerStrategy: { callRate: 3 } },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({
      error: 'validation_failed',
      issues: [{ path: 'dialerStrategy.callRate' }],
    });
    // A config field that may not be patched is named as such, not as unknown; a made-up one is unknown.
    for (const [url, payload, path] of [
      [`/v1/campaigns/${campaign.id}`, { startDateTime: '2026-12-01T09:00:00Z', colour: 'red' }, ''],
      [`/v1/campaigns/${campaign.id}/actions`, { action: 'pause', patch: { targetListId: 'x' } }, 'patch.'],
    ] as const) {
      const refused = await app.inject({
        method: url.endsWith('actions') ? 'POST' : 'PATCH',
        url,
        headers: auth,
        payload,
      });
      expect(refused.statusCode).toBe(400);
      const issues = (refused.json() as { issues: Array<{ path: string; message: string }> }).issues;
      const field = path === '' ? 'startDateTime' : 'patch.targetListId';
      expect(issues.find((i) => i.path === field)?.message).toMatch(/^cannot be changed .*new launch$/);
      if (path === '') expect(issues.find((i) => i.path === 'colour')?.message).toBe('unknown field');
    }

    // Valid alone, but this campaign calls Florida, where calls end at 20:00.
    const florida = await h.campaign(
      'active',
      testCampaignConfig({ complianceTimeZone: 'America/New_York', recipientStates: ['FL'] }),
    );
    const merged = await app.inject({
      method: 'PATCH',
      url: `/v1/campaigns/${florida.id}`,
      headers: auth,
      payload: { allowedCallTimes: [{ days: ['mon'], start: '09:00', end: '20:30' }] },
    });
    expect(merged.statusCode).toBe(400);
    expect(merged.json()).toMatchObject({ error: 'validation_failed' });
    expect((merged.json() as { issues: Array<{ path: string }> }).issues.map((i) => i.path)).toContain(
      'allowedCallTimes.0.end',
    );
  });

  /**
   * A PATCH dropping FL for GA: 400 naming recipientStates and FL, nothing enqueued. The drop comes
   * first; beside it, any problem of the list as sent (GA's zone, on a campaign in another one).
   */
  async function expectDropOfFlRefused(campaignId: string): Promise<void> {
    const before = await queued();
    const dropped = await patchCampaign(campaignId, { recipientStates: ['GA'] });
    expect(dropped.statusCode).toBe(400);
    const issues = (dropped.json() as { issues: Array<{ path: string; message: string }> }).issues;
    expect(issues[0]).toEqual({
      path: 'recipientStates',
      message: expect.stringMatching(/^cannot drop FL: /),
    });
    expect(issues.slice(1).filter((i) => i.message.startsWith('cannot drop'))).toEqual([]);
    expect(await queued()).toBe(before);
  }

  it('refuses a PATCH that drops a recipient state the campaign was launched for, enqueueing nothing', async () => {
    const campaign = await h.campaign(
      'active',
      testCampaignConfig({ complianceTimeZone: 'America/New_York', recipientStates: ['FL'] }),
    );
    await expectDropOfFlRefused(campaign.id);
  });

  it("keeps binding the states a record of an earlier release kept beside CXone's list (declaredStates)", async () => {
    // Such a record's config held CXone's copy of the list (here emptied) and the launch's states apart.
    const campaign = await h.campaign('active');
    await new CampaignStore(h.ctx).patch(campaign.id, { declaredStates: ['FL'] });
    await expectDropOfFlRefused(campaign.id);
  });

  it("adds a recipient state in the orchestrator's record only: never on CXone, kept by syncs, never dropped", async () => {
    const store = new CampaignStore(h.ctx);
    const campaign = await h.campaign(
      'paused',
      testCampaignConfig({ complianceTimeZone: 'America/New_York', recipientStates: ['GA'] }),
    );
    // A reader (the API's GET refresh, a poll) takes the record before the command, syncs after it.
    const readBefore = await store.get(campaign.id);
    const added = await patchCampaign(campaign.id, { recipientStates: ['GA', 'NC'] });
    expect(added.statusCode).toBe(202);
    const done = await h.waitForCommand((added.json() as { commandId: string }).commandId);
    expect(done.status).toBe('succeeded');
    // Nothing was written to CXone: the version did not move, and CXone holds no list; the outcome says
    // the orchestrator's record took it.
    expect(done.result?.writes).toEqual([
      expect.objectContaining({
        step: 'orchestrator',
        changes: [{ field: 'recipientStates', from: ['GA'], to: ['GA', 'NC'] }],
      }),
    ]);
    const onCxone = await h.ctx.cxone.getCampaign(campaign.id);
    expect(onCxone.version).toBe(campaign.version);
    expect(onCxone.complianceSettings).not.toHaveProperty('recipientStates');
    expect((await store.get(campaign.id))?.config.recipientStates).toEqual(['GA', 'NC']);

    // That reader's sync writes the config from its older copy: the added state is not lost.
    await store.syncFromCxone(onCxone, { config: readBefore?.config });
    expect((await store.get(campaign.id))?.config.recipientStates).toEqual(['GA', 'NC']);

    // A console change and a poll storing CXone's settings leave the list alone.
    await h.consoleChange(campaign.id, { name: 'Renamed in the console' });
    await store.syncFromCxone(await h.ctx.cxone.getCampaign(campaign.id));
    const synced = await store.get(campaign.id);
    expect(synced?.config).toMatchObject({ name: 'Renamed in the console', recipientStates: ['GA', 'NC'] });
    const before = await queued();
    const dropped = await patchCampaign(campaign.id, { recipientStates: ['GA'] });
    expect(dropped.statusCode).toBe(400);
    expect((dropped.json() as { issues: Array<{ message: string }> }).issues[0]?.message).toMatch(
      /^cannot drop NC: /,
    );
    expect(await queued()).toBe(before);
  });

  it('applies a PATCH and reports the outcome; a stale second PATCH of the same field conflicts', async () => {
    const campaign = await h.campaign('active');
    // Both requests read the campaign before either change is applied.
    await worker.pause();
    const first = await app.inject({
      method: 'PATCH',
      url: `/v1/campaigns/${campaign.id}`,
      headers: auth,
      payload: { dialerStrategy: { callRate: 0.7 }, name: 'Renamed' },
    });
    expect(first.statusCode).toBe(202);
    // A second operator read the campaign before the first change landed and sets the same field.
    const second = await app.inject({
      method: 'PATCH',
      url: `/v1/campaigns/${campaign.id}`,
      headers: { ...auth, 'x-actor': 'dave' },
      payload: { dialerStrategy: { callRate: 0.9 } },
    });
    expect(second.statusCode).toBe(202);
    const pending = await app.inject({
      method: 'GET',
      url: `/v1/campaigns/${campaign.id}/commands`,
      headers: auth,
    });
    expect((pending.json() as { pending: Array<{ commandId: string; actor: string }> }).pending).toEqual([
      expect.objectContaining({
        commandId: (first.json() as { commandId: string }).commandId,
        actor: 'api:alice',
      }),
      expect.objectContaining({
        commandId: (second.json() as { commandId: string }).commandId,
        actor: 'api:dave',
      }),
    ]);
    worker.resume();
    const a = await h.waitForCommand((first.json() as { commandId: string }).commandId);
    const b = await h.waitForCommand((second.json() as { commandId: string }).commandId);
    expect(a.status).toBe('succeeded');
    expect(b.status).toBe('conflict');
    expect(b.conflict?.conflicts).toEqual([
      { field: 'dialerStrategy.callRate', base: 0.5, ours: 0.9, theirs: 0.7 },
    ]);
    const now = await h.ctx.cxone.getCampaign(campaign.id);
    expect([now.name, now.dialerSettings.callRate]).toEqual(['Renamed', 0.7]);

    const view = await app.inject({ method: 'GET', url: `/v1/campaigns/${campaign.id}`, headers: auth });
    expect(view.json()).toMatchObject({ lastCommand: { status: expect.any(String) } });
  });

  it("applies one requester's later PATCH over its own earlier one still queued: the last accepted wins", async () => {
    const campaign = await h.campaign('active');
    await worker.pause();
    const patch = (callRate: number, headers: Record<string, string> = auth) =>
      app.inject({
        method: 'PATCH',
        url: `/v1/campaigns/${campaign.id}`,
        headers,
        payload: { dialerStrategy: { callRate } },
      });
    // Both read 0.5 from CXone; the second is sent once the first was accepted, by the same caller.
    const first = await patch(0.7);
    const second = await patch(0.9);
    worker.resume();
    const a = await h.waitForCommand((first.json() as { commandId: string }).commandId);
    const b = await h.waitForCommand((second.json() as { commandId: string }).commandId);
    expect([a.status, b.status]).toEqual(['succeeded', 'succeeded']);
    expect(b.result?.writes).toEqual([
      expect.objectContaining({
        step: 'settings',
        changes: [{ field: 'dialerStrategy.callRate', from: 0.7, to: 0.9 }],
      }),
    ]);
    expect((await h.ctx.cxone.getCampaign(campaign.id)).dialerSettings.callRate).toBe(0.9);

    // Known only by the shared token, two requests may be two people: the later one is told.
    const anonymous = { authorization: auth.authorization };
    await worker.pause();
    const third = await patch(0.6, anonymous);
    const fourth = await patch(0.4, anonymous);
    worker.resume();
    expect((await h.waitForCommand((third.json() as { commandId: string }).commandId)).status).toBe(
      'succeeded',
    );
    const told = await h.waitForCommand((fourth.json() as { commandId: string }).commandId);
    expect(told.status).toBe('conflict');
    expect(told.conflict?.conflicts).toEqual([
      { field: 'dialerStrategy.callRate', base: 0.9, ours: 0.4, theirs: 0.6 },
    ]);
  });

  it("cuts the call rate of a campaign whose window CXone's console widened past the legal hours", async () => {
    const campaign = await h.campaign('paused');
    await h.consoleChange(campaign.id, {
      complianceSettings: {
        allowedCallTimes: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '22:00' }],
      },
    } as never);
    const cut = await patchCampaign(campaign.id, { dialerStrategy: { callRate: 0.2 } });
    expect(cut.statusCode).toBe(202);
    const done = await h.waitForCommand((cut.json() as { commandId: string }).commandId);
    expect(done.status).toBe('succeeded');
    expect((await h.ctx.cxone.getCampaign(campaign.id)).dialerSettings.callRate).toBe(0.2);
    // Raising it is refused, naming the problem CXone's settings have.
    const raise = await patchCampaign(campaign.id, { dialerStrategy: { callRate: 0.9 } });
    expect(raise.statusCode).toBe(400);
    expect(raise.json()).toMatchObject({
      issues: expect.arrayContaining([expect.objectContaining({ path: 'allowedCallTimes.0.end' })]),
    });
  });

  it('refuses changes to a campaign that ended, and answers 404 for unknown campaigns and commands', async () => {
    const campaign = await h.campaign('active');
    await h.consoleChange(campaign.id, { status: 'completed' });
    const closed = await app.inject({
      method: 'PATCH',
      url: `/v1/campaigns/${campaign.id}`,
      headers: auth,
      payload: { name: 'late' },
    });
    expect(closed.statusCode).toBe(409);
    expect(closed.json()).toMatchObject({ error: 'invalid_state' });
    expect((await act('no-such-campaign', 'pause')).statusCode).toBe(404);
    const list = await app.inject({
      method: 'GET',
      url: '/v1/campaigns/no-such-campaign/commands',
      headers: auth,
    });
    expect(list.statusCode).toBe(404);
    expect(list.json()).toMatchObject({ error: 'not_found' });
    // A known campaign with nothing pending is an empty list, not a 404.
    const idle = await app.inject({
      method: 'GET',
      url: `/v1/campaigns/${campaign.id}/commands`,
      headers: auth,
    });
    expect(idle.json()).toEqual({ campaignId: campaign.id, pending: [] });
    const missing = await app.inject({ method: 'GET', url: '/v1/commands/cmd_missing', headers: auth });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: 'not_found' });
  });

  it('steers only campaigns it launched, and none whose launch is still running, enqueueing nothing', async () => {
    // Created on CXone by someone else: GET says unknown, so commands do too.
    const created = await h.ctx.cxone.createCampaign(toCreateCampaignRequest(testCampaignConfig()));
    const before = await queued();
    const foreign = await app.inject({
      method: 'PATCH',
      url: `/v1/campaigns/${created.id}`,
      headers: auth,
      payload: { description: 'not ours' },
    });
    expect(foreign.statusCode).toBe(404);
    expect(foreign.json()).toMatchObject({ error: 'not_found' });
    expect((await act(created.id, 'stop')).statusCode).toBe(404);

    // Created on CXone by a launch that is still running, before its campaign record exists: still
    // being launched, not unknown.
    const early = await h.ctx.cxone.createCampaign(toCreateCampaignRequest(testCampaignConfig()));
    const launching = createLaunchStore(h.ctx);
    const earlyLaunch = randomUUID();
    await launching.create({
      launchId: earlyLaunch,
      actor: 'api:alice',
      name: 'creating',
      requestedAt: new Date().toISOString(),
    });
    await launching.begin(earlyLaunch);
    await launching.recordCreated(earlyLaunch, early.id, early.version);
    // No job will ever finish it (BullMQ gave up on it, or it was removed): not in progress.
    expect((await act(early.id, 'stop')).statusCode).toBe(404);
    // Its job is waiting (no launch worker runs here): in progress.
    const earlyJob = await h.ctx.queues.launch.add('launch', {}, { jobId: earlyLaunch });
    const creating = await act(early.id, 'stop');
    expect(creating.statusCode).toBe(409);
    expect(creating.json()).toMatchObject({ error: 'launch_in_progress', launchId: earlyLaunch });
    expect(await queued()).toBe(before);
    await earlyJob.remove();
    // Once the launch has finished (failed here, without a record), the marker goes with it.
    await launching.finish(earlyLaunch, { status: 'failed', error: 'test', campaignId: early.id });
    expect(await launching.launchOfCampaign(early.id)).toBeNull();
    expect((await act(early.id, 'stop')).statusCode).toBe(404);

    // Ours, but its launch has not finished: the activation still writes the record.
    const campaign = await h.campaign('scheduled');
    const launches = createLaunchStore(h.ctx);
    const launchId = randomUUID();
    await launches.create({
      launchId,
      actor: 'api:alice',
      name: 'in flight',
      requestedAt: new Date().toISOString(),
    });
    await launches.begin(launchId);
    await new CampaignStore(h.ctx).patch(campaign.id, { launchId });
    const launchJob = await h.ctx.queues.launch.add('launch', {}, { jobId: launchId });
    const busy = await act(campaign.id, 'pause');
    expect(busy.statusCode).toBe(409);
    expect(busy.json()).toMatchObject({ error: 'launch_in_progress', launchId });
    expect(await queued()).toBe(before);
    await launchJob.remove();

    await launches.finish(launchId, {
      status: 'succeeded',
      campaignId: campaign.id,
      campaignStatus: 'scheduled',
      activateAt: '2026-12-01T14:00:00.000Z',
    });
    const stopped = await act(campaign.id, 'stop');
    expect(stopped.statusCode).toBe(202);
    const done = await h.waitForCommand((stopped.json() as { commandId: string }).commandId);
    expect(done.status).toBe('succeeded');
    // Stopped before its start: the launch no longer reads "scheduled, activates at 14:00".
    expect(await launches.get(launchId)).toMatchObject({
      status: 'succeeded',
      campaignStatus: 'cancelled',
      cxoneVersion: done.result?.version,
    });
    // Nor does its view show a start that will never come.
    const view = await app.inject({ method: 'GET', url: `/v1/launches/${launchId}`, headers: auth });
    expect(view.json()).toMatchObject({ campaignStatus: 'cancelled' });
    expect(view.json()).not.toHaveProperty('activateAt');
  });

  it('notes a campaign CXone answers 404 for as missing when a command meets it, queueing nothing', async () => {
    const campaign = await h.campaign('active');
    const store = new CampaignStore(h.ctx);
    const record = (await store.get(campaign.id))!;
    const ghost = randomUUID();
    await store.put({ ...record, campaignId: ghost, cxone: { ...record.cxone, id: ghost } });
    const before = await queued();
    const refused = await act(ghost, 'pause');
    expect(refused.statusCode).toBe(404);
    expect(refused.json()).toMatchObject({ message: `campaign ${ghost} does not exist on CXone` });
    expect(await queued()).toBe(before);
    expect((await store.get(ghost))?.missingOnCxone).toBeDefined();
  });

  it('rejects a malformed action body and requires the bearer token', async () => {
    const campaign = await h.campaign('active');
    expect((await act(campaign.id, 'explode')).statusCode).toBe(400);
    const anon = await app.inject({
      method: 'POST',
      url: `/v1/campaigns/${campaign.id}/actions`,
      payload: { action: 'pause' },
    });
    expect(anon.statusCode).toBe(401);
  });
});
