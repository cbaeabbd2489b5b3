import type { Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REASON_WINDOW } from '../../src/shared/compliance/enforcement.js';
import { COMPLIANCE_ACTOR } from '../../src/shared/compliance/record.js';
import type { CxoneApi } from '../../src/shared/cxone/api.js';
import { CXONE_ENDPOINTS, type UpdateCampaignRequest } from '../../src/shared/cxone/wire.js';
import { CxoneRateLimitError } from '../../src/shared/errors.js';
import type { EventPublisherStore } from '../../src/shared/events/publisher.js';
import { enqueueCommand, type CommandRequest } from '../../src/shared/lifecycle/enqueue.js';
import {
  droppingAnswer,
  harnessWithAdjustWorker,
  progressive,
  type DroppedAnswer,
} from './dropped-answer.js';
import { testCampaignConfig, type Harness } from './harness.js';

/**
 * A command's write that CXone applied without its answer arriving, then changed back in CXone's
 * console before the retry: back at the value the requester saw, the field reads as untouched, and
 * writing it again would silently overwrite the operator's change (docs/lifecycle.md: a change never
 * silently overwrites somebody else's). The retry reads CXone's history, finds its own write there,
 * and stops with a conflict instead.
 */
let h: Harness;
let worker: Worker;
/** `afterApplied` runs once, after the armed campaign's first PATCH is applied and before its answer is dropped. */
const drop: DroppedAnswer = {};
/** The campaign whose second PATCH is refused with a 429 (nothing applied), after `afterApplied`. */
let refusingSecond: string | undefined;
let refusedAfter = 0;

/** The real client; the armed campaign's first PATCH is applied, then answered as a timeout. */
function losingFirstAnswer(inner: CxoneApi): CxoneApi {
  const dropping = droppingAnswer(inner, drop);
  return {
    ...dropping,
    async updateCampaign(id, version, body: UpdateCampaignRequest, opts) {
      if (refusingSecond === id && refusedAfter-- === 0) {
        refusingSecond = undefined;
        await drop.afterApplied?.(id);
        throw new CxoneRateLimitError(
          { endpoint: CXONE_ENDPOINTS.updateCampaign, campaignId: id },
          50,
          'rate limited by CXone (the test)',
        );
      }
      return dropping.updateCampaign(id, version, body, opts);
    },
  };
}

beforeAll(async () => {
  ({ h, worker } = await harnessWithAdjustWorker(losingFirstAnswer));
});

afterAll(async () => {
  await worker?.close();
  await h?.close();
});

async function run(
  status: 'active' | 'paused',
  command: Omit<CommandRequest, 'campaignId' | 'actor' | 'reason'> &
    Partial<Pick<CommandRequest, 'actor' | 'reason'>>,
  console: UpdateCampaignRequest,
  config = progressive,
) {
  const campaign = await h.campaign(status, config);
  drop.afterApplied = async (id) => {
    await h.consoleChange(id, console);
  };
  drop.armed = campaign.id;
  const { commandId } = await enqueueCommand(h.ctx, {
    campaignId: campaign.id,
    actor: 'api:alice',
    reason: 'operator',
    ...command,
    baseVersion: campaign.version,
  });
  const done = await h.waitForCommand(commandId);
  const history = [];
  for await (const page of h.ctx.cxone.history(campaign.id)) history.push(...page.records);
  const after = history.filter((r) => r.version > campaign.version).map((r) => [r.actor, r.changes]);
  return { done, after, now: await h.ctx.cxone.getCampaign(campaign.id) };
}

