import { describe, expect, it } from 'vitest';
import { thresholdsSchema } from '../../src/shared/campaign-config.js';
import { campaignConfigSchema } from '../../src/shared/campaign-schema.js';
import { decidePacing } from '../../src/shared/pacing/index.js';
import { thresholdDecision, thresholdRecall } from '../../src/shared/pacing/threshold.js';
import { campaignConfig } from '../lifecycle/fixtures.js';

const obs = (callRate: number, totalCalls: number, answeredCalls: number) => ({
  atMs: 0,
  callRate,
  stats: { totalCalls, answeredCalls, abandonedCalls: 0, agentUtilization: 50 },
});

describe('threshold (the seed rule)', () => {
  it('cuts the rate by 15% when the answer rate is below 0.25', () => {
    const d = thresholdDecision(obs(0.8, 100, 20));
    expect(d).toMatchObject({
      strategy: 'threshold',
      callRate: 0.68,
      previousCallRate: 0.8,
      direction: 'down',
    });
    expect(d.inputs.answerRate).toBeCloseTo(0.2);
  });

  it('raises it by 15% when the answer rate is above 0.65, rounded to 2 decimals as the seed does', () => {
    // 0.5 × 1.15 = 0.575 in binary floating point is 0.57499…; toFixed(2) gives "0.57", as in the seed.
    expect(thresholdDecision(obs(0.5, 100, 70))).toMatchObject({ callRate: 0.57, direction: 'up' });
    expect(thresholdDecision(obs(0.6, 100, 70))).toMatchObject({ callRate: 0.69, direction: 'up' });
  });

  it('holds between 0.25 and 0.65 inclusive', () => {
    for (const answered of [25, 40, 65]) {
      expect(thresholdDecision(obs(0.5, 100, answered)).direction).toBe('hold');
    }
  });

  it('holds when the move would be 0.01 or less', () => {
    // 0.1 × 0.85 = 0.085: a move of 0.015 but clamped back to 0.1 → nothing to do.
    expect(thresholdDecision(obs(0.1, 100, 10))).toMatchObject({ direction: 'hold', callRate: 0.1 });
    // 0.06 × 1.15 = 0.069: a move of 0.009 is below the seed's 0.01 threshold.
    expect(thresholdDecision(obs(0.06, 100, 90)).direction).toBe('hold');
  });

  it('clamps to 0.1..1.0', () => {
    expect(thresholdDecision(obs(0.11, 100, 10)).callRate).toBe(0.1);
    expect(thresholdDecision(obs(0.95, 100, 90)).callRate).toBe(1);
  });

  it('holds without a call counted since its last decision, and decides again once there is one', () => {
    const seen = (totalCalls: number, answeredCalls: number, callsAtLastDecision: number) => ({
      ...obs(0.5, totalCalls, answeredCalls),
      callsAtLastDecision,
    });
    expect(thresholdDecision(seen(100, 70, 100))).toMatchObject({ direction: 'hold', callRate: 0.5 });
    expect(thresholdDecision(seen(100, 20, 100))).toMatchObject({ direction: 'hold', callRate: 0.5 });
    expect(thresholdDecision(seen(101, 71, 100))).toMatchObject({ direction: 'up', callRate: 0.57 });
  });

  it('holds on counters below its last decision until they are back (a stale read) or stay below a minute (a reset)', () => {
    const at = (atMs: number, totalCalls: number, answeredCalls: number, recalled: object) => ({
      ...obs(0.5, totalCalls, answeredCalls),
      atMs,
      ...recalled,
    });
    const stale = thresholdDecision(at(0, 90, 66, { callsAtLastDecision: 100 }));
    expect(stale).toMatchObject({ direction: 'hold', callRate: 0.5 });
    expect(stale.reason).toBe(
      'statistics went backwards (totalCalls 90, 100 at the last decision): holding until they show a reset or a stale read',
    );
    // The hold keeps the decision's count: the fresh read of the same counters is nothing new.
    expect(thresholdRecall(stale)).toEqual({ callsAtLastDecision: 100, callsBackSinceMs: 0 });
    const back = thresholdDecision(at(10_000, 100, 70, thresholdRecall(stale)));
    expect(back).toMatchObject({ direction: 'hold', callRate: 0.5 });
    expect(thresholdRecall(back)).toEqual({ callsAtLastDecision: 100 });
    // Still below after a minute: CXone reset the counters; judged from those since, and remembered.
    const below = thresholdDecision(at(59_999, 5, 4, thresholdRecall(stale)));
    expect(below).toMatchObject({ direction: 'hold' });
    const reset = thresholdDecision(at(60_000, 5, 4, thresholdRecall(below)));
    expect(reset).toMatchObject({ direction: 'up', callRate: 0.57 });
    expect(thresholdRecall(reset)).toEqual({ callsAtLastDecision: 5 });
  });

  it("is told nothing of another strategy's decision (a switch starts afresh)", () => {
    const other = { strategy: 'abandonment-target' as const, inputs: { totalCalls: 100 } };
    expect(thresholdRecall(other)).toEqual({});
    expect(thresholdRecall(null)).toEqual({});
  });

  it('treats no calls as no data instead of an answer rate of zero', () => {
    const d = thresholdDecision(obs(0.5, 0, 0));
    expect(d).toMatchObject({ direction: 'hold', callRate: 0.5, reason: 'no calls yet' });
    expect(d.inputs.answerRate).toBeNull();
  });
});

