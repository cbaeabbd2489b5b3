import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CampaignStore } from '../../src/shared/campaign-store.js';
import { complianceKeys } from '../../src/shared/compliance/state-store.js';
import { CXONE_ENDPOINTS, type CampaignResource, type HistoryRecord } from '../../src/shared/cxone/wire.js';
import { enqueueCommand } from '../../src/shared/lifecycle/enqueue.js';
import { listPolledCampaigns, ensurePolling } from '../../src/shared/polling/schedulers.js';
import { hookedAdjustSuite, testCampaignConfig, type Harness, type HookedAdjustSuite } from './harness.js';

/**
 * An action that carries a patch, against the sandbox over real HTTP and real Redis: a pause or a
 * stop never lets its settings apply to a campaign that still dials (one CXone write carries both),
 * and a resume keeps its settings first. Judged on CXone's own history: every version the campaign
 * went through, rebuilt from it.
 */
const suite = hookedAdjustSuite();
let h: Harness;
let cxone: HookedAdjustSuite['cxone'];
beforeAll(() => {
  ({ h, cxone } = suite);
});

afterEach(() => {
  suite.hook = async () => undefined;
  suite.lostAnswers = new Set();
});

async function history(id: string): Promise<HistoryRecord[]> {
  const records: HistoryRecord[] = [];
  for await (const page of h.ctx.cxone.history(id, { pageSize: 100 })) records.push(...page.records);
  return records;
}

/** Every version of the campaign after `from`, as (status, callRate), rebuilt from CXone's history. */
async function versionsAfter(from: CampaignResource): Promise<Array<[string, number]>> {
  let status: string = from.status;
  let callRate = from.dialerSettings.callRate;
  const seen: Array<[string, number]> = [];
  for (const record of await history(from.id)) {
    if (record.version <= from.version) continue;
    const changes = record.changes as Record<string, { to: unknown }>;
    if (changes['status']) status = changes['status'].to as string;
    if (changes['dialerSettings.callRate']) callRate = changes['dialerSettings.callRate'].to as number;
    seen.push([status, callRate]);
  }
  return seen;
}

async function cxoneRecords(id: string) {
  const trail = h.ctx.audit as unknown as {
    list(
      id: string,
    ): Promise<Array<{ action: string; cxoneVersion?: number; details: Record<string, unknown> }>>;
  };
  return (await trail.list(id)).filter((r) =>
    ['settings_changed', 'state_changed', 'rollback'].includes(r.action),
  );
}

async function run(
  campaign: CampaignResource,
  action: 'pause' | 'stop' | 'resume',
  patch: Record<string, unknown> = { dialerStrategy: { callRate: 0.8 } },
) {
  cxone.arm(campaign.id);
  const { commandId } = await enqueueCommand(h.ctx, {
    campaignId: campaign.id,
    actor: 'api:hana',
    reason: 'operator',
    action,
    patch,
  });
  return h.waitForCommand(commandId);
}

describe('a pause or a stop with a patch raising the call rate', () => {
  it.each([
    ['pause', 'paused'],
    ['stop', 'completed'],
  ] as const)('%s: no version of the campaign dials at the raised rate', async (action, to) => {
    const campaign = await h.campaign('active');
    await ensurePolling(h.ctx, campaign.id);
    const done = await run(campaign, action);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 1, result: { status: to } });
    expect(done.rollback).toBeUndefined();
    // One CXone write: the status and the rate change together, never the rate on an active campaign.
    expect(await versionsAfter(campaign)).toEqual([[to, 0.8]]);
    expect(done.result?.writes).toEqual([
      {
        step: 'status',
        version: campaign.version + 1,
        changes: [
          { field: 'status', from: 'active', to },
          { field: 'dialerStrategy.callRate', from: 0.5, to: 0.8 },
        ],
        at: expect.any(String),
      },
    ]);
    const records = await cxoneRecords(campaign.id);
    expect(records.map((r) => [r.action, r.cxoneVersion])).toEqual([
      ['settings_changed', campaign.version + 1],
      ['state_changed', campaign.version + 1],
    ]);
    expect(records[0]?.details).toMatchObject({ withStatus: { from: 'active', to } });
    expect(records[1]?.details).toMatchObject({
      withSettings: [{ field: 'dialerStrategy.callRate', from: 0.5, to: 0.8 }],
    });
    // The status's follow-ups ran as for a plain pause or stop.
    expect((await listPolledCampaigns(h.ctx)).has(campaign.id)).toBe(action === 'pause');
  });

  it('a resume with a patch writes the settings first, while still paused, then resumes', async () => {
    const campaign = await h.campaign('paused');
    const done = await run(campaign, 'resume');
    expect(done).toMatchObject({ status: 'succeeded', result: { status: 'active' } });
    // The resume's own write carries pacing's safe start (docs/lifecycle.md): 0.8 is the rate pacing
    // re-anchors up to.
    expect(await versionsAfter(campaign)).toEqual([
      ['paused', 0.8],
      ['active', 0.1],
    ]);
    expect(done.result?.writes.map((w) => w.step)).toEqual(['settings', 'status']);
  });
});

