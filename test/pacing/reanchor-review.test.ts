import { describe, expect, it } from 'vitest';
import { DialerSimulation } from '../../src/sandbox/dialer/simulation.js';
import {
  abandonmentTargetDecision,
  reanchorAnswersPerIdleAgent,
  startingCallRate,
  type AbandonmentControllerState,
  type PacingObservation,
  type StartAnchor,
} from '../../src/shared/pacing/index.js';

/**
 * The review of the re-anchor (after fb6a0ad): a small team re-anchored in one move to 0.5 live
 * answers per idle agent got paused by the compliance guard; the ceiling lapsed on one clean window;
 * the re-anchor ran in the cooldown right after a back-off; it overrode an operator's rate set before
 * the first poll; its in-flight bound ignored added agents; a counter reset kept its old dial marks.
 */

const stats = (total: number, answered: number, abandoned: number, agentUtilization = 80) => ({
  totalCalls: total,
  answeredCalls: answered,
  abandonedCalls: abandoned,
  agentUtilization,
});

const anchorFor = (agents: number, over: Partial<StartAnchor> = {}): StartAnchor => ({
  requestedCallRate: 0.9,
  startCallRate: 0.1,
  declaredAnswerRate: 0.35,
  agents,
  maxAnswersPerIdleAgent: 0.5,
  priorCallRate: 0.1,
  ...over,
});

/** The controller's first poll, 15 s after a safe start at 0.1, of a team of `agents`. */
const firstPoll = (polled: ReturnType<typeof stats>, agents: number) =>
  abandonmentTargetDecision({ atMs: 15_000, callRate: 0.1, stats: polled }, null, {}, anchorFor(agents));

describe('the re-anchor on a small team (review finding 1)', () => {
  it('scales the answers per idle agent with √(agents / 25)', () => {
    expect(reanchorAnswersPerIdleAgent(0.5, 25)).toBe(0.5);
    expect(reanchorAnswersPerIdleAgent(0.5, 100)).toBe(0.5);
    expect(reanchorAnswersPerIdleAgent(0.5, 5)).toBeCloseTo(0.2236, 4);
    expect(reanchorAnswersPerIdleAgent(0.5, 10)).toBeCloseTo(0.3162, 4);
  });

  it('keeps a 5-agent stale list at one line per idle agent on 60 settled dials at 0.15', () => {
    // 9 answers in 65 dials, 5 lines in flight: 60 settled, measured 0.15 (bound 0.241). Before the
    // fix this jumped 0.1 → 0.38 (≈ 2 lines per idle agent).
    const r = firstPoll(stats(65, 9, 0), 5);
    expect(r.decision).toMatchObject({ direction: 'hold', callRate: 0.1 });
  });

  it('moves a 25-agent campaign at most 0.15 in one re-anchor', () => {
    // 40 answers in 300 dials, 25 lines in flight: 275 settled, measured 0.145.
    const r = firstPoll(stats(300, 40, 0), 25);
    expect(r.decision.reason).toMatch(/^re-anchor/);
    expect(r.decision.inputs.startForMeasuredCallRate).toBeGreaterThan(0.25);
    expect(r.decision.callRate).toBe(0.25);
  });

  it('does not re-anchor while one more abandon would put the period at the cap', () => {
    // 9 answers, none abandoned: 1 more abandon would be 1 in 9 (11%), a compliance pause at 30.
    const few = firstPoll(stats(85, 9, 0), 25);
    expect(few.decision).toMatchObject({ direction: 'hold', callRate: 0.1 });
    // The stage waits for a later poll rather than being skipped.
    expect(few.state.anchor).not.toBeNull();
    // 1 abandon in 40: a second would be 2 in 40 (5%).
    const one = firstPoll(stats(300, 40, 1), 25);
    expect(one.decision).toMatchObject({ direction: 'hold', callRate: 0.1 });
  });

  it('5 agents, stale list (true 0.15, declared 0.35, requested 0.9), 2 h: the guard pauses at most 2 runs in 40', () => {
    // Before the fix: ≈ 33 in 40 (166/200); before fb6a0ad: ≈ 2 in 40 (11/200).
    let pauses = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const start = startingCallRate({
        dialerStrategy: { strategy: 'predictive', agentCapacity: 5, callRate: 0.9, answerRate: 0.35 },
      })!;
      let callRate = start.callRate;
      const sim = new DialerSimulation({
        agents: 5,
        answerProb: 0.15,
        seed,
        callRate,
        strategy: 'predictive',
        startMs: 0,
      });
      let state: AbandonmentControllerState | null = null;
      let paused = false;
      for (let t = 15_000; t <= 120 * 60_000; t += 15_000) {
        sim.advanceTo(t);
        const s = sim.snapshot();
        const r = abandonmentTargetDecision(
          { atMs: t, callRate, stats: s },
          state,
          {},
          state === null ? start.anchor : null,
        );
        state = r.state;
        if (s.answeredCalls >= 30 && s.abandonedCalls / s.answeredCalls >= 0.03) paused = true;
        if (r.decision.callRate !== callRate) {
          callRate = r.decision.callRate;
          sim.setCallRate(callRate);
        }
      }
      if (paused) pauses++;
    }
    expect(pauses).toBeLessThanOrEqual(2);
  });
});

