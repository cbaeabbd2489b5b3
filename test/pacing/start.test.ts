import { describe, expect, it } from 'vitest';
import * as sandboxDialRatio from '../../src/sandbox/dialer/dial-ratio.js';
import { DialerSimulation } from '../../src/sandbox/dialer/simulation.js';
import type { CampaignConfig } from '../../src/shared/campaign-config.js';
import {
  callRateForDialRatio,
  DEFAULT_START_ANSWERS_PER_IDLE_AGENT,
  dialRatioFor,
  ownSafeStartInPlace,
  PLAUSIBLE_MAX_ANSWER_RATE,
  safeStartCallRate,
  safeStartDecision,
  startingCallRate,
} from '../../src/shared/pacing/index.js';

type StartConfig = Pick<CampaignConfig, 'dialerStrategy' | 'pacing'>;

const config = (
  dialer: Partial<CampaignConfig['dialerStrategy']> = {},
  pacing?: Partial<NonNullable<CampaignConfig['pacing']>>,
): StartConfig => ({
  dialerStrategy: { strategy: 'predictive', agentCapacity: 25, callRate: 0.6, answerRate: 0.35, ...dialer },
  ...(pacing
    ? {
        pacing: {
          strategy: 'abandonment-target',
          targetAbandonment: 0.025,
          pollIntervalMs: 15_000,
          ...pacing,
        },
      }
    : {}),
});

describe('the callRate → dial ratio mapping', () => {
  it('is the one the sandbox dials with (shared, not copied)', () => {
    expect(sandboxDialRatio.dialRatioFor).toBe(dialRatioFor);
    expect(sandboxDialRatio.callRateForDialRatio).toBe(callRateForDialRatio);
  });

  it('matches the documented table and inverts', () => {
    expect(dialRatioFor('predictive', 0.1)).toBeCloseTo(1, 6);
    expect(dialRatioFor('predictive', 0.6)).toBeCloseTo(3.594, 3);
    expect(dialRatioFor('predictive', 1)).toBeCloseTo(10, 6);
    expect(dialRatioFor('progressive', 0.9)).toBe(1);
    for (const rate of [0.1, 0.23, 0.5, 0.87, 1]) {
      expect(callRateForDialRatio(dialRatioFor('predictive', rate))).toBeCloseTo(rate, 9);
    }
  });
});

describe('safeStartCallRate', () => {
  it('keeps expected live answers per idle agent at or under the bound, as high as 2 decimals allow', () => {
    for (const answerRate of [0.05, 0.12, 0.15, 0.3, 0.35, 0.45]) {
      const rate = safeStartCallRate(answerRate);
      const answers = (r: number) => dialRatioFor('predictive', r) * answerRate;
      expect(answers(rate)).toBeLessThanOrEqual(DEFAULT_START_ANSWERS_PER_IDLE_AGENT + 1e-9);
      // One cent more would cross the bound (unless the rate is already at the top of the range).
      if (rate < 1) expect(answers(rate + 0.01)).toBeGreaterThan(DEFAULT_START_ANSWERS_PER_IDLE_AGENT);
      expect(Number(rate.toFixed(2))).toBe(rate);
    }
  });

  it('gives the documented figures', () => {
    expect(safeStartCallRate(0.15)).toBe(0.57);
    expect(safeStartCallRate(0.3)).toBe(0.29);
    expect(safeStartCallRate(0.35)).toBe(0.23);
    expect(safeStartCallRate(0.35, 0.7)).toBe(0.37);
  });

  it('never goes below the floor 0.1 (one line per idle agent)', () => {
    expect(safeStartCallRate(0.5)).toBe(0.1);
    expect(safeStartCallRate(0.9)).toBe(0.1);
    expect(safeStartCallRate(1)).toBe(0.1);
  });

  it('starts at the floor when the answer rate says nothing (0)', () => {
    expect(safeStartCallRate(0)).toBe(0.1);
  });

  it('allows the top of the range for very low answer rates', () => {
    expect(safeStartCallRate(0.04)).toBe(1);
  });
});

