import type { Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REASON_WINDOW } from '../../src/shared/compliance/enforcement.js';
import { COMPLIANCE_ACTOR } from '../../src/shared/compliance/record.js';
import type { CxoneApi, HistoryPageRead } from '../../src/shared/cxone/api.js';
import { enqueueCommand, getCommand } from '../../src/shared/lifecycle/enqueue.js';
import {
  droppingAnswer,
  harnessWithAdjustWorker,
  progressive,
  type DroppedAnswer,
} from './dropped-answer.js';
import type { Harness } from './harness.js';

/**
 * A command whose retry cannot tell whether its earlier write was applied (CXone's history stops short
 * of it: HistoryBehindError) retries with backoff, minutes in all should the history not catch up,
 * holding its campaign's order. The calling window's pause queued behind it must not wait that out
 * while the campaign dials past its close.
 */
let h: Harness;
let worker: Worker;
/** The armed campaign's first PATCH is applied, `afterApplied` runs, and its answer is dropped. */
const drop: DroppedAnswer = {};
/** Campaign → the last version its history shows (a history that lags the resource). */
const historyUpTo = new Map<string, number>();

function laggingHistory(inner: CxoneApi): CxoneApi {
  return {
    ...droppingAnswer(inner, drop),
    history(id, opts) {
      const upTo = historyUpTo.get(id);
      if (upTo === undefined) return inner.history(id, opts);
      return (async function* (): AsyncIterable<HistoryPageRead> {
        for await (const page of inner.history(id, opts)) {
          yield { ...page, records: page.records.filter((r) => r.version <= upTo) };
        }
      })();
    },
  };
}

beforeAll(async () => {
  ({ h, worker } = await harnessWithAdjustWorker(laggingHistory));
});

afterAll(async () => {
  await worker?.close();
  await h?.close();
});

describe('a command retrying on a lagging history, a pause queued behind it', () => {
  it("ends, writing nothing more, so the calling window's pause runs now", async () => {
    const campaign = await h.campaign('active', progressive);
    // CXone's history stays at the campaign's creation: it never shows the patch's write.
    historyUpTo.set(campaign.id, campaign.version);
    let pauseId: string | undefined;
    drop.afterApplied = async (id) => {
      // The operator reverts the patch in the console; the window closes and its pause is queued.
      await h.consoleChange(id, { dialerSettings: { callRate: 0.5 } });
      ({ commandId: pauseId } = await enqueueCommand(h.ctx, {
        campaignId: id,
        actor: COMPLIANCE_ACTOR,
        reason: REASON_WINDOW,
        action: 'pause',
      }));
    };
    drop.armed = campaign.id;
    const { commandId } = await enqueueCommand(h.ctx, {
      campaignId: campaign.id,
      actor: 'api:alice',
      reason: 'operator',
      patch: { dialerStrategy: { callRate: 0.6 } },
      base: { 'dialerStrategy.callRate': 0.5, status: 'active' },
      baseVersion: campaign.version,
    });

    const patch = await h.waitForCommand(commandId);
    expect(patch.status).toBe('failed');
    expect(patch.attempts).toBe(2);
    expect(patch.error?.kind).toBe('history_behind');
    expect(patch.error?.message).toContain(
      `ended rather than hold up the pause behind it (command ${pauseId}`,
    );
    const pause = await h.waitForCommand(pauseId!);
    expect(pause).toMatchObject({ status: 'succeeded', result: { status: 'paused' } });
    const now = await h.ctx.cxone.getCampaign(campaign.id);
    // Paused, and the operator's revert kept: the patch was not written again.
    expect(now.status).toBe('paused');
    expect(now.dialerSettings.callRate).toBe(0.5);
  });

  it('runs a command between retries at once when a pause comes to wait behind it, to end it', async () => {
    const campaign = await h.campaign('active', progressive);
    historyUpTo.set(campaign.id, campaign.version);
    drop.afterApplied = async (id) => {
      await h.consoleChange(id, { dialerSettings: { callRate: 0.5 } });
    };
    drop.armed = campaign.id;
    const { commandId } = await enqueueCommand(h.ctx, {
      campaignId: campaign.id,
      actor: 'api:alice',
      reason: 'operator',
      patch: { dialerStrategy: { callRate: 0.6 } },
      base: { 'dialerStrategy.callRate': 0.5, status: 'active' },
      baseVersion: campaign.version,
    });
    // Its run on the lagging history failed, nothing behind it: it waits out its backoff, made ten
    // minutes here (a later attempt's is up to a minute).
    const deadline = Date.now() + 15_000;
    for (;;) {
      const job = await h.ctx.queues.adjust.getJob(commandId);
      const command = await getCommand(h.ctx, commandId);
      if (command?.error?.kind === 'HistoryBehindError' && job && (await job.isDelayed())) {
        const moved = await job.changeDelay(10 * 60_000).then(
          () => true,
          () => false,
        );
        if (moved) break;
      }
      if (Date.now() > deadline)
        throw new Error(`no retry on the lagging history: ${JSON.stringify(command)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    // The window closes: its pause comes to wait behind the command.
    const { commandId: pauseId } = await enqueueCommand(h.ctx, {
      campaignId: campaign.id,
      actor: COMPLIANCE_ACTOR,
      reason: REASON_WINDOW,
      action: 'pause',
    });

    const patch = await h.waitForCommand(commandId);
    expect(patch).toMatchObject({ status: 'failed', error: { kind: 'history_behind' } });
    expect(await h.waitForCommand(pauseId)).toMatchObject({
      status: 'succeeded',
      result: { status: 'paused' },
    });
    const now = await h.ctx.cxone.getCampaign(campaign.id);
    expect(now.status).toBe('paused');
    expect(now.dialerSettings.callRate).toBe(0.5);
  });
});
