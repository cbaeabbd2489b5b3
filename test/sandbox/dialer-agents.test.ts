import { describe, expect, it } from 'vitest';
import { DialerSimulation } from '../../src/sandbox/dialer/simulation.js';

describe('dialer model: agents added while answered calls wait', () => {
  it('connects the waiting calls to the agents just staffed instead of abandoning them', () => {
    // One agent, every dial answers after exactly 2 s, ten lines per idle agent: at 2 s one call
    // connects and nine wait for an agent (abandoned at 4 s).
    const sim = new DialerSimulation({
      agents: 1,
      answerProb: 1,
      seed: 7,
      callRate: 1,
      strategy: 'predictive',
      startMs: 0,
      answerRingMs: [2_000, 2_000],
      meanTalkMs: 600_000,
      talkSigma: 0.01,
    });
    sim.advanceTo(3_000);
    expect(sim.snapshot()).toMatchObject({ answeredCalls: 10, abandonedCalls: 0 });
    // At 3 s the rate drops to one line per idle agent and agentCapacity rises to 10: nine agents are
    // idle while nine live answers wait for one. Nothing over-dials from here on.
    sim.setCallRate(0.1);
    sim.setAgents(10);
    sim.advanceTo(10_000);
    expect(sim.snapshot()).toMatchObject({ answeredCalls: 10, abandonedCalls: 0 });
  });
});
