import type { Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditTrailStore } from '../../src/shared/audit/trail.js';
import { createAdjustWorker } from '../../src/workers/adjust-worker.js';
import { pacedCampaign, pacingOf } from '../pacing/paced-campaign.js';
import { startHarness, withHookBeforeWrite, type Harness } from './harness.js';

/**
 * A resume, or a raise of agentCapacity, whose write carried the safe start and was applied in CXone
 * but whose answer was lost (a timeout): the retry finds it in place, and pacing is told of the drop as
 * when the answer arrived. The adjust worker with the real hooks, against the sandbox over real HTTP
 * and real Redis.
 */
let h: Harness;
let worker: Worker;
let cxone: ReturnType<typeof withHookBeforeWrite>;
/** The armed campaign's write CXone applies and whose answer is dropped. */
let lostCall = 1;

beforeAll(async () => {
  h = await startHarness();
  // The first write of the armed campaign (or the one a test names) is applied by CXone, and its answer dropped.
  cxone = withHookBeforeWrite(
    h.ctx.cxone,
    async () => undefined,
    (call) => call === lostCall,
  );
  worker = createAdjustWorker({ ...h.ctx, cxone });
  await worker.waitUntilReady();
});

afterAll(async () => {
  await worker?.close();
  await h?.close();
});

async function run(request: {
  campaignId: string;
  action?: 'resume';
  patch?: Record<string, unknown>;
}): Promise<string> {
  cxone.arm(request.campaignId);
  const [commandId] = await h.enqueueInOrder([{ actor: 'api:alice', reason: 'operator', ...request }]);
  const record = await h.waitForCommand(commandId!, 30_000);
  expect(record).toMatchObject({ status: 'succeeded', attempts: 2 });
  return commandId!;
}

const trailOf = (campaignId: string) => (h.ctx.audit as AuditTrailStore).list(campaignId);

describe('a carried safe start whose answer was lost', () => {
  it('a resume found in place on the retry hands the drop to pacing, once', async () => {
    const campaign = await pacedCampaign(h, 'paused', 20, 0.5);
    const commandId = await run({ campaignId: campaign.id, action: 'resume' });

    const onCxone = await h.ctx.cxone.getCampaign(campaign.id);
    expect(onCxone).toMatchObject({ status: 'active', dialerSettings: { callRate: 0.1 } });
    // Pacing's memory as when the answer arrives: its own drop, anchored up to the rate it resumed from.
    expect(await pacingOf(h, campaign.id)).toMatchObject({
      state: { callRate: 0.1, anchor: { requestedCallRate: 0.5, startCallRate: 0.1, priorCallRate: 0.5 } },
      lastAdjustment: { commandId, from: 0.5, to: 0.1 },
      pendingCommandId: commandId,
    });
    const trail = await trailOf(campaign.id);
    expect(trail.filter((r) => r.action === 'pacing_decision')).toEqual([
      expect.objectContaining({
        actor: 'worker:pacing',
        details: expect.objectContaining({ commandId, previousCallRate: 0.5, output: { callRate: 0.1 } }),
      }),
    ]);
    // The status change found in place names the rate it carried, as the answered one does.
    expect(trail.filter((r) => r.action === 'state_changed')).toEqual([
      expect.objectContaining({
        details: expect.objectContaining({
          foundApplied: true,
          callRate: expect.objectContaining({ from: 0.5, to: 0.1 }),
        }),
      }),
    ]);
  });

  it('a raise of agentCapacity found in place lists the carried rate and hands the drop to pacing', async () => {
    const campaign = await pacedCampaign(h, 'active', 100, 0.6);
    const commandId = await run({
      campaignId: campaign.id,
      patch: { dialerStrategy: { agentCapacity: 200 } },
    });

    expect((await h.ctx.cxone.getCampaign(campaign.id)).dialerSettings).toMatchObject({
      agentCapacity: 200,
      callRate: 0.1,
    });
    expect(await pacingOf(h, campaign.id)).toMatchObject({
      state: { callRate: 0.1, anchor: { requestedCallRate: 0.6, startCallRate: 0.1, agents: 200 } },
      pendingCommandId: commandId,
    });
    const changes = [
      { field: 'dialerStrategy.agentCapacity', from: 100, to: 200 },
      { field: 'dialerStrategy.callRate', from: 0.6, to: 0.1 },
    ];
    const trail = await trailOf(campaign.id);
    expect(trail.filter((r) => r.action === 'settings_changed')).toEqual([
      expect.objectContaining({ details: expect.objectContaining({ changes, foundApplied: true }) }),
    ]);
    expect(trail.filter((r) => r.action === 'pacing_decision')).toHaveLength(1);
    expect((await h.waitForCommand(commandId)).result?.writes).toEqual([
      expect.objectContaining({ step: 'settings', changes }),
    ]);
  });

  it("a resume's patch raising callRate is not written again over the safe start its lost status write carried", async () => {
    const campaign = await pacedCampaign(h, 'paused', 20, 0.3);
    // The settings write (0.3 → 0.5) is answered; the status write carrying the safe start is applied
    // and its answer lost. The retry finds the campaign active at the safe start.
    lostCall = 2;
    const commandId = await run({
      campaignId: campaign.id,
      action: 'resume',
      patch: { dialerStrategy: { callRate: 0.5 } },
    }).finally(() => (lostCall = 1));

    // Not raised again to 0.5 on a campaign whose agents all just went idle.
    expect(await h.ctx.cxone.getCampaign(campaign.id)).toMatchObject({
      status: 'active',
      dialerSettings: { callRate: 0.1 },
    });
    expect(await pacingOf(h, campaign.id)).toMatchObject({
      state: { callRate: 0.1, anchor: { requestedCallRate: 0.5, startCallRate: 0.1 } },
      lastAdjustment: { commandId, from: 0.5, to: 0.1 },
    });
    const trail = await trailOf(campaign.id);
    expect(trail.filter((r) => r.action === 'settings_changed')).toEqual([
      expect.objectContaining({
        details: expect.objectContaining({
          changes: [{ field: 'dialerStrategy.callRate', from: 0.3, to: 0.5 }],
        }),
      }),
    ]);
    expect(trail.filter((r) => r.action === 'state_changed')).toEqual([
      expect.objectContaining({
        details: expect.objectContaining({
          foundApplied: true,
          callRate: expect.objectContaining({ from: 0.5, to: 0.1 }),
        }),
      }),
    ]);
    // The earlier run's settings write is the command's own, listed as found; the status only found.
    expect((await h.waitForCommand(commandId)).result).toMatchObject({
      status: 'active',
      writes: [
        expect.objectContaining({
          step: 'settings',
          changes: [{ field: 'dialerStrategy.callRate', from: 0.3, to: 0.5 }],
        }),
      ],
      alreadyApplied: ['dialerStrategy.callRate', 'status'],
    });
  });
});
