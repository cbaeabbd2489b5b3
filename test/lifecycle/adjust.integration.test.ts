import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { historyJobId } from '../../src/shared/audit/history-sync.js';
import { CampaignStore } from '../../src/shared/campaign-store.js';
import { CXONE_ENDPOINTS } from '../../src/shared/cxone/wire.js';
import { RequestAbandonedError } from '../../src/shared/errors.js';
import { createCommandStore } from '../../src/shared/lifecycle/commands.js';
import { enqueueCommand, getCommand } from '../../src/shared/lifecycle/enqueue.js';
import { createCommandOrder, pendingKey } from '../../src/shared/lifecycle/order.js';
import { lifecycleCommands } from '../../src/shared/metrics.js';
import { hookedAdjustSuite, testCampaignConfig, type Harness, type HookedAdjustSuite } from './harness.js';

/**
 * The adjust worker against the sandbox over real HTTP and real Redis. Outside changes are made by a
 * second OAuth client ("console-operator") through the same v2 API, just before our PATCH — the
 * window between our read and our write that versioned writes exist for.
 */
const suite = hookedAdjustSuite();
let h: Harness;
let cxone: HookedAdjustSuite['cxone'];
beforeAll(() => {
  ({ h, cxone } = suite);
});

/**
 * A campaign whose resume carries no safe start (pacing's is for predictive dialers), so that a
 * resume's two writes are the command's own settings, then its status alone.
 */
const progressive = testCampaignConfig({
  dialerStrategy: { strategy: 'progressive', agentCapacity: 20, callRate: 0.5, answerRate: 0.3 },
});

async function history(id: string) {
  const records = [];
  for await (const page of h.ctx.cxone.history(id, { pageSize: 100 })) records.push(...page.records);
  return records;
}

async function auditActions(id: string): Promise<string[]> {
  const trail = h.ctx.audit as unknown as { list(id: string): Promise<Array<{ action: string }>> };
  return (await trail.list(id)).map((r) => r.action);
}

async function auditRecords(id: string) {
  const trail = h.ctx.audit as unknown as {
    list(id: string): Promise<Array<{ action: string; details: Record<string, unknown> }>>;
  };
  return (await trail.list(id)).filter(
    (r) => r.action === 'settings_changed' || r.action === 'state_changed',
  );
}

describe('enqueueCommand after its API request passed its deadline', () => {
  it('records nothing and enqueues nothing once the signal fired, before or after the records', async () => {
    const campaign = await h.campaign('active');
    const request = {
      campaignId: campaign.id,
      actor: 'api:erin',
      reason: 'operator',
      action: 'pause' as const,
    };
    const jobsBefore = await h.ctx.queues.adjust.getJobCountByTypes(
      'waiting',
      'delayed',
      'active',
      'completed',
    );
    await expect(enqueueCommand(h.ctx, request, { signal: AbortSignal.abort() })).rejects.toThrow(
      RequestAbandonedError,
    );
    // Fired while the command's records were being written (the second look at it): closed, not queued.
    let looks = 0;
    const firesLater = {
      get aborted() {
        looks += 1;
        return looks > 1;
      },
    } as AbortSignal;
    await expect(enqueueCommand(h.ctx, request, { signal: firesLater })).rejects.toThrow(
      RequestAbandonedError,
    );
    expect(await createCommandOrder(h.ctx).pending(campaign.id)).toEqual([]);
    expect(await h.ctx.queues.adjust.getJobCountByTypes('waiting', 'delayed', 'active', 'completed')).toBe(
      jobsBefore,
    );
  });
});

