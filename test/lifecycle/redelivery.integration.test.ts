import type { Worker } from 'bullmq';
import { DateTime } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CxoneApi } from '../../src/shared/cxone/api.js';
import { CXONE_ENDPOINTS } from '../../src/shared/cxone/wire.js';
import { REASON_WINDOW } from '../../src/shared/compliance/enforcement.js';
import { COMPLIANCE_ACTOR } from '../../src/shared/compliance/record.js';
import type { EventPublisherStore } from '../../src/shared/events/publisher.js';
import { enqueueCommand } from '../../src/shared/lifecycle/enqueue.js';
import { campaignLockKey } from '../../src/shared/lifecycle/lock.js';
import { ensurePolling, listPolledCampaigns } from '../../src/shared/polling/schedulers.js';
import { createAdjustWorker } from '../../src/workers/adjust-worker.js';
import { startHarness, testCampaignConfig, withHookBeforeWrite, type Harness } from './harness.js';

/**
 * A worker that dies in the middle of a command: CXone applied its write, nothing after it happened.
 * BullMQ redelivers a stalled job without counting an attempt (attemptsMade stays 0), so the run that
 * finishes the command must tell it is not the first from the command's own record.
 */
let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.close();
});

/** The real client, except that for one campaign a PATCH is applied and its caller then hangs for good. */
function hangsAfterWrite(inner: CxoneApi, campaignId: string, onWritten: () => void): CxoneApi {
  return {
    createCampaign: (body, opts) => inner.createCampaign(body, opts),
    getCampaign: (id, opts) => inner.getCampaign(id, opts),
    getStats: (id, opts) => inner.getStats(id, opts),
    history: (id, opts) => inner.history(id, opts),
    async updateCampaign(id, version, body, opts) {
      const written = await inner.updateCampaign(id, version, body, opts);
      if (id !== campaignId) return written;
      onWritten();
      return new Promise<never>(() => undefined);
    },
  };
}

