import { describe, expect, it } from 'vitest';
import {
  callRateForDialRatio,
  DialerSimulation,
  dialRatioFor,
  type DialerSimulationOptions,
} from '../../src/sandbox/dialer/simulation.js';

const HOUR = 3600_000;

/** A predictive simulation from time 0: 20 agents, p 0.35, seed 7, callRate 0.4, unless overridden. */
function dialer(opts: Partial<DialerSimulationOptions> = {}): DialerSimulation {
  return new DialerSimulation({
    agents: 20,
    answerProb: 0.35,
    seed: 7,
    callRate: 0.4,
    strategy: 'predictive',
    startMs: 0,
    ...opts,
  });
}

function run(opts: Partial<DialerSimulationOptions> & { hours?: number } = {}) {
  const { hours = 2, ...rest } = opts;
  const simulation = dialer(rest);
  simulation.advanceTo(hours * HOUR);
  return simulation.snapshot();
}

const abandonment = (s: { abandonedCalls: number; answeredCalls: number }) =>
  s.answeredCalls > 0 ? s.abandonedCalls / s.answeredCalls : 0;

describe('dial ratio mapping', () => {
  it('maps callRate 0.1 to one line per idle agent and 1.0 to the maximum, geometrically', () => {
    expect(dialRatioFor('predictive', 0.1)).toBeCloseTo(1, 10);
    expect(dialRatioFor('predictive', 1.0)).toBeCloseTo(10, 10);
    expect(dialRatioFor('predictive', 0.55)).toBeCloseTo(Math.sqrt(10), 10);
    expect(dialRatioFor('predictive', 5)).toBeCloseTo(10, 10);
    expect(dialRatioFor('predictive', 0)).toBeCloseTo(1, 10);
  });

  it('ignores callRate for progressive and preview', () => {
    expect(dialRatioFor('progressive', 0.9)).toBe(1);
    expect(dialRatioFor('preview', 0.9)).toBe(1);
  });

  it('inverts', () => {
    for (const rate of [0.1, 0.33, 0.5, 0.87, 1]) {
      expect(callRateForDialRatio(dialRatioFor('predictive', rate))).toBeCloseTo(rate, 10);
    }
  });
});