describe('a write applied without its answer, changed back in the console before the retry', () => {
  it('a PATCH is not written again over the operator’s revert: a conflict naming the field', async () => {
    const { done, after, now } = await run(
      'active',
      {
        patch: { dialerStrategy: { callRate: 0.6 } },
        base: { 'dialerStrategy.callRate': 0.5, status: 'active' },
      },
      { dialerSettings: { callRate: 0.5 } },
    );
    expect(done.status).toBe('conflict');
    expect(done.attempts).toBe(2);
    expect(done.conflict?.conflicts).toEqual([
      { field: 'dialerStrategy.callRate', base: 0.5, ours: 0.6, theirs: 0.5 },
    ]);
    expect(done.conflict?.reason).toMatch(/applied as version \d+ .*changed by someone else since/);
    expect(now.dialerSettings.callRate).toBe(0.5);
    // Ours, the operator's revert, and nothing of ours after it.
    expect(after).toEqual([
      ['sandbox-client', { 'dialerSettings.callRate': { from: 0.5, to: 0.6 } }],
      ['console-operator', { 'dialerSettings.callRate': { from: 0.6, to: 0.5 } }],
    ]);
  });

  it('a pause is not written again over the operator’s resume', async () => {
    const { done, after, now } = await run(
      'active',
      { action: 'pause', base: { status: 'active' } },
      {
        status: 'active',
      },
    );
    expect(done.status).toBe('conflict');
    expect(done.conflict?.conflicts).toEqual([
      { field: 'status', base: 'active', ours: 'paused', theirs: 'active' },
    ]);
    expect(now.status).toBe('active');
    expect(after).toEqual([
      ['sandbox-client', { status: { from: 'active', to: 'paused' } }],
      ['console-operator', { status: { from: 'paused', to: 'active' } }],
    ]);
  });

  it("compliance's own pause, resumed in the console since, pauses the campaign again", async () => {
    // The calling window's pause at its close: it must land whoever resumed the campaign since.
    const { done, now } = await run(
      'active',
      { action: 'pause', actor: COMPLIANCE_ACTOR, reason: REASON_WINDOW },
      { status: 'active' },
    );
    expect(done).toMatchObject({ status: 'succeeded', result: { status: 'paused' } });
    expect(now.status).toBe('paused');
  });

  it('a resume whose settings were reverted undoes the rest of them and does not resume', async () => {
    const { done, after, now } = await run(
      'paused',
      {
        action: 'resume',
        patch: { dialerStrategy: { callRate: 0.8, answerRate: 0.4 } },
        base: { 'dialerStrategy.callRate': 0.5, 'dialerStrategy.answerRate': 0.3, status: 'paused' },
      },
      { dialerSettings: { callRate: 0.5 } },
    );
    expect(done.status).toBe('conflict');
    expect(done.conflict?.conflicts).toEqual([
      { field: 'dialerStrategy.callRate', base: 0.5, ours: 0.8, theirs: 0.5 },
    ]);
    // All or nothing across runs: the answerRate the first run left goes back.
    expect(done.rollback).toMatchObject({
      outcome: 'restored',
      restored: [{ field: 'dialerStrategy.answerRate', from: 0.4, to: 0.3 }],
    });
    expect(now).toMatchObject({ status: 'paused', dialerSettings: { callRate: 0.5, answerRate: 0.3 } });
    expect(after.map(([actor]) => actor)).toEqual(['sandbox-client', 'console-operator', 'sandbox-client']);
  });

  it('a resume whose status write met a 429 after its settings were written: not written again over their revert', async () => {
    // The settings write is answered; the status write is refused (429: nothing written, nothing
    // undone, the job re-run); an operator reverts the callRate before the re-run.
    const campaign = await h.campaign('paused', progressive);
    drop.afterApplied = async (id) => {
      await h.consoleChange(id, { dialerSettings: { callRate: 0.5 } });
    };
    refusingSecond = campaign.id;
    refusedAfter = 1;
    const { commandId } = await enqueueCommand(h.ctx, {
      campaignId: campaign.id,
      actor: 'api:alice',
      reason: 'operator',
      action: 'resume',
      patch: { dialerStrategy: { callRate: 0.8, answerRate: 0.4 } },
      base: { 'dialerStrategy.callRate': 0.5, 'dialerStrategy.answerRate': 0.3, status: 'paused' },
      baseVersion: campaign.version,
    });
    const done = await h.waitForCommand(commandId);
    expect(done.status).toBe('conflict');
    expect(done.conflict?.conflicts).toEqual([
      { field: 'dialerStrategy.callRate', base: 0.5, ours: 0.8, theirs: 0.5 },
    ]);
    expect(await h.ctx.cxone.getCampaign(campaign.id)).toMatchObject({
      status: 'paused',
      dialerSettings: { callRate: 0.5, answerRate: 0.3 },
    });
  });

  it('a change of another field in between still finds the write in place: succeeded, recorded once', async () => {
    const { done, after, now } = await run(
      'active',
      {
        patch: { dialerStrategy: { callRate: 0.6 } },
        base: { 'dialerStrategy.callRate': 0.5, status: 'active' },
      },
      { dialerSettings: { answerRate: 0.35 } },
    );
    expect(done).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(done.result?.alreadyApplied).toEqual(['dialerStrategy.callRate']);
    expect(now.dialerSettings).toMatchObject({ callRate: 0.6, answerRate: 0.35 });
    expect(after).toHaveLength(2);
    const trail = await (
      h.ctx.audit as unknown as {
        list(id: string): Promise<Array<{ action: string; details: Record<string, unknown> }>>;
      }
    ).list(now.id);
    expect(
      trail.filter((r) => r.action === 'settings_changed').map((r) => r.details['foundApplied']),
    ).toEqual([true]);
  });

  it('a resume whose carried safe start the operator raised again is still a resume found in place', async () => {
    // Predictive and paced by abandonment-target: the resume's one write carries the safe start.
    const { done, now } = await run(
      'paused',
      { action: 'resume', base: { status: 'paused' } },
      { dialerSettings: { callRate: 0.5 } },
      testCampaignConfig(),
    );
    // The callRate was pacing's, not the requester's: the resume they asked for stands, recorded.
    expect(done).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(done.result?.alreadyApplied).toEqual(['status']);
    expect(now).toMatchObject({ status: 'active', dialerSettings: { callRate: 0.5 } });
  });

  it('a pause whose patch was changed since keeps its pause on record: found, announced, a conflict for the patch', async () => {
    const { done, now } = await run(
      'active',
      {
        action: 'pause',
        patch: { dialerStrategy: { callRate: 0.3 } },
        base: { 'dialerStrategy.callRate': 0.5, status: 'active' },
      },
      { dialerSettings: { callRate: 0.45 } },
    );
    expect(done.status).toBe('conflict');
    expect(done.conflict?.conflicts).toEqual([
      { field: 'dialerStrategy.callRate', base: 0.5, ours: 0.3, theirs: 0.45 },
    ]);
    expect(now).toMatchObject({ status: 'paused', dialerSettings: { callRate: 0.45 } });
    // The pause is this command's, in place: the trail and the receivers hear of it, once.
    const trail = await (
      h.ctx.audit as unknown as {
        list(id: string): Promise<Array<{ action: string; details: Record<string, unknown> }>>;
      }
    ).list(now.id);
    expect(
      trail
        .filter((r) => r.action === 'state_changed')
        .map((r) => [r.details['before'], r.details['after'], r.details['foundApplied']]),
    ).toEqual([['active', 'paused', true]]);
    const events = await (h.ctx.events as EventPublisherStore).recent(100, now.id);
    expect(
      events.filter((e) => e.type === 'campaign.state.changed').map((e) => [e.data['from'], e.data['to']]),
    ).toEqual([['active', 'paused']]);
  });
});