describe('a ceiling probe (review finding 2)', () => {
  const H = 3_600_000;
  const M = 60_000;
  const t1 = 10 * H;
  /** At the ceiling 0.5 (strikes 3, its 2 h hold over) since t1; 4 live answers a minute. */
  function probe(abandonAtMin: number[], hours: number) {
    let answered = 10_000;
    let abandoned = 150;
    const c = (atMs: number) => ({ atMs, answered, abandoned });
    let state: AbandonmentControllerState = {
      callRate: 0.5,
      window: c(t1),
      checkpoint: c(t1),
      period: { atMs: 0, answered: 0, abandoned: 0 },
      last: c(t1),
      lastChangeAtMs: t1,
      ceiling: { callRate: 0.5, setAtMs: t1 - 2 * H, strikes: 3 },
      guard: null,
    };
    let rate = 0.5;
    let max = rate;
    for (let t = t1 + 15_000; t <= t1 + hours * H; t += 15_000) {
      answered += 1;
      if (abandonAtMin.includes((t - t1) / M)) abandoned += 1;
      const obs: PacingObservation = {
        atMs: t,
        callRate: rate,
        stats: stats(answered * 3, answered, abandoned, 90),
      };
      const r = abandonmentTargetDecision(obs, state);
      state = r.state;
      rate = r.decision.callRate;
      max = Math.max(max, rate);
    }
    return { max, state };
  }

  it('does not lift on a clean window when the probe had abandons earlier', () => {
    // Abandons at 20, 60, 100 minutes into the probe, none after: the window restarted clean, the
    // probe was not. Before the fix the ceiling lifted at 120 min and the rate climbed to 0.65.
    const { max, state } = probe([20, 60, 100], 2.5);
    expect(max).toBe(0.5);
    expect(state.ceiling).toMatchObject({ callRate: 0.5, strikes: 3 });
  });

  it('lifts a clean probe by one minStep and keeps the ceiling with half its strikes', () => {
    const { max, state } = probe([], 2.5);
    expect(max).toBe(0.51);
    expect(state.ceiling).toMatchObject({ callRate: 0.5, strikes: 2, lift: 0.01 });
  });

  it('counts an overshoot at the lifted rate as a further strike on the same ceiling', () => {
    const base = probe([], 2.5).state;
    const t = t1 + 3 * H;
    const at = { atMs: t - 10 * M, answered: 20_000, abandoned: 150 };
    const r = abandonmentTargetDecision(
      { atMs: t, callRate: 0.51, stats: stats(60_000, 20_100, 160, 90) },
      { ...base, callRate: 0.51, window: at, checkpoint: at, last: at, lastChangeAtMs: t - 10 * M },
    );
    expect(r.decision.direction).toBe('down');
    expect(r.state.ceiling).toMatchObject({ callRate: 0.5, strikes: 3 });
    expect(r.state.ceiling?.lift ?? 0).toBe(0);
  });
});

