import { describe, expect, it } from 'vitest';
import { AgentPool, DialerSimulation } from '../../src/sandbox/dialer/simulation.js';
import type { DialerStrategy } from '../../src/shared/campaign-config.js';

/**
 * A progressive or preview campaign holds agents up to its share of the group (AgentPool.mayHold).
 * A share is rarely a whole number of agents: the last agent of two campaigns' shares is contested,
 * and went every time to the campaign that paced first at that instant — on a 1-agent group the
 * other campaign never had it (no dial in 8 hours, or every live answer abandoned), and on 3 agents
 * one campaign kept 2 for good. The contested agent now goes to the campaign that has gone longer
 * without taking one, so the two take turns.
 */
const HOUR = 3_600_000;
type Strategy = DialerStrategy['strategy'];

function runPair(agents: number, first: Strategy, second: Strategy) {
  const pool = new AgentPool(agents);
  const make = (strategy: Strategy, seed: number) =>
    new DialerSimulation({ agents, pool, answerProb: 0.35, seed, callRate: 0.1, strategy, startMs: 0 });
  const a = make(first, 1);
  const b = make(second, 2);
  a.advanceTo(8 * HOUR);
  expect(pool.busyAgents).toBeLessThanOrEqual(pool.agents);
  return [a.snapshot(), b.snapshot()] as const;
}

const connected = (s: { answeredCalls: number; abandonedCalls: number }) =>
  s.answeredCalls - s.abandonedCalls;

describe('dialer model: the agent two shares contest goes to each campaign in turn', () => {
  const pairs: [Strategy, Strategy][] = [
    ['progressive', 'predictive'],
    ['predictive', 'progressive'],
    ['progressive', 'progressive'],
    ['preview', 'progressive'],
  ];
  for (const [first, second] of pairs) {
    it(`a 1-agent group: ${first} (joined first) and ${second} both connect calls`, () => {
      const [a, b] = runPair(1, first, second);
      const both = connected(a) + connected(b);
      expect(both).toBeGreaterThan(100);
      expect(connected(a), first).toBeGreaterThan(both * 0.25);
      expect(connected(b), second).toBeGreaterThan(both * 0.25);
      for (const [s, strategy] of [
        [a, first],
        [b, second],
      ] as const) {
        if (strategy !== 'predictive') expect(s.abandonedCalls, strategy).toBe(0);
      }
    });
  }

  it('a 3-agent group: two progressive campaigns each hold about half of it, not 2 and 1 for good', () => {
    const [a, b] = runPair(3, 'progressive', 'progressive');
    const both = connected(a) + connected(b);
    expect(connected(a)).toBeGreaterThan(both * 0.4);
    expect(connected(b)).toBeGreaterThan(both * 0.4);
    expect(a.abandonedCalls + b.abandonedCalls).toBe(0);
  });
});