describe('enqueueCommand when its place in the order cannot be taken', () => {
  it('closes the command record it made instead of leaving it queued with no job', async () => {
    const campaign = await h.campaign('active');
    // A key of the wrong type: Redis refuses the order's script as it would in an outage or OOM.
    const orderKey = pendingKey(h.ctx.keys, campaign.id);
    await h.ctx.redis.set(orderKey, 'not a sorted set');
    let commandId = '';
    try {
      await expect(
        enqueueCommand(
          h.ctx,
          { campaignId: campaign.id, actor: 'api:gus', reason: 'operator', action: 'pause' },
          { onCommandId: (id) => (commandId = id) },
        ),
      ).rejects.toThrow(/WRONGTYPE/);
    } finally {
      await h.ctx.redis.del(orderKey);
    }
    expect(await getCommand(h.ctx, commandId)).toMatchObject({
      status: 'failed',
      finishedAt: expect.any(String),
      error: { message: expect.stringMatching(/could not enqueue/) },
    });
    expect(await h.ctx.queues.adjust.getJob(commandId)).toBeUndefined();
  });
});

describe('adjust worker: writes whose answer was lost', () => {
  afterEach(() => {
    suite.lostAnswers = new Set();
    suite.hook = async () => undefined;
  });

  /**
   * Resumes a paused campaign and sets its rate (settings first, then the status: two writes), with
   * the answers of the given writes lost.
   */
  async function resumeLosingAnswers(calls: number[]) {
    const campaign = await h.campaign('paused', progressive);
    suite.lostAnswers = new Set(calls);
    cxone.arm(campaign.id);
    const { commandId } = await enqueueCommand(h.ctx, {
      campaignId: campaign.id,
      actor: 'api:carol',
      reason: 'operator',
      action: 'resume',
      patch: { dialerStrategy: { callRate: 0.8 } },
    });
    const done = await h.waitForCommand(commandId);
    const audited = (await auditRecords(campaign.id)).map((r) => [
      r.action,
      r.details['foundApplied'] ?? false,
    ]);
    return { campaign, done, audited };
  }

  it('records a settings write CXone applied without answering when the retry finds it, then resumes', async () => {
    const { done, audited } = await resumeLosingAnswers([1]);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(done.result?.alreadyApplied).toEqual(['dialerStrategy.callRate']);
    expect(done.rollback).toBeUndefined();
    expect(audited).toEqual([
      ['settings_changed', true],
      ['state_changed', false],
    ]);
  });

  it('does not record the settings twice when an answered settings write is followed by a lost status answer', async () => {
    const { campaign, done, audited } = await resumeLosingAnswers([2]);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(done.result?.alreadyApplied).toEqual(['dialerStrategy.callRate', 'status']);
    expect(audited).toEqual([
      ['settings_changed', false],
      ['state_changed', true],
    ]);
    const now = await h.ctx.cxone.getCampaign(campaign.id);
    expect(now).toMatchObject({ status: 'active', dialerSettings: { callRate: 0.8 } });
  });
});

describe("adjust worker: the campaign record's note of the outcome", () => {
  it('cannot reopen a finished command when it fails to be written', async () => {
    const campaign = await h.campaign('active');
    const patch = CampaignStore.prototype.patch;
    let refused = 0;
    const spy = vi.spyOn(CampaignStore.prototype, 'patch').mockImplementation(async function (
      this: CampaignStore,
      id,
      partial,
    ) {
      if (id === campaign.id && partial.lastCommand && refused === 0) {
        refused += 1;
        throw new Error("READONLY You can't write against a read only replica.");
      }
      return patch.call(this, id, partial);
    });
    try {
      const { commandId } = await enqueueCommand(h.ctx, {
        campaignId: campaign.id,
        actor: 'api:dave',
        reason: 'operator',
        action: 'pause',
      });
      const deadline = Date.now() + 15_000;
      while ((await h.ctx.queues.adjust.getJobState(commandId)) !== 'completed') {
        if (Date.now() > deadline) throw new Error(`job ${commandId} did not complete`);
        await new Promise((r) => setTimeout(r, 25));
      }
      expect(refused).toBe(1);
      // One run: the outcome it stored stands, with no error from the note that failed.
      expect(await getCommand(h.ctx, commandId)).toMatchObject({ status: 'succeeded', attempts: 1 });
      expect((await getCommand(h.ctx, commandId))?.error).toBeUndefined();
    } finally {
      spy.mockRestore();
    }
  });
});

