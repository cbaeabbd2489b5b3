import { describe, expect, it } from 'vitest';
import { DialerSimulation } from '../../src/sandbox/dialer/simulation.js';
import {
  abandonmentTargetDecision,
  evidencedAgents,
  reanchorHasRoom,
  startingCallRate,
  type AbandonmentControllerState,
} from '../../src/shared/pacing/index.js';

/**
 * A handful of agents dialing under a larger agentCapacity (a skill group with 3–8 agents logged in
 * under a capacity of 25), on a list answering more than declared (0.25 declared 0.15), asking for
 * 0.9: the re-anchor was sized for 25 agents and moved on 34 clean live answers, and 2 or 3 abandons
 * in the next 60 put the period at the cap. Before the fix, 2 h, 40 seeds: 8/40 trips with 3 agents,
 * 20/40 with 5, 7/40 with 8 (docs/pacing.md "Small teams").
 */
function trips(agents: number, seeds: number): number[] {
  const failed: number[] = [];
  for (let seed = 1; seed <= seeds; seed++) {
    const start = startingCallRate({
      dialerStrategy: { strategy: 'predictive', agentCapacity: 25, callRate: 0.9, answerRate: 0.15 },
    })!;
    let callRate = start.callRate;
    const sim = new DialerSimulation({
      agents,
      answerProb: 0.25,
      seed,
      callRate,
      strategy: 'predictive',
      startMs: 0,
    });
    let state: AbandonmentControllerState | null = null;
    let tripped = false;
    for (let t = 15_000; t <= 120 * 60_000; t += 15_000) {
      sim.advanceTo(t);
      const s = sim.snapshot();
      // The compliance guard's pause: the period at 3% or more on at least 30 live answers.
      if (s.answeredCalls >= 30 && s.abandonedCalls / s.answeredCalls >= 0.03) tripped = true;
      const r = abandonmentTargetDecision(
        { atMs: t, callRate, agents: 25, stats: s },
        state,
        {},
        state === null ? start.anchor : null,
      );
      state = r.state;
      if (r.decision.callRate !== callRate) {
        callRate = r.decision.callRate;
        sim.setCallRate(callRate);
      }
    }
    if (tripped) failed.push(seed);
  }
  return failed;
}

describe('a small team dialing under a larger agentCapacity', () => {
  it.each([3, 5, 8])('%i agents under a capacity of 25 never reach 3% (40 seeds, 2 h)', (agents) => {
    // Before: 3 agents seeds 3,8,11,12,16,19,21,28; 5 agents 20 seeds; 8 agents 6,9,15,19,25,26,38.
    expect(trips(agents, 40)).toEqual([]);
  });

  it('takes the team the statistics show when it is under half the capacity', () => {
    // 34 live answers in 45 min at 80% utilization: ≈ 3.3 agents busy-equivalent, not 25.
    expect(evidencedAgents({ answered: 34, elapsedMs: 45 * 60_000, utilization: 80 })).toBeCloseTo(3.3, 1);
    expect(evidencedAgents({ answered: 0, elapsedMs: 60_000, utilization: 80 })).toBeNull();
    const anchor = startingCallRate({
      dialerStrategy: { strategy: 'predictive', agentCapacity: 25, callRate: 0.9, answerRate: 0.15 },
    })!.anchor;
    const stats = (totalCalls: number, answeredCalls: number) => ({
      totalCalls,
      answeredCalls,
      abandonedCalls: 0,
      agentUtilization: 80,
    });
    const poll0 = abandonmentTargetDecision(
      { atMs: 15_000, callRate: 0.1, agents: 25, stats: stats(4, 0) },
      null,
      {},
      anchor,
    );
    const first = abandonmentTargetDecision(
      { atMs: 45.5 * 60_000, callRate: 0.1, agents: 25, stats: stats(150, 34) },
      poll0.state,
    );
    // Before the fix: 0.1 → 0.25 (re-anchor sized for 25 agents on 34 clean answers).
    expect(first.decision).toMatchObject({ direction: 'hold', callRate: 0.1 });
  });

  it('asks an unproven team for room for three more abandons under the cap', () => {
    expect(reanchorHasRoom({ answered: 34, abandoned: 0 }, { target: 0.025, cap: 0.03 })).toBe(true);
    expect(
      reanchorHasRoom({ answered: 99, abandoned: 0 }, { target: 0.025, cap: 0.03, roomAbandons: 3 }),
    ).toBe(false);
    expect(
      reanchorHasRoom({ answered: 101, abandoned: 0 }, { target: 0.025, cap: 0.03, roomAbandons: 3 }),
    ).toBe(true);
    expect(reanchorHasRoom({ answered: 40, abandoned: 2 }, { target: 0.025, cap: 0.03 })).toBe(false);
  });
});