describe('startingCallRate', () => {
  it('starts a predictive abandonment-target request at one line per idle agent, whatever it declares', () => {
    const start = startingCallRate(config({ callRate: 0.6, answerRate: 0.35 }));
    expect(start).toMatchObject({
      callRate: 0.1,
      requestedCallRate: 0.6,
      answerRate: 0.35,
      assumedAnswerRate: PLAUSIBLE_MAX_ANSWER_RATE,
      reason: 'safe start',
      inputs: {
        requestedCallRate: 0.6,
        answerRate: 0.35,
        assumedAnswerRate: 0.6,
        startCallRate: 0.1,
        // What trusting the declaration gave (and let a fresh list abandon).
        declaredStartCallRate: 0.23,
        maxAnswersPerIdleAgent: 0.5,
      },
      anchor: {
        requestedCallRate: 0.6,
        startCallRate: 0.1,
        declaredAnswerRate: 0.35,
        agents: 25,
        maxAnswersPerIdleAgent: 0.5,
      },
    });
    expect(start?.inputs.requestedDialRatio).toBeCloseTo(3.594, 3);
    expect(start?.explanation).toMatch(/^safe start 0\.6 → 0\.1: .*≈3\.6 lines per idle agent/);
    // A fresh list declared low: no longer 0.57 (≈1.8 real live answers per idle agent).
    expect(startingCallRate(config({ callRate: 0.9, answerRate: 0.15 }))?.callRate).toBe(0.1);
  });

  it('applies when pacing is not configured (abandonment-target is the default)', () => {
    expect(startingCallRate(config({ callRate: 1, answerRate: 0.6 }))?.callRate).toBe(0.1);
  });

  it('leaves other pacing strategies and non-predictive dialers alone', () => {
    expect(startingCallRate(config({ callRate: 1 }, { strategy: 'threshold' }))).toBeNull();
    expect(startingCallRate(config({ callRate: 1 }, { strategy: 'off' }))).toBeNull();
    expect(startingCallRate(config({ strategy: 'progressive', callRate: 1 }))).toBeNull();
    expect(startingCallRate(config({ strategy: 'preview', callRate: 1 }))).toBeNull();
    expect(startingCallRate(config({ callRate: 1 }, { strategy: 'abandonment-target' }))?.callRate).toBe(0.1);
  });

  it('returns null when the request is already at or under the safe start', () => {
    expect(startingCallRate(config({ callRate: 0.1, answerRate: 0.35 }))).toBeNull();
    expect(startingCallRate(config({ callRate: 0.1, answerRate: 0.9 }))).toBeNull();
    expect(startingCallRate(config({ callRate: 0.11, answerRate: 0.35 }))?.callRate).toBe(0.1);
  });

  it('takes the bounds from the options', () => {
    // A plausible maximum of 0.35 gives back the start for a declared 0.35…
    expect(startingCallRate(config({ callRate: 0.6 }), { plausibleMaxAnswerRate: 0.35 })?.callRate).toBe(
      0.23,
    );
    expect(
      startingCallRate(config({ callRate: 0.6 }), {
        plausibleMaxAnswerRate: 0.35,
        maxAnswersPerIdleAgent: 0.7,
      })?.callRate,
    ).toBe(0.37);
    // …and a declaration above the plausible maximum is taken (it can only lower the start).
    expect(
      startingCallRate(config({ callRate: 0.6, answerRate: 0.5 }), { plausibleMaxAnswerRate: 0.3 })?.callRate,
    ).toBe(0.1);
  });

  it('is a decision like any other: down from the request, reason "safe start"', () => {
    const start = startingCallRate(config({ callRate: 0.9, answerRate: 0.15 }));
    expect(start).not.toBeNull();
    expect(safeStartDecision(start!)).toEqual({
      strategy: 'abandonment-target',
      inputs: start!.inputs,
      previousCallRate: 0.9,
      callRate: 0.1,
      direction: 'down',
      reason: 'safe start',
    });
  });
});

describe('ownSafeStartInPlace', () => {
  const found = (status: string, callRate: number, pacing?: { strategy: 'threshold' }) => ({
    status,
    config: {
      ...config({ callRate }),
      ...(pacing ? { pacing: { ...pacing } as StartConfig['pacing'] } : {}),
    },
  });

  it("recognises a launch's own activation found active at exactly the start it planned", () => {
    const start = ownSafeStartInPlace(0.9, found('active', 0.1));
    expect(start).toEqual(startingCallRate(config({ callRate: 0.9 })));
    expect(start).toMatchObject({ callRate: 0.1, requestedCallRate: 0.9, anchor: { priorCallRate: 0.1 } });
  });

  it('takes no other write for it: another rate, not active, or no safe start planned', () => {
    // Activated in CXone's console at the requested rate, or at any rate but the start.
    expect(ownSafeStartInPlace(0.9, found('active', 0.9))).toBeNull();
    expect(ownSafeStartInPlace(0.9, found('active', 0.3))).toBeNull();
    expect(ownSafeStartInPlace(0.9, found('paused', 0.1))).toBeNull();
    // Nothing to start safely: a request at the start, or threshold pacing (the operator's rate).
    expect(ownSafeStartInPlace(0.1, found('active', 0.1))).toBeNull();
    expect(ownSafeStartInPlace(0.9, found('active', 0.1, { strategy: 'threshold' }))).toBeNull();
  });
});

describe('the safe start on the dialer model', () => {
  // What the demo campaign (25 agents, answerRate 0.35) does in its first 5 simulated minutes, before
  // the first statistics poll can react, over a few seeds: at the requested 0.6 it abandons far
  // above the 3% cap; at the safe start it stays under it.
  const firstMinutes = (callRate: number) => {
    let answered = 0;
    let abandoned = 0;
    for (let seed = 1; seed <= 10; seed++) {
      const sim = new DialerSimulation({
        agents: 25,
        answerProb: 0.35,
        seed,
        callRate,
        strategy: 'predictive',
        startMs: 0,
      });
      sim.advanceTo(5 * 60_000);
      const s = sim.snapshot();
      answered += s.answeredCalls;
      abandoned += s.abandonedCalls;
    }
    return abandoned / answered;
  };

  it('keeps the first poll interval under the cap where the request breaks it', () => {
    const start = startingCallRate(config({ callRate: 0.6, answerRate: 0.35 }));
    expect(firstMinutes(0.6)).toBeGreaterThan(0.1);
    // One line per idle agent: no live answer can find every agent busy.
    expect(firstMinutes(start!.callRate)).toBe(0);
  });
});
