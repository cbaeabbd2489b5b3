import type { Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CampaignStore } from '../../src/shared/campaign-store.js';
import { createCommandOrder } from '../../src/shared/lifecycle/order.js';
import { applyPacing } from '../../src/shared/pacing/apply.js';
import { createAdjustWorker } from '../../src/workers/adjust-worker.js';
import { waitFor } from '../e2e/stack.js';
import { statsOf } from '../lifecycle/fixtures.js';
import { startHarness, type Harness } from '../lifecycle/harness.js';
import { predictive } from './paced-campaign.js';

/**
 * The threshold rule reads the cumulative answer rate, which does not move while no call is placed
 * (no agent logged in, the list exhausted) nor on a stale read. Without a call since its last
 * decision it has nothing new to judge: deciding again on the same figures raised the rate 15% on
 * every poll, up to 1.0, so the agents logging back in met the highest dial ratio at once. Real Redis,
 * the sandbox over HTTP, and the adjust worker writing each change.
 */
let h: Harness;
let worker: Worker;

beforeAll(async () => {
  h = await startHarness();
  worker = createAdjustWorker(h.ctx);
  await worker.waitUntilReady();
});

afterAll(async () => {
  await worker?.close();
  await h?.close();
});

async function paceOnce(campaignId: string, totalCalls: number, answeredCalls: number) {
  const record = (await new CampaignStore(h.ctx).get(campaignId))!;
  const stats = { ...statsOf({ status: 'active', totalCalls, answeredCalls }), version: record.version };
  const paced = await applyPacing(h.ctx, { record, stats, efficiency: null, throttle: null });
  if (paced.kind === 'decided' && paced.commandId !== null) {
    expect((await h.waitForCommand(paced.commandId)).status).toBe('succeeded');
    await waitFor("the command to leave its campaign's order", async () =>
      (await createCommandOrder(h.ctx).pending(campaignId)).includes(paced.commandId!) ? undefined : true,
    );
  }
  return paced;
}

describe('threshold pacing without a call since its last decision', () => {
  it('raises once on a high answer rate, then holds while no call is placed and on a stale read', async () => {
    const campaign = await h.campaign('active', predictive(20, 0.5, 'threshold'));
    // 70 % answered, above the seed's 0.65: one raise, 0.5 → 0.57.
    expect(await paceOnce(campaign.id, 100, 70)).toMatchObject({
      kind: 'decided',
      decision: { direction: 'up', callRate: 0.57 },
    });
    // The same counters again (nobody dialing): nothing new, the rate stays.
    const idle = await paceOnce(campaign.id, 100, 70);
    expect(idle).toMatchObject({ kind: 'decided', decision: { direction: 'hold', callRate: 0.57 } });
    expect((idle as { decision: { reason: string } }).decision.reason).toContain('no call');
    // An older snapshot (fewer calls than the last decision saw) is no evidence either.
    expect(await paceOnce(campaign.id, 90, 66)).toMatchObject({
      decision: { direction: 'hold', callRate: 0.57 },
    });
    // Calls placed since the last decision: judged again.
    expect(await paceOnce(campaign.id, 130, 92)).toMatchObject({
      decision: { direction: 'up', callRate: 0.66 },
    });
    expect((await h.ctx.cxone.getCampaign(campaign.id)).dialerSettings.callRate).toBe(0.66);
  });

  it('after a stale read, counters back at those of its last decision are still nothing new', async () => {
    const campaign = await h.campaign('active', predictive(20, 0.5, 'threshold'));
    expect(await paceOnce(campaign.id, 100, 70)).toMatchObject({
      decision: { direction: 'up', callRate: 0.57 },
    });
    const stale = await paceOnce(campaign.id, 90, 66);
    expect(stale).toMatchObject({ decision: { direction: 'hold', callRate: 0.57 } });
    expect((stale as { decision: { reason: string } }).decision.reason).toContain('went backwards');
    // The fresh read again: the figures the raise was decided on, not a call since. Judged again, they
    // raised the rate a second time without a dial.
    expect(await paceOnce(campaign.id, 100, 70)).toMatchObject({
      decision: { direction: 'hold', callRate: 0.57 },
    });
    expect((await h.ctx.cxone.getCampaign(campaign.id)).dialerSettings.callRate).toBe(0.57);
  });

  it('still cuts on the first decision and whenever calls were placed since the last one', async () => {
    const campaign = await h.campaign('active', predictive(20, 0.8, 'threshold'));
    expect(await paceOnce(campaign.id, 100, 20)).toMatchObject({
      decision: { direction: 'down', callRate: 0.68 },
    });
    expect(await paceOnce(campaign.id, 160, 30)).toMatchObject({
      decision: { direction: 'down', callRate: 0.58 },
    });
  });
});
