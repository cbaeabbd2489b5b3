import { describe, expect, it } from 'vitest';
import {
  AgentPool,
  DialerSimulation,
  type DialerSimulationOptions,
} from '../../src/sandbox/dialer/simulation.js';

const MINUTE = 60_000;

const base: DialerSimulationOptions = {
  agents: 20,
  answerProb: 0.35,
  seed: 5,
  callRate: 0.5,
  strategy: 'predictive',
  startMs: 0,
};

const connected = (s: { answeredCalls: number; abandonedCalls: number }) =>
  s.answeredCalls - s.abandonedCalls;
const abandonment = (s: { answeredCalls: number; abandonedCalls: number }) =>
  s.abandonedCalls / s.answeredCalls;

describe('dialer model: campaigns of one skill group share its agents (AgentPool)', () => {
  it('a campaign alone on its group dials exactly as a campaign with agents of its own', () => {
    const own = new DialerSimulation(base);
    const pooled = new DialerSimulation({ ...base, pool: new AgentPool(500) });
    for (let t = MINUTE; t <= 120 * MINUTE; t += MINUTE) {
      own.advanceTo(t);
      pooled.advanceTo(t);
      if (t === 30 * MINUTE) [own, pooled].forEach((s) => s.setCallRate(0.8));
      if (t === 60 * MINUTE) [own, pooled].forEach((s) => s.setAgents(8));
      if (t === 90 * MINUTE) [own, pooled].forEach((s) => s.setAgents(30));
    }
    expect(own.snapshot().totalCalls).toBeGreaterThan(1000);
    expect(pooled.snapshot()).toEqual(own.snapshot());
  });

  it('an agent on one campaign’s call is not idle for another: the group never has more calls than agents', () => {
    const pool = new AgentPool(20);
    const a = new DialerSimulation({ ...base, pool });
    const b = new DialerSimulation({ ...base, seed: 6, pool });
    let most = 0;
    for (let t = 10_000; t <= 120 * MINUTE; t += 10_000) {
      a.advanceTo(t);
      most = Math.max(most, pool.busyAgents, a.busyAgents + b.busyAgents);
    }
    expect(most).toBe(20);
    // Running one runs the other to the same instant.
    expect(b.snapshot().simMs).toBe(120 * MINUTE);

    const alone = new DialerSimulation(base);
    alone.advanceTo(120 * MINUTE);
    const pair = [a.snapshot(), b.snapshot()];
    // Twenty agents connect about as many calls for two campaigns as for one, not twice as many...
    expect(connected(pair[0]!) + connected(pair[1]!)).toBeLessThan(connected(alone.snapshot()) * 1.25);
    // ...and two dialers pacing on the same idle agents over-dial them: more live answers abandoned.
    for (const s of pair) expect(abandonment(s)).toBeGreaterThan(abandonment(alone.snapshot()) * 2);
  });

  it('gives a freed agent to the longest-waiting live answer of any campaign of the group', () => {
    // One agent; every dial answers after exactly 1 s (a) or 1.5 s (b); talk 10 s.
    const pool = new AgentPool(1);
    const opts = { ...base, agents: 1, answerProb: 1, callRate: 0.1, meanTalkMs: 10_000, talkSigma: 0.0001 };
    const a = new DialerSimulation({ ...opts, wrapUpMs: 0, answerRingMs: [1_000, 1_000], pool });
    const b = new DialerSimulation({ ...opts, wrapUpMs: 0, answerRingMs: [1_500, 1_500], pool });
    a.advanceTo(5_000);
    // a's answer took the agent at 1 s; b's answer (1.5 s) found none and was abandoned at 3.5 s.
    expect(a.snapshot()).toMatchObject({ answeredCalls: 1, abandonedCalls: 0 });
    expect(b.snapshot()).toMatchObject({ answeredCalls: 1, abandonedCalls: 1 });
    expect(pool.busyAgents).toBe(1);
  });
});