describe('DialerSimulation', () => {
  it('replays the same day for the same seed', () => {
    expect(run({ seed: 11 })).toEqual(run({ seed: 11 }));
  });

  it('gives a different day for a different seed', () => {
    expect(run({ seed: 11 })).not.toEqual(run({ seed: 12 }));
  });

  it('gives the same result whether time advances in one step or many', () => {
    const one = dialer({ agents: 10, answerProb: 0.3, seed: 3, callRate: 0.5 });
    one.advanceTo(HOUR);
    const many = dialer({ agents: 10, answerProb: 0.3, seed: 3, callRate: 0.5 });
    for (let t = 15_000; t <= HOUR; t += 15_000) many.advanceTo(t);
    const {
      agentUtilization: stepped,
      staffedAgentMs: s1,
      busyAgentMs: b1,
      ...steppedCounts
    } = many.snapshot();
    const { agentUtilization: whole, staffedAgentMs: s2, busyAgentMs: b2, ...wholeCounts } = one.snapshot();
    expect(steppedCounts).toEqual(wholeCounts);
    // Utilization is integrated over time; only floating-point rounding may differ.
    expect(stepped).toBeCloseTo(whole, 9);
    expect(s1 / s2).toBeCloseTo(1, 9);
    expect(b1 / b2).toBeCloseTo(1, 9);
  });

  it('abandons more as the dial ratio rises, and never at one line per idle agent', () => {
    const rates = [0.1, 0.3, 0.5, 0.7, 0.9].map((callRate) => abandonment(run({ callRate })));
    expect(rates[0]).toBe(0);
    for (let i = 1; i < rates.length; i++) expect(rates[i]!).toBeGreaterThan(rates[i - 1]!);
    expect(rates[4]!).toBeGreaterThan(0.2);
  });

  it('keeps agents busier as the dial ratio rises', () => {
    const low = run({ callRate: 0.1 }).agentUtilization;
    const high = run({ callRate: 0.6 }).agentUtilization;
    expect(high).toBeGreaterThan(low + 5);
    expect(high).toBeLessThanOrEqual(100);
    expect(low).toBeGreaterThan(0);
  });

  it('answers live at about the answer probability', () => {
    const s = run({ answerProb: 0.35, callRate: 0.3, hours: 4 });
    expect(s.answeredCalls / s.totalCalls).toBeGreaterThan(0.32);
    expect(s.answeredCalls / s.totalCalls).toBeLessThan(0.38);
  });

  it('never abandons under progressive or preview dialing', () => {
    for (const strategy of ['progressive', 'preview'] as const) {
      const s = run({ strategy, callRate: 1, answerProb: 0.6 });
      expect(s.totalCalls).toBeGreaterThan(100);
      expect(s.abandonedCalls).toBe(0);
    }
  });

  it('paces preview dialing by the agents: fewer dials than progressive', () => {
    expect(run({ strategy: 'preview' }).totalCalls).toBeLessThan(run({ strategy: 'progressive' }).totalCalls);
  });

  it('counts dials placed while canDial says no as compliance violations', () => {
    const sim = dialer({ agents: 5, answerProb: 0.3, seed: 1, callRate: 0.5 });
    sim.advanceTo(HOUR, () => true);
    expect(sim.snapshot().complianceViolations).toBe(0);
    const before = sim.snapshot().totalCalls;
    sim.advanceTo(2 * HOUR, (t) => t < 1.5 * HOUR);
    const after = sim.snapshot();
    expect(after.complianceViolations).toBeGreaterThan(0);
    expect(after.complianceViolations).toBeLessThan(after.totalCalls - before);
  });

  it('stops dialing when paused and lets calls in progress finish', () => {
    const sim = dialer({ agents: 10, answerProb: 0.3, seed: 5, callRate: 0.5 });
    sim.advanceTo(HOUR);
    sim.setDialing(false);
    sim.advanceTo(HOUR + 60_000);
    const paused = sim.snapshot();
    sim.advanceTo(2 * HOUR);
    expect(sim.snapshot().totalCalls).toBe(paused.totalCalls);
    sim.setDialing(true);
    sim.advanceTo(3 * HOUR);
    expect(sim.snapshot().totalCalls).toBeGreaterThan(paused.totalCalls);
  });

  it('follows a call-rate change from the moment it is made', () => {
    const a = dialer({ seed: 9, callRate: 0.1 });
    const b = dialer({ seed: 9, callRate: 0.1 });
    a.advanceTo(HOUR);
    b.advanceTo(HOUR);
    b.setCallRate(0.9);
    a.advanceTo(2 * HOUR);
    b.advanceTo(2 * HOUR);
    expect(a.snapshot().abandonedCalls).toBe(0);
    expect(b.snapshot().abandonedCalls).toBeGreaterThan(0);
    expect(b.currentDialRatio).toBeCloseTo(dialRatioFor('predictive', 0.9), 10);
  });

  it('follows a wrap-up change from the moment it is made: longer after-call work, fewer calls', () => {
    const a = dialer({ seed: 9, wrapUpMs: 30_000 });
    const b = dialer({ seed: 9, wrapUpMs: 30_000 });
    a.advanceTo(HOUR);
    b.advanceTo(HOUR);
    expect(b.snapshot()).toEqual(a.snapshot());
    b.setWrapUp(600_000);
    a.advanceTo(3 * HOUR);
    b.advanceTo(3 * HOUR);
    expect(b.snapshot().totalCalls).toBeLessThan(a.snapshot().totalCalls * 0.8);
    expect(() => b.setWrapUp(-1)).toThrow(RangeError);
  });

  it('lets unanswered calls ring at least 15 s, whatever it is told', () => {
    // With no live answers, every line is held for the ring time: fewer dials mean longer rings.
    const short = run({ answerProb: 0, noAnswerRingMs: [1_000, 2_000], hours: 1 });
    const tsr = run({ answerProb: 0, noAnswerRingMs: [15_000, 15_000], hours: 1 });
    expect(short.totalCalls).toBe(tsr.totalCalls);
  });

  it('staffs more or fewer agents when agentCapacity changes', () => {
    const sim = dialer({ agents: 2, answerProb: 0.5, seed: 2, callRate: 0.1 });
    sim.advanceTo(HOUR);
    const small = sim.snapshot().answeredCalls;
    sim.setAgents(20);
    sim.advanceTo(2 * HOUR);
    expect(sim.snapshot().answeredCalls - small).toBeGreaterThan(small * 5);
    sim.setAgents(0);
    sim.advanceTo(2 * HOUR + 20 * 60_000);
    const drained = sim.snapshot().totalCalls;
    sim.advanceTo(3 * HOUR);
    expect(sim.snapshot().totalCalls).toBe(drained);
  });

  it('reports nothing before the first dial and refuses nonsense', () => {
    const sim = dialer({ agents: 3, answerProb: 0.3, seed: 1, callRate: 0.5, startMs: 1000, dialing: false });
    sim.advanceTo(5000);
    expect(sim.snapshot()).toEqual({
      totalCalls: 0,
      answeredCalls: 0,
      abandonedCalls: 0,
      complianceViolations: 0,
      agentUtilization: 0,
      staffedAgentMs: 0,
      busyAgentMs: 0,
      simMs: 5000,
    });
    expect(() => dialer({ agents: -1, answerProb: 0.3, seed: 1, callRate: 0.5 })).toThrow(RangeError);
    expect(() => dialer({ agents: 1, answerProb: 2, seed: 1, callRate: 0.5 })).toThrow(RangeError);
  });

  it('simulates 8 hours of 100 agents in well under a second of work', () => {
    // Not a timing assertion: a sanity bound on the event count, which is what the cost scales with.
    const s = run({ agents: 100, answerProb: 0.15, callRate: 0.9, hours: 8 });
    expect(s.totalCalls).toBeGreaterThan(50_000);
    expect(s.totalCalls).toBeLessThan(200_000);
  });
});