describe('the re-anchor and the controller (review findings 3, 4, 5, 6)', () => {
  const t = 10_000_000;
  const pending: AbandonmentControllerState = {
    callRate: 0.3,
    window: { atMs: t - 30_000, answered: 660, abandoned: 8 },
    checkpoint: { atMs: t - 30_000, answered: 660, abandoned: 8 },
    period: { atMs: 0, answered: 0, abandoned: 0 },
    last: { atMs: t - 15_000, answered: 690, abandoned: 11 },
    lastChangeAtMs: t - 30_000,
    ceiling: { callRate: 0.38, setAtMs: t - 30_000, strikes: 1 },
    guard: null,
    anchor: anchorFor(25, { requestedCallRate: 0.8, declaredAnswerRate: 0.3 }),
    anchorMarks: [
      { atMs: t - 60_000, total: 3000, callRate: 0.3 },
      { atMs: t - 15_000, total: 3040, callRate: 0.3 },
    ],
    anchorStageDials: 240,
  };

  it('makes no move in the cooldown after a back-off (window 4/40)', () => {
    const r = abandonmentTargetDecision({ atMs: t, callRate: 0.3, stats: stats(3100, 700, 12) }, pending);
    expect(r.decision).toMatchObject({ direction: 'hold', callRate: 0.3 });
  });

  it('makes no move while the window overshoots, and a back-off drops the anchor', () => {
    const r = abandonmentTargetDecision(
      { atMs: t, callRate: 0.3, stats: stats(3100, 700, 12) },
      { ...pending, lastChangeAtMs: t - 600_000 },
    );
    expect(r.decision.direction).toBe('down');
    expect(r.decision.reason).toMatch(/^window abandonment/);
    expect(r.state.anchor).toBeNull();
  });

  it('leaves an operator’s rate set before the first poll alone', () => {
    const anchor = anchorFor(25, { requestedCallRate: 0.8, declaredAnswerRate: 0.3 });
    let state: AbandonmentControllerState | null = null;
    const rates: number[] = [];
    for (let i = 1; i <= 8; i++) {
      const total = i * 25;
      const r = abandonmentTargetDecision(
        { atMs: i * 15_000, callRate: 0.2, stats: stats(total, Math.round(total * 0.15), 0) },
        state,
        {},
        state === null ? anchor : null,
      );
      state = r.state;
      rates.push(r.decision.callRate);
    }
    expect(rates.every((rate) => rate === 0.2)).toBe(true);
    expect(state?.anchor ?? null).toBeNull();
  });

  it('bounds the lines in flight by the current agentCapacity when it grew', () => {
    // Activated with 5 agents, 40 now: 90 dials, of which up to 40 may still ring → 50 settled, under
    // the first stage (60). Bounded by the 5 of the activation: 85 settled, and a move.
    const r = abandonmentTargetDecision(
      { atMs: 15_000, callRate: 0.1, agents: 40, stats: stats(90, 9, 0) },
      null,
      {},
      anchorFor(5),
    );
    expect(r.decision).toMatchObject({ direction: 'hold', callRate: 0.1 });
    expect(r.state.anchorStageDials ?? null).toBeNull();
  });

  it('measures again from a counter reset instead of counting every dial since as settled', () => {
    const u = 1_000_000;
    const st: AbandonmentControllerState = {
      callRate: 0.3,
      window: { atMs: u - 100_000, answered: 40, abandoned: 0 },
      checkpoint: { atMs: u - 100_000, answered: 40, abandoned: 0 },
      period: { atMs: 0, answered: 0, abandoned: 0 },
      last: { atMs: u - 15_000, answered: 60, abandoned: 0 },
      lastChangeAtMs: u - 300_000,
      ceiling: null,
      guard: null,
      anchor: anchorFor(25),
      anchorMarks: [
        { atMs: u - 60_000, total: 280, callRate: 0.3 },
        { atMs: u - 15_000, total: 300, callRate: 0.3 },
      ],
      anchorStageDials: 240,
    };
    // Taken for a reset at once (the confirmation a minute later is backwards-stats.test.ts's).
    const r = abandonmentTargetDecision({ atMs: u, callRate: 0.3, stats: stats(260, 52, 0) }, st, {
      resetConfirmMs: 0,
    });
    expect(r.decision.reason).not.toMatch(/^re-anchor/);
    expect(r.state.anchorMarks).toEqual([{ atMs: u, total: 260, callRate: 0.3 }]);
  });
});