/** The sandbox's next campaign write answers 429 (retry at once) and writes nothing. */
async function nextWriteRateLimited(): Promise<void> {
  await fetch(`${h.sandbox.url}/__sandbox/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      failNext: 1,
      endpoint: CXONE_ENDPOINTS.updateCampaign,
      status: 429,
      retryAfterSeconds: 0,
    }),
  });
}

/**
 * What BullMQ does once a dead worker's job lock ran out: its stalled check (two passes, the first
 * marks, the second moves) puts the job back to waiting. Run here at once instead of after the
 * lock's 30 s, with the locks a dead process would have let lapse dropped by hand.
 */
async function recoverStalled(worker: Worker, jobId: string, campaignId: string): Promise<void> {
  const queue = h.ctx.queues.adjust;
  await h.ctx.redis.del(queue.toKey(`${jobId}:lock`), campaignLockKey(h.ctx.keys, campaignId));
  const stalledCheck = (worker as unknown as { moveStalledJobsToWait(): Promise<void> })
    .moveStalledJobsToWait;
  for (let pass = 0; pass < 2; pass++) {
    await h.ctx.redis.del(queue.toKey('stalled-check'));
    await stalledCheck.call(worker);
  }
}

/**
 * The dying worker closed without finishing its job; a surviving worker takes the command over at the
 * stalled check and runs it to its end. The command as recorded, and its campaign's state_changed
 * audit records.
 */
async function redeliverToSurvivor(dying: Worker, commandId: string, campaignId: string) {
  await dying.close(true);
  const survivor = createAdjustWorker(h.ctx);
  try {
    await survivor.waitUntilReady();
    await recoverStalled(survivor, commandId, campaignId);
    const done = await h.waitForCommand(commandId);
    const trail = h.ctx.audit as unknown as {
      list(id: string): Promise<Array<{ action: string; details: Record<string, unknown> }>>;
    };
    const stateChanges = (await trail.list(campaignId)).filter((r) => r.action === 'state_changed');
    return { done, stateChanges };
  } finally {
    await survivor.close();
  }
}

describe('adjust worker: a command whose worker died after CXone applied its write', () => {
  it('records a stop found in place on the redelivery and stops polling the campaign', async () => {
    const campaign = await h.campaign('active');
    await ensurePolling(h.ctx, campaign.id);
    let written!: () => void;
    const wrote = new Promise<void>((resolve) => (written = resolve));
    const dying = createAdjustWorker({ ...h.ctx, cxone: hangsAfterWrite(h.ctx.cxone, campaign.id, written) });
    const { commandId } = await enqueueCommand(h.ctx, {
      campaignId: campaign.id,
      actor: 'api:dana',
      reason: 'operator',
      action: 'stop',
    });
    await wrote;
    const { done, stateChanges } = await redeliverToSurvivor(dying, commandId, campaign.id);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(done.result).toMatchObject({ status: 'completed', alreadyApplied: ['status'] });
    expect(
      stateChanges.map((r) => [r.details['before'], r.details['after'], r.details['foundApplied']]),
    ).toEqual([['active', 'completed', true]]);
    expect((await listPolledCampaigns(h.ctx)).has(campaign.id)).toBe(false);
  });
});

describe('adjust worker: a command re-run after a 429 that meets a refusal', () => {
  it('undoes the settings its first run wrote when the re-run is refused, as one run would', async () => {
    const campaign = await h.campaign('paused');
    const zone = campaign.complianceSettings.timeZone;
    const today = DateTime.now().setZone(zone).toFormat('ccc').toLowerCase();
    const days = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
    const otherDays = days.filter((d) => d !== today);
    const cxone = withHookBeforeWrite(h.ctx.cxone, async (call, id) => {
      if (call !== 2) return;
      // The status write meets a 429 (nothing written); before the re-run, the console takes today
      // out of the calling window, so the resume is refused then.
      await h.consoleChange(id, {
        complianceSettings: { allowedCallTimes: [{ days: otherDays, start: '08:00', end: '21:00' }] },
      });
      await nextWriteRateLimited();
    });
    cxone.arm(campaign.id);
    const worker = createAdjustWorker({ ...h.ctx, cxone });
    try {
      const { commandId } = await enqueueCommand(h.ctx, {
        campaignId: campaign.id,
        actor: 'api:erin',
        reason: 'operator',
        action: 'resume',
        patch: { dialerStrategy: { callRate: 0.8 } },
        base: { 'dialerStrategy.callRate': 0.5, status: 'paused' },
      });
      const done = await h.waitForCommand(commandId);
      expect(done).toMatchObject({ status: 'failed', error: { kind: 'compliance_refused' } });
      expect(done.rollback).toMatchObject({
        outcome: 'restored',
        restored: [{ field: 'dialerStrategy.callRate', from: 0.8, to: 0.5 }],
      });
      const now = await h.ctx.cxone.getCampaign(campaign.id);
      expect(now).toMatchObject({ status: 'paused', dialerSettings: { callRate: 0.5 } });
    } finally {
      await worker.close();
    }
  });
});

describe('adjust worker: a requester whose two-step command met a 429 on its status write', () => {
  it('lists the settings its first run wrote, and its next command builds on them', async () => {
    // Progressive: its resume carries no safe start, so the status write is the status alone.
    const campaign = await h.campaign(
      'paused',
      testCampaignConfig({
        dialerStrategy: { strategy: 'progressive', agentCapacity: 20, callRate: 0.5, answerRate: 0.3 },
      }),
    );
    const cxone = withHookBeforeWrite(h.ctx.cxone, async (call) => {
      // Call 1 sets the rate; call 2, the resume, meets a 429 and the job is re-run.
      if (call !== 2) return;
      await nextWriteRateLimited();
    });
    cxone.arm(campaign.id);
    // Both sent before either ran, as the same operator saw the campaign: rate 0.5, paused.
    const [first, second] = await h.enqueueInOrder([
      {
        campaignId: campaign.id,
        actor: 'api:fay',
        reason: 'operator',
        action: 'resume',
        patch: { dialerStrategy: { callRate: 0.8 } },
        base: { 'dialerStrategy.callRate': 0.5, status: 'paused' },
      },
      {
        campaignId: campaign.id,
        actor: 'api:fay',
        reason: 'operator',
        patch: { dialerStrategy: { callRate: 0.9 } },
        base: { 'dialerStrategy.callRate': 0.5 },
      },
    ]);
    const worker = createAdjustWorker({ ...h.ctx, cxone });
    try {
      const done = await h.waitForCommand(first!);
      const next = await h.waitForCommand(second!);
      expect([done.status, next.status, next.conflict?.reason]).toEqual([
        'succeeded',
        'succeeded',
        undefined,
      ]);
      expect((await h.ctx.cxone.getCampaign(campaign.id)).dialerSettings.callRate).toBe(0.9);
      expect(done.result?.writes.map((w) => [w.step, w.changes])).toEqual([
        ['settings', [{ field: 'dialerStrategy.callRate', from: 0.5, to: 0.8 }]],
        ['status', [{ field: 'status', from: 'paused', to: 'active' }]],
      ]);
    } finally {
      await worker.close();
    }
  });
});

describe('adjust worker: a command whose worker died after recording its status change', () => {
  it('does not record the status change a second time on the redelivery', async () => {
    const campaign = await h.campaign('active');
    let recorded!: () => void;
    const reached = new Promise<void>((resolve) => (recorded = resolve));
    const audit = h.ctx.audit;
    // The pause is written and recorded; the worker dies while recording the orchestrator-only part.
    const dyingAudit = new Proxy(audit, {
      get(target, prop, receiver) {
        // Both ways in: a record with a dedupe key is appended by appendWithOutcome.
        if (prop !== 'append' && prop !== 'appendWithOutcome')
          return Reflect.get(target, prop, receiver) as unknown;
        return async (input: { action: string; details?: Record<string, unknown> }) => {
          if (input.action === 'settings_changed' && input.details?.['scope'] === 'orchestrator') {
            recorded();
            return new Promise<never>(() => undefined);
          }
          return (Reflect.get(target, prop, receiver) as (i: unknown) => Promise<unknown>).call(
            target,
            input,
          );
        };
      },
    });
    const dying = createAdjustWorker({ ...h.ctx, audit: dyingAudit });
    const { commandId } = await enqueueCommand(h.ctx, {
      campaignId: campaign.id,
      actor: 'api:gus',
      reason: 'operator',
      action: 'pause',
      patch: { description: 'paused for the holiday' },
    });
    await reached;
    const { done, stateChanges } = await redeliverToSurvivor(dying, commandId, campaign.id);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 2, result: { status: 'paused' } });
    expect(stateChanges.map((r) => [r.details['before'], r.details['after']])).toEqual([
      ['active', 'paused'],
    ]);
  });
});

/**
 * The context's publisher, except that once an event of `type` is stored (its webhook job queued) the
 * worker dies: the publish never returns, so nothing after it runs (statusRecorded is not noted).
 */
function diesAfterPublishing(type: string, onPublished: () => void): Harness['ctx']['events'] {
  const events = h.ctx.events;
  return new Proxy(events, {
    get(target, prop, receiver) {
      if (prop !== 'publish') return Reflect.get(target, prop, receiver) as unknown;
      return async (...args: Parameters<typeof events.publish>) => {
        const published = await target.publish(...args);
        if (args[0] !== type) return published;
        onPublished();
        return new Promise<never>(() => undefined);
      };
    },
  });
}

/** The campaign's events of `type` (campaign.state.changed by default), newest first, as kept. */
async function stateEvents(campaignId: string, type = 'campaign.state.changed') {
  const recent = await (h.ctx.events as EventPublisherStore).recent(100, campaignId);
  return recent.filter((e) => e.type === type);
}

describe('adjust worker: a command whose worker died after publishing its status change', () => {
  it('publishes campaign.state.changed once, by one event id, across the redelivery', async () => {
    const campaign = await h.campaign('active');
    let published!: () => void;
    const reached = new Promise<void>((resolve) => (published = resolve));
    const dying = createAdjustWorker({
      ...h.ctx,
      events: diesAfterPublishing('campaign.state.changed', published),
    });
    const { commandId } = await enqueueCommand(h.ctx, {
      campaignId: campaign.id,
      actor: 'api:hal',
      reason: 'operator',
      action: 'pause',
    });
    await reached;
    const { done, stateChanges } = await redeliverToSurvivor(dying, commandId, campaign.id);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 2, result: { status: 'paused' } });
    const changed = await stateEvents(campaign.id);
    expect(changed.map((e) => [e.data['from'], e.data['to'], e.data['commandId']])).toEqual([
      ['active', 'paused', commandId],
    ]);
    // Nor audited twice: the first run's record stands, not a second one marked found.
    expect(
      stateChanges.map((r) => [r.details['before'], r.details['after'], r.details['foundApplied']]),
    ).toEqual([['active', 'paused', undefined]]);
  });

  it('records the change on the redelivery when the run that announced it could not record it', async () => {
    const campaign = await h.campaign('active');
    let published!: () => void;
    const reached = new Promise<void>((resolve) => (published = resolve));
    // The first run's state_changed fails (a chain that did not move in time), its event is written,
    // and the worker dies before noting statusRecorded: the trail must not be left without the pause.
    const audit = h.ctx.audit;
    const failingAudit = new Proxy(audit, {
      get(target, prop, receiver) {
        // Both ways in: a record with a dedupe key is appended by appendWithOutcome.
        if (prop !== 'append' && prop !== 'appendWithOutcome')
          return Reflect.get(target, prop, receiver) as unknown;
        return async (input: { action: string }) => {
          if (input.action === 'state_changed') throw new Error('audit append timed out');
          return (Reflect.get(target, prop, receiver) as (i: unknown) => Promise<unknown>).call(
            target,
            input,
          );
        };
      },
    });
    const dying = createAdjustWorker({
      ...h.ctx,
      audit: failingAudit,
      events: diesAfterPublishing('campaign.state.changed', published),
    });
    const { commandId } = await enqueueCommand(h.ctx, {
      campaignId: campaign.id,
      actor: 'api:ida',
      reason: 'operator',
      action: 'pause',
    });
    await reached;
    const { done, stateChanges } = await redeliverToSurvivor(dying, commandId, campaign.id);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 2, result: { status: 'paused' } });
    expect(
      stateChanges.map((r) => [r.details['before'], r.details['after'], r.details['foundApplied']]),
    ).toEqual([['active', 'paused', true]]);
    // Still announced once, by the first run's event.
    expect((await stateEvents(campaign.id)).map((e) => e.data['foundApplied'])).toEqual([undefined]);
  });

  it("announces compliance's pause again when it lands a second time over a resume made since", async () => {
    const campaign = await h.campaign('active');
    let published!: () => void;
    const reached = new Promise<void>((resolve) => (published = resolve));
    const dying = createAdjustWorker({
      ...h.ctx,
      events: diesAfterPublishing('campaign.state.changed', published),
    });
    const { commandId } = await enqueueCommand(h.ctx, {
      campaignId: campaign.id,
      actor: COMPLIANCE_ACTOR,
      reason: REASON_WINDOW,
      action: 'pause',
    });
    await reached;
    // Resumed in the console before the redelivery: compliance's pause must land (and be told) again.
    await h.consoleChange(campaign.id, { status: 'active' });
    const { done } = await redeliverToSurvivor(dying, commandId, campaign.id);
    expect(done).toMatchObject({ status: 'succeeded', result: { status: 'paused' } });
    const changed = await stateEvents(campaign.id);
    // The console's resume between them too: the redelivery read it before writing (outside).
    expect(changed.map((e) => [e.data['from'], e.data['to'], e.data['reason']]).reverse()).toEqual([
      ['active', 'paused', REASON_WINDOW],
      ['paused', 'active', 'outside'],
      ['active', 'paused', REASON_WINDOW],
    ]);
    expect(new Set(changed.map((e) => e.id)).size).toBe(3);
  });

  it('still publishes a later state change of the same campaign by another command', async () => {
    const campaign = await h.campaign('active');
    const worker = createAdjustWorker(h.ctx);
    try {
      for (const action of ['pause', 'resume'] as const) {
        const { commandId } = await enqueueCommand(h.ctx, {
          campaignId: campaign.id,
          actor: 'api:hal',
          reason: 'operator',
          action,
        });
        await h.waitForCommand(commandId);
      }
    } finally {
      await worker.close();
    }
    const changed = await stateEvents(campaign.id);
    expect(changed.map((e) => e.data['to']).reverse()).toEqual(['paused', 'active']);
    expect(new Set(changed.map((e) => e.id)).size).toBe(2);
  });
});

describe('adjust worker: a command whose worker died after publishing its orchestrator-only change', () => {
  it('publishes campaign.settings.changed once, by one event id, across the redelivery', async () => {
    const campaign = await h.campaign('active');
    let published!: () => void;
    const reached = new Promise<void>((resolve) => (published = resolve));
    const dying = createAdjustWorker({
      ...h.ctx,
      events: diesAfterPublishing('campaign.settings.changed', published),
    });
    const { commandId } = await enqueueCommand(h.ctx, {
      campaignId: campaign.id,
      actor: 'api:ida',
      reason: 'operator',
      patch: { description: 'quarter-end push' },
    });
    await reached;
    const { done } = await redeliverToSurvivor(dying, commandId, campaign.id);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 2 });
    const changed = await stateEvents(campaign.id, 'campaign.settings.changed');
    expect(changed.map((e) => [e.data['commandId'], e.data['changes']])).toEqual([
      [commandId, [{ field: 'description', from: null, to: 'quarter-end push' }]],
    ]);
    const trail = h.ctx.audit as unknown as {
      list(id: string): Promise<Array<{ action: string; details: Record<string, unknown> }>>;
    };
    const recorded = (await trail.list(campaign.id)).filter((r) => r.action === 'settings_changed');
    expect(recorded.map((r) => [r.details['scope'], r.details['foundApplied']])).toEqual([
      ['orchestrator', undefined],
    ]);
  });
});

/**
 * The context's publisher, except that the worker dies as it is about to publish an event of `type`:
 * the publish never returns and stores nothing, so nothing after it runs.
 */
function diesBeforePublishing(type: string, onReached: () => void): Harness['ctx']['events'] {
  const events = h.ctx.events;
  return new Proxy(events, {
    get(target, prop, receiver) {
      if (prop !== 'publish') return Reflect.get(target, prop, receiver) as unknown;
      return async (...args: Parameters<typeof events.publish>) => {
        if (args[0] !== type) return target.publish(...args);
        onReached();
        return new Promise<never>(() => undefined);
      };
    },
  });
}

describe('adjust worker: a command whose worker died around announcing its CXone settings write', () => {
  async function settingsRun(events: (reached: () => void) => Harness['ctx']['events']) {
    const campaign = await h.campaign('active');
    let reached!: () => void;
    const died = new Promise<void>((resolve) => (reached = resolve));
    const dying = createAdjustWorker({ ...h.ctx, events: events(reached) });
    const { commandId } = await enqueueCommand(h.ctx, {
      campaignId: campaign.id,
      actor: 'api:jo',
      reason: 'operator',
      patch: { dialerStrategy: { callRate: 0.4 } },
      base: { 'dialerStrategy.callRate': 0.5 },
    });
    await died;
    const { done } = await redeliverToSurvivor(dying, commandId, campaign.id);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 2 });
    const changed = await stateEvents(campaign.id, 'campaign.settings.changed');
    const trail = h.ctx.audit as unknown as {
      list(id: string): Promise<Array<{ action: string; details: Record<string, unknown> }>>;
    };
    const recorded = (await trail.list(campaign.id)).filter((r) => r.action === 'settings_changed');
    return { commandId, changed, recorded };
  }

  it('announces the write on the redelivery when the worker died before announcing it', async () => {
    const { commandId, changed, recorded } = await settingsRun((reached) =>
      diesBeforePublishing('campaign.settings.changed', reached),
    );
    // Before, the first run had noted the write recorded first: the redelivery skipped it, untold.
    expect(changed.map((e) => [e.data['commandId'], e.data['changes'], e.data['foundApplied']])).toEqual([
      [commandId, [{ field: 'dialerStrategy.callRate', from: 0.5, to: 0.4 }], true],
    ]);
    // The answered record alone: the redelivery's record of the write it found in place carries the
    // same dedupe key (the write's once-name), so it is not appended beside it.
    expect(recorded.map((r) => [r.details['scope'], r.details['foundApplied']])).toEqual([
      ['cxone', undefined],
    ]);
  });

  it('publishes it once, by one event id, and records it once, when the worker died after announcing it', async () => {
    const { commandId, changed, recorded } = await settingsRun((reached) =>
      diesAfterPublishing('campaign.settings.changed', reached),
    );
    expect(changed.map((e) => [e.data['commandId'], e.data['foundApplied']])).toEqual([
      [commandId, undefined],
    ]);
    expect(recorded.map((r) => [r.details['scope'], r.details['foundApplied']])).toEqual([
      ['cxone', undefined],
    ]);
  });
});

describe('adjust worker: a command whose worker died between recording a change and announcing it', () => {
  it('announces the status change on the redelivery and leaves one state_changed record', async () => {
    const campaign = await h.campaign('active');
    let reached!: () => void;
    const died = new Promise<void>((resolve) => (reached = resolve));
    const dying = createAdjustWorker({
      ...h.ctx,
      events: diesBeforePublishing('campaign.state.changed', reached),
    });
    const { commandId } = await enqueueCommand(h.ctx, {
      campaignId: campaign.id,
      actor: 'api:kai',
      reason: 'operator',
      action: 'pause',
    });
    await died;
    const { done, stateChanges } = await redeliverToSurvivor(dying, commandId, campaign.id);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 2, result: { status: 'paused' } });
    expect((await stateEvents(campaign.id)).map((e) => [e.data['from'], e.data['to']])).toEqual([
      ['active', 'paused'],
    ]);
    // The first run's answered record stands; the redelivery's found one is not appended beside it.
    expect(
      stateChanges.map((r) => [r.details['before'], r.details['after'], r.details['foundApplied']]),
    ).toEqual([['active', 'paused', undefined]]);
  });

  it('announces the orchestrator-only change on the redelivery and leaves one settings_changed record', async () => {
    const campaign = await h.campaign('active');
    let reached!: () => void;
    const died = new Promise<void>((resolve) => (reached = resolve));
    const dying = createAdjustWorker({
      ...h.ctx,
      events: diesBeforePublishing('campaign.settings.changed', reached),
    });
    const { commandId } = await enqueueCommand(h.ctx, {
      campaignId: campaign.id,
      actor: 'api:kai',
      reason: 'operator',
      patch: { description: 'year-end push' },
    });
    await died;
    const { done } = await redeliverToSurvivor(dying, commandId, campaign.id);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 2 });
    const changed = await stateEvents(campaign.id, 'campaign.settings.changed');
    expect(changed.map((e) => [e.data['commandId'], e.data['changes']])).toEqual([
      [commandId, [{ field: 'description', from: null, to: 'year-end push' }]],
    ]);
    const trail = h.ctx.audit as unknown as {
      list(id: string): Promise<Array<{ action: string; details: Record<string, unknown> }>>;
    };
    const recorded = (await trail.list(campaign.id)).filter((r) => r.action === 'settings_changed');
    expect(recorded.map((r) => [r.details['scope'], r.details['foundApplied']])).toEqual([
      ['orchestrator', undefined],
    ]);
  });
});