describe('a pause or a stop with a patch, when its one write fails', () => {
  it.each([
    ['pause', 'paused'],
    ['stop', 'completed'],
  ] as const)(
    '%s: an answer lost after CXone applied it is not undone; the retry finds both parts and records them',
    async (action, to) => {
      const campaign = await h.campaign('active');
      suite.lostAnswers = new Set([1]);
      const done = await run(campaign, action);
      expect(done).toMatchObject({
        status: 'succeeded',
        attempts: 2,
        result: { status: to, alreadyApplied: ['dialerStrategy.callRate', 'status'] },
      });
      expect(done.rollback).toBeUndefined();
      expect(await versionsAfter(campaign)).toEqual([[to, 0.8]]);
      expect((await cxoneRecords(campaign.id)).map((r) => [r.action, r.details['foundApplied']])).toEqual([
        ['settings_changed', true],
        ['state_changed', true],
      ]);
    },
  );

  it('a retry that fails after finding both parts in place undoes neither: the settings stay with the pause', async () => {
    const campaign = await h.campaign('active');
    // The pause's hand-over to its requester (onPauseTaken) fails on every run while the window
    // state cannot be read: the first run's after its one write, the retry's after finding it in place.
    const windowKey = complianceKeys(h.ctx.keys, campaign.id).state;
    await h.ctx.redis.hset(windowKey, 'window', '{unreadable');
    const done = run(campaign, 'pause');
    // Two runs failed: the one that wrote, and a retry that found its write in place.
    const deadline = Date.now() + 15_000;
    for (;;) {
      const commandJob = (await h.ctx.queues.adjust.getJobs(['delayed', 'waiting', 'active', 'failed'])).find(
        (j) => (j.data as { campaignId?: string }).campaignId === campaign.id,
      );
      if (commandJob && commandJob.attemptsMade >= 2) break;
      if (Date.now() > deadline) throw new Error('the command did not fail twice');
      await new Promise((r) => setTimeout(r, 50));
    }
    await h.ctx.redis.hdel(windowKey, 'window');
    const record = await done;
    expect(record).toMatchObject({ status: 'succeeded', result: { status: 'paused' } });
    expect(record.rollback).toBeUndefined();
    // The run that finished found the write in place: its settings listed as an earlier run's, its
    // status as already applied (docs/lifecycle.md, the outcome's `writes`).
    expect(record.result?.writes.map((w) => [w.step, w.changes.map((c) => c.field)])).toEqual([
      ['settings', ['dialerStrategy.callRate']],
    ]);
    expect(record.result?.alreadyApplied).toEqual(['dialerStrategy.callRate', 'status']);
    // Never a version at the old rate after the pause: one write, nothing undone nor written again.
    expect(await versionsAfter(campaign)).toEqual([['paused', 0.8]]);
    expect((await cxoneRecords(campaign.id)).map((r) => r.action)).toEqual([
      'settings_changed',
      'state_changed',
    ]);
  });

  it('a stop whose patch holds only orchestrator fields, its answer lost, is found in place by the retry', async () => {
    const campaign = await h.campaign('active');
    await ensurePolling(h.ctx, campaign.id);
    suite.lostAnswers = new Set([1]);
    // Nothing of the patch goes to CXone: the stop is the one write, and its answer is lost.
    const done = await run(campaign, 'stop', { description: 'wound down' });
    expect(done).toMatchObject({
      status: 'succeeded',
      attempts: 2,
      result: { status: 'completed', alreadyApplied: ['status'] },
    });
    expect(done.result?.writes.map((w) => w.step)).toEqual(['orchestrator']);
    expect(await versionsAfter(campaign)).toEqual([['completed', 0.5]]);
    expect(
      (await cxoneRecords(campaign.id)).map((r) => [r.action, r.details['scope'], r.details['foundApplied']]),
    ).toEqual([
      ['state_changed', undefined, true],
      ['settings_changed', 'orchestrator', undefined],
    ]);
    // The stop's follow-ups ran, and the description is the record's.
    expect((await listPolledCampaigns(h.ctx)).has(campaign.id)).toBe(false);
    expect((await new CampaignStore(h.ctx).get(campaign.id))?.config.description).toBe('wound down');
  });

  it('a 503 that wrote nothing is retried whole: still one write, nothing to undo', async () => {
    const campaign = await h.campaign('active');
    suite.hook = async (call) => {
      if (call === 1) await h.failNext(1, CXONE_ENDPOINTS.updateCampaign, 503);
    };
    const done = await run(campaign, 'pause');
    expect(done).toMatchObject({ status: 'succeeded', attempts: 2, result: { status: 'paused' } });
    expect(done.rollback).toBeUndefined();
    expect(await versionsAfter(campaign)).toEqual([['paused', 0.8]]);
  });

  it('a 422 on the settings leaves the campaign as it was, neither paused nor changed, and says so', async () => {
    // Collections has 40 agents: CXone refuses a plan for 60, which the orchestrator cannot know.
    const campaign = await h.campaign(
      'active',
      testCampaignConfig({ skillGroupId: '2b2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d' }),
    );
    const done = await run(campaign, 'pause', { dialerStrategy: { callRate: 0.8, agentCapacity: 60 } });
    expect(done).toMatchObject({ status: 'failed', error: { kind: 'validation', status: 422 } });
    expect(done.rollback).toBeUndefined();
    expect(await versionsAfter(campaign)).toEqual([]);
    expect(await cxoneRecords(campaign.id)).toEqual([]);
  });

  it('a conflict on the patch writes nothing: the campaign is not paused, the outside value kept', async () => {
    const campaign = await h.campaign('active');
    suite.hook = async (call, id) => {
      if (call === 1) await h.consoleChange(id, { dialerSettings: { callRate: 0.6 } });
    };
    const done = await run(campaign, 'pause');
    expect(done).toMatchObject({
      status: 'conflict',
      conflict: { conflicts: [{ field: 'dialerStrategy.callRate', base: 0.5, ours: 0.8, theirs: 0.6 }] },
    });
    expect(done.rollback).toBeUndefined();
    expect(await versionsAfter(campaign)).toEqual([['active', 0.6]]);
  });
});
