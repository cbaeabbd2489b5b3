import { describe, expect, it } from 'vitest';
import { campaignConfig } from '../lifecycle/fixtures.js';
import { pausedSafeStart } from '../../src/shared/pacing/resume.js';
import { SimulatedCampaign } from './simulated-campaign.js';

const AGENTS = 100;

/** A campaign of AGENTS agents, paced by the controller at every poll. */
class Campaign extends SimulatedCampaign {
  constructor(callRate: number, seed: number) {
    super(AGENTS, callRate, seed);
  }
}

/**
 * A campaign paused long enough for its agents to finish their calls resumes with every agent idle:
 * at the rate it was paused at, that is the all-idle burst the activation's safe start prevents.
 * (The poll cycle's part — the drop queued as a command while paused — is in
 * test/polling/poll-cycle.test.ts.)
 */
describe('resuming after a pause', () => {
  it('resumes at the safe start, not with a burst at the rate it was paused at, and re-anchors from there', () => {
    const runs = [1, 2, 3].map((seed) => {
      const atOldRate = new Campaign(0.1, seed);
      const safe = new Campaign(0.1, seed);
      for (const c of [atOldRate, safe]) c.run(3 * 3_600_000);
      const pausedAt = safe.callRate;
      atOldRate.pause(3_600_000);
      safe.pause(3_600_000, () => {
        const step = pausedSafeStart(
          campaignConfig({
            dialerStrategy: {
              strategy: 'predictive',
              agentCapacity: AGENTS,
              callRate: safe.callRate,
              answerRate: 0.35,
            },
          }),
          safe.state,
          { atMs: safe.t, stats: safe.stats },
        );
        expect(step?.decision).toMatchObject({ previousCallRate: pausedAt, callRate: 0.1 });
        safe.state = step!.state;
        safe.setRate(step!.decision.callRate);
      });
      const before = [atOldRate.stats.abandonedCalls, safe.stats.abandonedCalls];
      for (const c of [atOldRate, safe]) c.run(10 * 60_000);
      return {
        pausedAt,
        atOldRate: atOldRate.stats.abandonedCalls - before[0]!,
        safe: safe.stats.abandonedCalls - before[1]!,
        safeRate: safe.callRate,
      };
    });
    // Measured: paused at 0.50 / 0.62 / 0.63, the old rate abandons 8 / 29 / 33 calls in the 10 minutes
    // after the resume, the safe start none, and is back at 0.37–0.38 by then.
    for (const run of runs) {
      expect(run.atOldRate).toBeGreaterThanOrEqual(5);
      expect(run.safe).toBeLessThanOrEqual(1);
      expect(run.safeRate).toBeGreaterThan(0.3);
      expect(run.safeRate).toBeLessThanOrEqual(run.pausedAt);
    }
  });
});

describe('pausedSafeStart', () => {
  const config = (callRate: number, pacing?: { strategy: 'threshold' | 'off' | 'abandonment-target' }) =>
    campaignConfig({
      dialerStrategy: { strategy: 'predictive', agentCapacity: 20, callRate, answerRate: 0.3 },
      ...(pacing ? { pacing: { ...pacing, targetAbandonment: 0.025, pollIntervalMs: 15_000 } } : {}),
    });
  const obs = { atMs: 1_000, stats: { answeredCalls: 10, abandonedCalls: 0 } };

  it('leaves alone a rate already at the start (the guard dropped it), other strategies and other dialers', () => {
    expect(pausedSafeStart(config(0.1), null, obs)).toBeNull();
    expect(pausedSafeStart(config(0.6, { strategy: 'threshold' }), null, obs)).toBeNull();
    expect(pausedSafeStart(config(0.6, { strategy: 'off' }), null, obs)).toBeNull();
    const progressive = campaignConfig({
      dialerStrategy: { strategy: 'progressive', agentCapacity: 20, callRate: 0.6, answerRate: 0.3 },
    });
    expect(pausedSafeStart(progressive, null, obs)).toBeNull();
  });

  it('without a controller memory yet, hands the anchor to the record for the first poll', () => {
    const step = pausedSafeStart(config(0.6), null, obs);
    expect(step?.state).toBeNull();
    expect(step?.anchor).toMatchObject({ requestedCallRate: 0.6, startCallRate: 0.1, priorCallRate: 0.6 });
  });
});
