import { describe, expect, it } from 'vitest';
import { formatCampaign } from '../../src/cli/format.js';

/**
 * `cxo status` / `cxo watch` show pacing's latest decision, which can be much older than the figures
 * around it: a poll that finds the abandonment guard pausing the campaign skips pacing, and a paused
 * poll at the safe start decides nothing. Seen live: paused by the guard at callRate 0.1, the panel
 * still read "pacing → callRate 1 → 1: cooldown after the last change", with nothing saying when.
 */
describe('the campaign panel pacing line', () => {
  it('says when the decision was made, as the rates line says when the figures were read', () => {
    const text = formatCampaign({
      campaignId: 'c-1',
      status: 'paused',
      version: 20,
      config: { dialerStrategy: { strategy: 'predictive', callRate: 0.1, agentCapacity: 40 } },
      lastStats: {
        totalCalls: 2992,
        answeredCalls: 1042,
        abandonedCalls: 43,
        complianceViolations: 0,
        agentUtilization: 85,
        at: '2026-12-01T03:41:36.134Z',
      },
      pacing: {
        lastDecision: {
          direction: 'hold',
          previousCallRate: 1,
          callRate: 1,
          reason: 'cooldown after the last change',
          at: '2026-12-01T03:40:06.185Z',
        },
      },
    } as Parameters<typeof formatCampaign>[0]);
    expect(text).toContain(
      'pacing     → callRate 1 → 1: cooldown after the last change   decided 2026-12-01T03:40:06.185Z',
    );
    expect(text).toContain('as of 2026-12-01T03:41:36.134Z');
  });

  it('shows no time for a decision stored without one', () => {
    const text = formatCampaign({
      campaignId: 'c-1',
      status: 'active',
      pacing: { lastDecision: { direction: 'up', previousCallRate: 0.6, callRate: 0.65 } },
    } as Parameters<typeof formatCampaign>[0]);
    expect(text).toMatch(/^pacing {5}↑ callRate 0\.6 → 0\.65$/m);
  });
});