describe('adjust worker: versioned writes against the sandbox', () => {
  it("queues the import of CXone's history when its first read finds a change made outside", async () => {
    const campaign = await h.campaign('active');
    // Changed in the console while the record still holds the version the harness stored.
    const changed = await h.consoleChange(campaign.id, { name: 'Renamed before the command' });
    const { commandId } = await enqueueCommand(h.ctx, {
      campaignId: campaign.id,
      actor: 'api:alice',
      reason: 'operator',
      action: 'pause',
    });
    expect((await h.waitForCommand(commandId)).status).toBe('succeeded');
    const job = await h.ctx.queues.audit.getJob(historyJobId(campaign.id, changed.version));
    expect(job?.data).toEqual({ campaignId: campaign.id, version: changed.version });
  });

  it('rebases onto an outside change to another field: both changes present', async () => {
    const campaign = await h.campaign('active');
    suite.hook = async (call, id) => {
      if (call === 1) await h.consoleChange(id, { name: 'Renamed in the console' });
    };
    cxone.arm(campaign.id);
    const { commandId } = await enqueueCommand(h.ctx, {
      campaignId: campaign.id,
      actor: 'api:alice',
      reason: 'operator',
      patch: { dialerStrategy: { callRate: 0.8 } },
      base: { 'dialerStrategy.callRate': 0.5, status: 'active' },
      baseVersion: campaign.version,
    });
    const done = await h.waitForCommand(commandId);

    expect(done.status).toBe('succeeded');
    expect(done.result?.rebases).toBe(1);
    const now = await h.ctx.cxone.getCampaign(campaign.id);
    expect(now.name).toBe('Renamed in the console');
    expect(now.dialerSettings.callRate).toBe(0.8);
    // Our write applied on top of theirs: initial + console + ours.
    expect(now.version).toBe(campaign.version + 2);
    expect(done.result?.version).toBe(now.version);

    const record = await new CampaignStore(h.ctx).get(campaign.id);
    expect(record?.version).toBe(now.version);
    expect(record?.config.dialerStrategy.callRate).toBe(0.8);
    expect(record?.config.name).toBe('Renamed in the console');
    expect(record?.lastCommand).toMatchObject({ commandId, status: 'succeeded', actor: 'api:alice' });
    expect(await auditActions(campaign.id)).toContain('settings_changed');
    // The console's change landed between the command's read and its write: CXone's account of it is
    // imported (the record, synced past it, would hide it from every later read).
    const job = await h.ctx.queues.audit.getJob(historyJobId(campaign.id, now.version));
    expect(job?.data).toEqual({ campaignId: campaign.id, version: now.version });
  });

  it('stops with a conflict report when the same field changed outside; the outside value is kept', async () => {
    const campaign = await h.campaign('active');
    suite.hook = async (call, id) => {
      if (call === 1) await h.consoleChange(id, { dialerSettings: { callRate: 0.6 } });
    };
    cxone.arm(campaign.id);
    const { commandId } = await enqueueCommand(h.ctx, {
      campaignId: campaign.id,
      actor: 'api:alice',
      reason: 'operator',
      patch: { dialerStrategy: { callRate: 0.8 } },
      base: { 'dialerStrategy.callRate': 0.5, status: 'active' },
    });
    const done = await h.waitForCommand(commandId);

    expect(done.status).toBe('conflict');
    expect(done.conflict?.conflicts).toEqual([
      { field: 'dialerStrategy.callRate', base: 0.5, ours: 0.8, theirs: 0.6 },
    ]);
    const now = await h.ctx.cxone.getCampaign(campaign.id);
    expect(now.dialerSettings.callRate).toBe(0.6);
    expect(now.version).toBe(campaign.version + 1);
    expect(await auditActions(campaign.id)).toContain('conflict');
    // CXone won: the record shows its value at once, not the one from before the outside change.
    const record = await new CampaignStore(h.ctx).get(campaign.id);
    expect(record).toMatchObject({ version: now.version, config: { dialerStrategy: { callRate: 0.6 } } });
    // And the outside change it ran into is imported, though the record no longer betrays it.
    const job = await h.ctx.queues.audit.getJob(historyJobId(campaign.id, now.version));
    expect(job?.data).toEqual({ campaignId: campaign.id, version: now.version });
  });

  it('rolls back the first write when the second fails half-way, then retries the whole command', async () => {
    const campaign = await h.campaign('paused', progressive);
    suite.hook = async (call) => {
      // Call 1 is the settings write; fail call 2, the status write, with a 503.
      if (call === 2) await h.failNext(1, CXONE_ENDPOINTS.updateCampaign, 503);
    };
    cxone.arm(campaign.id);
    const { commandId } = await enqueueCommand(h.ctx, {
      campaignId: campaign.id,
      actor: 'api:bob',
      reason: 'operator',
      action: 'resume',
      patch: { dialerStrategy: { callRate: 0.8 } },
    });
    const done = await h.waitForCommand(commandId);

    // The first attempt's undo, named as such next to the second attempt's success.
    expect(done.rollback).toMatchObject({
      outcome: 'restored',
      restored: [{ field: 'dialerStrategy.callRate', from: 0.8, to: 0.5 }],
      attempt: 1,
    });
    expect(done.attempts).toBe(2);
    expect(done.status).toBe('succeeded');

    const changes = (await history(campaign.id))
      .filter((r) => r.version > campaign.version)
      .map((r) => r.changes);
    expect(changes).toEqual([
      { 'dialerSettings.callRate': { from: 0.5, to: 0.8 } },
      { 'dialerSettings.callRate': { from: 0.8, to: 0.5 } }, // the rollback
      { 'dialerSettings.callRate': { from: 0.5, to: 0.8 } }, // the retry
      { status: { from: 'paused', to: 'active' } },
    ]);
    const actions = await auditActions(campaign.id);
    expect(actions).toContain('rollback');
    expect(actions).toContain('state_changed');
  });

  it('reports a rollback that would overwrite an outside change instead of forcing it', async () => {
    const campaign = await h.campaign('paused');
    suite.hook = async (call, id) => {
      if (call === 2) {
        await h.consoleChange(id, { dialerSettings: { callRate: 0.65 } });
        await h.failNext(1, CXONE_ENDPOINTS.updateCampaign, 503);
      }
    };
    cxone.arm(campaign.id);
    const { commandId } = await enqueueCommand(h.ctx, {
      campaignId: campaign.id,
      actor: 'api:bob',
      reason: 'operator',
      action: 'resume',
      patch: { dialerStrategy: { callRate: 0.8 } },
    });
    const done = await h.waitForCommand(commandId);

    expect(done.rollback).toMatchObject({
      outcome: 'conflict',
      restored: [],
      conflicts: [{ field: 'dialerStrategy.callRate', base: 0.5, ours: 0.8, theirs: 0.65 }],
    });
    // The retry finds the field changed by someone else since the base: a conflict, nothing forced.
    expect(done.status).toBe('conflict');
    expect(done.conflict?.conflicts).toEqual([
      { field: 'dialerStrategy.callRate', base: 0.5, ours: 0.8, theirs: 0.65 },
    ]);
    const now = await h.ctx.cxone.getCampaign(campaign.id);
    expect(now.dialerSettings.callRate).toBe(0.65);
    expect(now.status).toBe('paused');
  });

  it('fails with a conflict when the state changed so the action is no longer allowed', async () => {
    const campaign = await h.campaign('active');
    suite.hook = async (call, id) => {
      if (call === 1) await h.consoleChange(id, { status: 'completed' });
    };
    cxone.arm(campaign.id);
    const { commandId } = await enqueueCommand(h.ctx, {
      campaignId: campaign.id,
      actor: 'api:carol',
      reason: 'operator',
      action: 'pause',
      base: { status: 'active' },
    });
    const done = await h.waitForCommand(commandId);
    expect(done.status).toBe('conflict');
    expect(done.conflict?.conflicts).toEqual([
      { field: 'status', base: 'active', ours: 'paused', theirs: 'completed' },
    ]);
    expect((await h.ctx.cxone.getCampaign(campaign.id)).status).toBe('completed');
  });

  it('applies orchestrator-only fields to the record without writing CXone', async () => {
    const campaign = await h.campaign('paused');
    cxone.arm('none');
    const { commandId } = await enqueueCommand(h.ctx, {
      campaignId: campaign.id,
      actor: 'pacing',
      reason: 'operator',
      patch: { pacing: { targetAbandonment: 0.02 }, description: 'tuned' },
    });
    const done = await h.waitForCommand(commandId);
    expect(done.status).toBe('succeeded');
    // Nothing written to CXone; the outcome still says what changed, and where.
    expect(done.result?.writes).toEqual([
      {
        step: 'orchestrator',
        version: campaign.version,
        changes: expect.arrayContaining([
          { field: 'pacing.targetAbandonment', from: null, to: 0.02 },
          { field: 'description', from: null, to: 'tuned' },
        ]),
        at: expect.any(String),
      },
    ]);
    expect((await h.ctx.cxone.getCampaign(campaign.id)).version).toBe(campaign.version);
    const record = await new CampaignStore(h.ctx).get(campaign.id);
    expect(record?.config.pacing).toMatchObject({ targetAbandonment: 0.02 });
    expect(record?.config.description).toBe('tuned');
  });

  it('applies commands on one campaign in the order they were accepted', async () => {
    const campaign = await h.campaign('active');
    cxone.arm('none');
    const rates = [0.11, 0.12, 0.13, 0.14, 0.15, 0.16];
    const ids = await h.enqueueInOrder(
      rates.map((callRate) => ({
        campaignId: campaign.id,
        actor: 'pacing',
        reason: 'pacing',
        patch: { dialerStrategy: { callRate } },
      })),
    );
    const outcomes = await Promise.all(ids.map((id) => h.waitForCommand(id)));
    expect(outcomes.map((o) => o.status)).toEqual(rates.map(() => 'succeeded'));
    const applied = (await history(campaign.id))
      .filter((r) => r.changes['dialerSettings.callRate'])
      .sort((a, b) => a.version - b.version)
      .map((r) => r.changes['dialerSettings.callRate']!.to);
    expect(applied).toEqual(rates);
    expect(await createCommandOrder(h.ctx).pending(campaign.id)).toEqual([]);
  });

  it('does not let a command whose job was lost block its campaign', async () => {
    const campaign = await h.campaign('active');
    const failedPatches = async () =>
      (await lifecycleCommands.get()).values.find(
        (v) => v.labels.kind === 'patch' && v.labels.outcome === 'failed',
      )?.value ?? 0;
    const failedBefore = await failedPatches();
    cxone.arm('none');
    // A command accepted long ago whose job vanished (e.g. removed by hand from Bull Board).
    const requestedAt = new Date(Date.now() - 120_000).toISOString();
    await createCommandStore(h.ctx).create({
      commandId: 'cmd_lost',
      campaignId: campaign.id,
      actor: 'api:ghost',
      reason: 'operator',
      patch: { name: 'never' },
      status: 'queued',
      requestedAt,
      updatedAt: requestedAt,
      attempts: 0,
    });
    await createCommandOrder(h.ctx).register(campaign.id, 'cmd_lost');

    const { commandId } = await enqueueCommand(h.ctx, {
      campaignId: campaign.id,
      actor: 'api:alice',
      reason: 'operator',
      patch: { name: 'after the lost one' },
    });
    expect((await h.waitForCommand(commandId)).status).toBe('succeeded');
    expect(await getCommand(h.ctx, 'cmd_lost')).toMatchObject({ status: 'failed', error: { kind: 'lost' } });
    expect((await h.ctx.cxone.getCampaign(campaign.id)).name).toBe('after the lost one');
    // Counted as it ended, as every finished command is (cxo_lifecycle_commands_total).
    expect((await failedPatches()) - failedBefore).toBe(1);
  });
});
