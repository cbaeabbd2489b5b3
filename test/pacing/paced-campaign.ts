import { CampaignStore } from '../../src/shared/campaign-store.js';
import { abandonmentTargetDecision } from '../../src/shared/pacing/abandonment-target.js';
import { readPacingRecord, type PacingRecord } from '../../src/shared/pacing/record.js';
import { testCampaignConfig, type Harness } from '../lifecycle/harness.js';

/**
 * Campaigns for the tests where pacing meets the lifecycle's commands (a poll racing a command, a safe
 * start a command carries), on a harness's sandbox and Redis.
 */

/** A predictive campaign's config (answerRate 0.3); `pacing` names a strategy other than the default. */
export function predictive(agentCapacity: number, callRate: number, pacing?: 'threshold') {
  return testCampaignConfig({
    dialerStrategy: { strategy: 'predictive', agentCapacity, callRate, answerRate: 0.3 },
    ...(pacing ? { pacing: { strategy: pacing, targetAbandonment: 0.025, pollIntervalMs: 15_000 } } : {}),
  });
}

/** The campaign's pacing memory as stored, read as the abandonment-target controller's. */
export async function pacingOf(h: Pick<Harness, 'ctx'>, campaignId: string): Promise<PacingRecord> {
  return readPacingRecord((await new CampaignStore(h.ctx).get(campaignId))?.pacing, 'abandonment-target');
}

/**
 * A campaign the controller has paced at `callRate` a minute ago (its memory holds that rate, from a
 * poll that saw 300 answers and 3 abandons), so a safe start re-anchors that memory rather than leaving
 * its anchor to the first poll.
 */
export async function pacedCampaign(
  h: Pick<Harness, 'ctx' | 'campaign'>,
  status: 'active' | 'paused',
  agentCapacity: number,
  callRate: number,
) {
  const campaign = await h.campaign(status, predictive(agentCapacity, callRate));
  const { state } = abandonmentTargetDecision(
    {
      atMs: h.ctx.clock.now() - 60_000,
      callRate,
      agents: agentCapacity,
      stats: { totalCalls: 900, answeredCalls: 300, abandonedCalls: 3, agentUtilization: 85 },
    },
    null,
  );
  await new CampaignStore(h.ctx).patch(campaign.id, {
    pacing: { ...readPacingRecord(null, 'abandonment-target'), state },
  });
  return campaign;
}