describe("threshold with the campaign's own bounds (pacing.thresholds, the seed's adjustment config)", () => {
  const bounds = thresholdsSchema.parse({
    lowerAnswerRate: 0.3,
    upperAnswerRate: 0.5,
    minCallRate: 0.4,
    maxCallRate: 0.7,
    step: 0.2,
  });

  it('cuts and raises by its step at its answer rates, within its call-rate bounds', () => {
    // 0.28 is inside the default band but below this one.
    expect(thresholdDecision(obs(0.6, 100, 28), bounds)).toMatchObject({ callRate: 0.48, direction: 'down' });
    expect(thresholdDecision(obs(0.45, 100, 28), bounds)).toMatchObject({ callRate: 0.4, direction: 'down' });
    expect(thresholdDecision(obs(0.5, 100, 55), bounds)).toMatchObject({ callRate: 0.6, direction: 'up' });
    expect(thresholdDecision(obs(0.65, 100, 55), bounds)).toMatchObject({ callRate: 0.7, direction: 'up' });
    expect(thresholdDecision(obs(0.5, 100, 40), bounds)).toMatchObject({
      direction: 'hold',
      reason: 'answer rate within 0.3..0.5 or change too small',
    });
    // Omitted bounds keep the seed's.
    expect(thresholdsSchema.parse({})).toEqual({
      lowerAnswerRate: 0.25,
      upperAnswerRate: 0.65,
      minCallRate: 0.1,
      maxCallRate: 1,
      step: 0.15,
    });
  });

  it('never moves against its answer rate to reach its bounds: a rate already past one is held', () => {
    // An operator's 0.35 under minCallRate 0.4 on a low answer rate: the cut clamped to 0.4 raised it.
    expect(thresholdDecision(obs(0.35, 100, 10), bounds)).toMatchObject({
      callRate: 0.35,
      direction: 'hold',
      reason: 'answer rate below 0.3, and callRate 0.35 is already under minCallRate 0.4',
    });
    // And 0.9 over maxCallRate 0.7 on a high one: the raise clamped to 0.7 cut it.
    expect(thresholdDecision(obs(0.9, 100, 60), bounds)).toMatchObject({
      callRate: 0.9,
      direction: 'hold',
      reason: 'answer rate above 0.5, and callRate 0.9 is already over maxCallRate 0.7',
    });
    // Moves the rule asks for still reach the bounds from outside them.
    expect(thresholdDecision(obs(0.3, 100, 60), bounds)).toMatchObject({ callRate: 0.4, direction: 'up' });
    expect(thresholdDecision(obs(0.9, 100, 10), bounds)).toMatchObject({ callRate: 0.7, direction: 'down' });
  });

  it('is chosen by the campaign config, which refuses bounds that contradict each other', () => {
    const valid = campaignConfig();
    const paths = (pacing: unknown) => {
      const r = campaignConfigSchema.safeParse({ ...valid, pacing });
      return r.success ? [] : r.error.issues.map((i) => i.path.join('.'));
    };
    expect(paths({ strategy: 'threshold', thresholds: { lowerAnswerRate: 0.3 } })).toEqual([]);
    expect(paths({ strategy: 'threshold', thresholds: { lowerAnswerRate: 0.7 } })).toEqual([
      'pacing.thresholds.upperAnswerRate',
    ]);
    expect(paths({ strategy: 'threshold', thresholds: { minCallRate: 0.8, maxCallRate: 0.5 } })).toEqual([
      'pacing.thresholds.maxCallRate',
    ]);
    // Another strategy ignores them (so a PATCH can move a campaign off threshold pacing).
    expect(paths({ thresholds: { lowerAnswerRate: 0.3 } })).toEqual([]);
    const step = decidePacing(
      { strategy: 'threshold', targetAbandonment: 0.025, thresholds: bounds },
      obs(0.6, 100, 28),
      null,
    );
    expect(step?.decision).toMatchObject({ callRate: 0.48, direction: 'down' });
  });
});
