import type { Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditTrailStore } from '../../src/shared/audit/trail.js';
import type { EventPublisherStore } from '../../src/shared/events/publisher.js';
import { CAPACITY_SAFE_START_REASON, RESUME_SAFE_START_REASON } from '../../src/shared/pacing/resume.js';
import { runPollCycle } from '../../src/shared/polling/poll-cycle.js';
import { createAdjustWorker } from '../../src/workers/adjust-worker.js';
import { pacedCampaign, pacingOf, predictive } from '../pacing/paced-campaign.js';
import { startHarness, type Harness } from './harness.js';

/**
 * A resume, and a PATCH raising agentCapacity, carry the safe start in their own versioned CXone write
 * (pacing's carriedSafeStart through the lifecycle hooks), and pacing's memory takes the drop as it
 * takes the paused poll's. The adjust worker with the real hooks, against the sandbox over real HTTP
 * and real Redis (a private key prefix, deleted at the end).
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

async function auditOf(campaignId: string) {
  return (h.ctx.audit as AuditTrailStore).list(campaignId);
}

async function run(request: {
  campaignId: string;
  action?: 'resume';
  patch?: Record<string, unknown>;
}): Promise<string> {
  const [commandId] = await h.enqueueInOrder([{ actor: 'api:alice', reason: 'operator', ...request }]);
  const record = await h.waitForCommand(commandId!);
  expect(record.status).toBe('succeeded');
  return commandId!;
}

describe('a resume carries the safe start in its own write', () => {
  it('resumes a campaign no poll saw paused at one line per idle agent; pacing takes the drop as its own', async () => {
    // The controller has paced it before the pause (its memory at 0.5), and no poll ran since the pause.
    const campaign = await pacedCampaign(h, 'paused', 20, 0.5);
    const { state } = await pacingOf(h, campaign.id);
    expect(state).not.toBeNull();

    const commandId = await run({ campaignId: campaign.id, action: 'resume' });

    // One versioned write: the status and the safe start together.
    const onCxone = await h.ctx.cxone.getCampaign(campaign.id);
    expect(onCxone).toMatchObject({ status: 'active', dialerSettings: { callRate: 0.1, agentCapacity: 20 } });
    expect((await h.waitForCommand(commandId)).result?.writes).toEqual([
      expect.objectContaining({
        step: 'status',
        version: onCxone.version,
        changes: [
          { field: 'status', from: 'paused', to: 'active' },
          { field: 'dialerStrategy.callRate', from: 0.5, to: 0.1 },
        ],
      }),
    ]);
    // Pacing's memory as the paused poll's drop leaves it: its own change, anchored up to 0.5.
    const pacing = await pacingOf(h, campaign.id);
    expect(pacing).toMatchObject({
      state: {
        callRate: 0.1,
        anchor: { requestedCallRate: 0.5, startCallRate: 0.1, priorCallRate: 0.5, agents: 20 },
        period: state?.period,
      },
      lastAdjustment: { commandId, from: 0.5, to: 0.1 },
      pendingCommandId: commandId,
      startAnchor: null,
    });
    expect(pacing.lastDecision?.reason).toMatch(new RegExp(`^${RESUME_SAFE_START_REASON}; .*up to 0.5$`));
    // Audited and published as the paused poll's drop, naming the command that carried it.
    const trail = await auditOf(campaign.id);
    expect(trail.find((r) => r.action === 'pacing_decision')).toMatchObject({
      actor: 'worker:pacing',
      cxoneVersion: onCxone.version,
      details: {
        commandId,
        commandReason: 'operator',
        previousCallRate: 0.5,
        output: { callRate: 0.1 },
        direction: 'down',
      },
    });
    expect(trail.find((r) => r.action === 'state_changed')?.details).toMatchObject({
      after: 'active',
      callRate: { from: 0.5, to: 0.1 },
    });
    const events = await (h.ctx.events as EventPublisherStore).recent(20, campaign.id);
    expect(events.find((e) => e.type === 'campaign.pacing.adjusted')?.data).toMatchObject({
      commandId,
      output: { callRate: 0.1 },
    });

    // The next poll takes 0.1 as the controller's own rate: the anchor stays for the re-anchor.
    expect(await runPollCycle(h.ctx, campaign.id)).toMatchObject({ kind: 'polled' });
    expect((await pacingOf(h, campaign.id)).state).toMatchObject({
      callRate: 0.1,
      anchor: { requestedCallRate: 0.5 },
    });
  });

  it('without a controller memory yet, leaves the anchor in the record for the first poll', async () => {
    const campaign = await h.campaign('paused', predictive(20, 0.5));
    await run({ campaignId: campaign.id, action: 'resume' });
    expect((await h.ctx.cxone.getCampaign(campaign.id)).dialerSettings.callRate).toBe(0.1);
    expect(await pacingOf(h, campaign.id)).toMatchObject({
      state: null,
      startAnchor: { requestedCallRate: 0.5, startCallRate: 0.1, priorCallRate: 0.5 },
    });
  });

  it('leaves the rate of a threshold campaign alone', async () => {
    const campaign = await h.campaign('paused', predictive(20, 0.5, 'threshold'));
    await run({ campaignId: campaign.id, action: 'resume' });
    expect(await h.ctx.cxone.getCampaign(campaign.id)).toMatchObject({
      status: 'active',
      dialerSettings: { callRate: 0.5 },
    });
    expect((await auditOf(campaign.id)).some((r) => r.action === 'pacing_decision')).toBe(false);
  });
});

describe('a raise of agentCapacity carries the safe start in its own write', () => {
  it('writes the new capacity with the safe start, anchored on the new team', async () => {
    const campaign = await h.campaign('active', predictive(100, 0.6));
    const commandId = await run({
      campaignId: campaign.id,
      patch: { dialerStrategy: { agentCapacity: 200 } },
    });
    const onCxone = await h.ctx.cxone.getCampaign(campaign.id);
    expect(onCxone.dialerSettings).toMatchObject({ agentCapacity: 200, callRate: 0.1 });
    const changes = [
      { field: 'dialerStrategy.agentCapacity', from: 100, to: 200 },
      { field: 'dialerStrategy.callRate', from: 0.6, to: 0.1 },
    ];
    expect((await h.waitForCommand(commandId)).result?.writes).toEqual([
      expect.objectContaining({ step: 'settings', version: onCxone.version, changes }),
    ]);
    const pacing = await pacingOf(h, campaign.id);
    expect(pacing).toMatchObject({
      state: null,
      startAnchor: { requestedCallRate: 0.6, startCallRate: 0.1, priorCallRate: 0.6, agents: 200 },
      pendingCommandId: commandId,
    });
    expect(pacing.lastDecision?.reason).toContain(`${CAPACITY_SAFE_START_REASON} (100 → 200)`);
    const trail = await auditOf(campaign.id);
    expect(trail.find((r) => r.action === 'settings_changed')?.details).toMatchObject({ changes });
    expect(trail.find((r) => r.action === 'pacing_decision')).toMatchObject({
      actor: 'worker:pacing',
      details: { commandId, previousCallRate: 0.6, output: { callRate: 0.1 } },
    });
  });

  it("writes an operator's explicit callRate as asked, and leaves the rate alone when agents are removed", async () => {
    const campaign = await h.campaign('active', predictive(100, 0.6));
    await run({
      campaignId: campaign.id,
      patch: { dialerStrategy: { agentCapacity: 200, callRate: 0.7 } },
    });
    expect((await h.ctx.cxone.getCampaign(campaign.id)).dialerSettings).toMatchObject({
      agentCapacity: 200,
      callRate: 0.7,
    });
    await run({ campaignId: campaign.id, patch: { dialerStrategy: { agentCapacity: 50 } } });
    expect((await h.ctx.cxone.getCampaign(campaign.id)).dialerSettings).toMatchObject({
      agentCapacity: 50,
      callRate: 0.7,
    });
    expect((await auditOf(campaign.id)).some((r) => r.action === 'pacing_decision')).toBe(false);
  });
});
