import { describe, expect, it } from 'vitest';
import { AgentPool, DialerSimulation } from '../../src/sandbox/dialer/simulation.js';
import {
  abandonmentTargetDecision,
  reanchorOwnsIdleAgents,
  startingCallRate,
  type AbandonmentControllerState,
} from '../../src/shared/pacing/index.js';

const POLL_MS = 15_000;

/**
 * `campaigns` predictive abandonment-target campaigns of `capacity` agents each on one skill group of
 * `group` agents (one AgentPool), each launched at its safe start (requested 0.9, answerRate declared
 * right) and paced by its own controller every 15 s (polls staggered across the interval), seeing
 * only its own counters. Returns, per seed, the campaigns that reached the compliance guard's pause
 * (the period at ≥ 3% on ≥ 30 live answers at some poll), and their mean utilization.
 */
function sharedGroup(opts: {
  group: number;
  capacity: number;
  campaigns: number;
  answerProb: number;
  seeds: number;
  hours: number;
}): { trips: string[]; utilization: number } {
  const trips: string[] = [];
  let utilization = 0;
  for (let seed = 1; seed <= opts.seeds; seed++) {
    const pool = new AgentPool(opts.group);
    const campaigns = Array.from({ length: opts.campaigns }, (_, i) => {
      const start = startingCallRate({
        dialerStrategy: {
          strategy: 'predictive',
          agentCapacity: opts.capacity,
          callRate: 0.9,
          answerRate: opts.answerProb,
        },
      })!;
      const sim = new DialerSimulation({
        agents: opts.capacity,
        pool,
        answerProb: opts.answerProb,
        seed: seed * 101 + i * 7919,
        callRate: start.callRate,
        strategy: 'predictive',
        startMs: 0,
      });
      return {
        sim,
        callRate: start.callRate,
        anchor: start.anchor,
        state: null as AbandonmentControllerState | null,
        tripped: false,
      };
    });
    for (let t = POLL_MS; t <= opts.hours * 3600_000; t += POLL_MS) {
      campaigns.forEach((c, i) => {
        const at = t - POLL_MS + ((i + 1) * POLL_MS) / campaigns.length;
        c.sim.advanceTo(at);
        const s = c.sim.snapshot();
        if (s.answeredCalls >= 30 && s.abandonedCalls / s.answeredCalls >= 0.03) c.tripped = true;
        const r = abandonmentTargetDecision(
          { atMs: at, callRate: c.callRate, agents: opts.capacity, stats: s },
          c.state,
          {},
          c.state === null ? c.anchor : null,
        );
        c.state = r.state;
        if (r.decision.callRate !== c.callRate) {
          c.callRate = r.decision.callRate;
          c.sim.setCallRate(c.callRate);
        }
      });
    }
    campaigns.forEach((c, i) => {
      if (c.tripped) trips.push(`seed ${seed} campaign ${i}`);
      utilization += c.sim.snapshot().agentUtilization;
    });
  }
  return { trips, utilization: utilization / (opts.seeds * opts.campaigns) };
}

describe('campaigns sharing one skill group, each paced by its own controller', () => {
  // Before the fix (4 h, 20 seeds): 24 of 60 campaigns tripped with 3 × 40 on 40 agents at 0.15, 2 of 40
  // with 2 × 40, 1 of 60 with 3 × 100 on 100: each re-anchored on the idle agents it saw as its own.
  it.each([
    { group: 40, capacity: 40, campaigns: 3 },
    { group: 40, capacity: 40, campaigns: 2 },
    { group: 100, capacity: 100, campaigns: 3 },
  ])(
    '$campaigns × $capacity on $group agents at answer rate 0.15 never reach 3% (20 seeds, 4 h)',
    (cfg) => {
      const { trips, utilization } = sharedGroup({ ...cfg, answerProb: 0.15, seeds: 20, hours: 4 });
      expect(trips).toEqual([]);
      expect(utilization).toBeGreaterThan(70);
    },
    60_000,
  );

  // A group with agents for every campaign's agentCapacity: as safe as alone.
  it.each([
    { capacity: 25, campaigns: 2 },
    { capacity: 40, campaigns: 2 },
    { capacity: 25, campaigns: 3 },
  ])(
    '$campaigns × $capacity on 100 agents never reach 3% at answer rates 0.15, 0.35, 0.6 (20 seeds, 4 h)',
    (cfg) => {
      for (const answerProb of [0.15, 0.35, 0.6]) {
        const { trips, utilization } = sharedGroup({ ...cfg, group: 100, answerProb, seeds: 20, hours: 4 });
        expect({ answerProb, trips }).toEqual({ answerProb, trips: [] });
        expect(utilization).toBeGreaterThan(80);
      }
    },
    120_000,
  );

  it('does not re-anchor on idle agents a team under its agentCapacity may share', () => {
    expect(reanchorOwnsIdleAgents(null, 40)).toBe(true);
    expect(reanchorOwnsIdleAgents(43, 40)).toBe(true);
    expect(reanchorOwnsIdleAgents(40, 40)).toBe(true);
    // 0.9 × agentCapacity: room for a raise's evidence, which misses the calls already in progress.
    expect(reanchorOwnsIdleAgents(36, 40)).toBe(true);
    expect(reanchorOwnsIdleAgents(35, 40)).toBe(false);
    expect(reanchorOwnsIdleAgents(26, 40)).toBe(false);
    expect(reanchorOwnsIdleAgents(26, 40, 0.5)).toBe(true);
  });
});
