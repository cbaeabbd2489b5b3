import { describe, expect, it } from 'vitest';
import { capDecision } from '../../src/shared/pacing/guard-cap.js';
import { readPacingRecord } from '../../src/shared/pacing/record.js';
import type { PacingDecision } from '../../src/shared/pacing/types.js';

const decision = (previousCallRate: number, callRate: number): PacingDecision => ({
  strategy: 'abandonment-target',
  inputs: {},
  previousCallRate,
  callRate,
  direction: callRate > previousCallRate ? 'up' : callRate < previousCallRate ? 'down' : 'hold',
  reason: 'controller',
});

describe('the abandonment guard cap on pacing', () => {
  it('leaves a decision alone when there is no throttle or it respects the cap', () => {
    expect(capDecision(decision(0.5, 0.55), null)).toEqual({ decision: decision(0.5, 0.55), capped: false });
    expect(capDecision(decision(0.5, 0.4), { maxCallRate: 0.45, reason: 'r' }).capped).toBe(false);
  });

  it('brings the rate down to the cap, rounded down, whatever the strategy wanted', () => {
    const { decision: d, capped } = capDecision(decision(0.6, 0.6), {
      maxCallRate: 0.456,
      reason: 'abandonment 2.6%',
    });
    expect(capped).toBe(true);
    expect(d).toMatchObject({ callRate: 0.45, direction: 'down' });
    expect(d.reason).toBe('abandonment guard caps callRate at 0.45: abandonment 2.6%');
    expect(d.inputs.guardMaxCallRate).toBe(0.456);
  });

  it('lets the rate climb only as far as the cap', () => {
    expect(capDecision(decision(0.3, 0.4), { maxCallRate: 0.35, reason: 'r' }).decision).toMatchObject({
      callRate: 0.35,
      direction: 'up',
    });
    expect(capDecision(decision(0.35, 0.4), { maxCallRate: 0.35, reason: 'r' }).decision.direction).toBe(
      'hold',
    );
  });

  it('never goes below the contract minimum', () => {
    expect(capDecision(decision(0.3, 0.3), { maxCallRate: 0.02, reason: 'r' }).decision.callRate).toBe(0.1);
  });
});

describe('the stored pacing record', () => {
  it('starts afresh from nothing or from garbage', () => {
    for (const raw of [undefined, null, 'x', 42]) {
      expect(readPacingRecord(raw, 'abandonment-target')).toEqual({
        strategy: 'abandonment-target',
        state: null,
        lastDecision: null,
        lastAdjustment: null,
        pendingCommandId: null,
        guardCap: null,
        startAnchor: null,
      });
    }
  });

  it('drops the controller memory when the strategy changed, keeps the history', () => {
    const counters = { atMs: 1, answered: 2, abandoned: 0 };
    const state = {
      callRate: 0.5,
      window: counters,
      checkpoint: counters,
      period: counters,
      last: counters,
      lastChangeAtMs: null,
      ceiling: null,
      guard: null,
    };
    const raw = {
      strategy: 'abandonment-target',
      state,
      lastDecision: null,
      lastAdjustment: { at: 'x', commandId: 'c', from: 0.5, to: 0.6, reason: 'r' },
      pendingCommandId: 'c',
    };
    expect(readPacingRecord(raw, 'abandonment-target').state).toEqual(state);
    const switched = readPacingRecord(raw, 'threshold');
    expect(switched.state).toBeNull();
    expect(switched.lastAdjustment?.commandId).toBe('c');
    expect(switched.pendingCommandId).toBe('c');
  });

  it("keeps a safe start's anchor for abandonment-target only, and drops a malformed one", () => {
    const startAnchor = {
      requestedCallRate: 0.9,
      startCallRate: 0.1,
      declaredAnswerRate: 0.35,
      agents: 25,
      maxAnswersPerIdleAgent: 0.5,
    };
    const raw = { strategy: 'abandonment-target', state: null, startAnchor };
    expect(readPacingRecord(raw, 'abandonment-target').startAnchor).toEqual(startAnchor);
    expect(readPacingRecord(raw, 'threshold').startAnchor).toBeNull();
    expect(
      readPacingRecord({ ...raw, startAnchor: { requestedCallRate: 0.9 } }, 'abandonment-target').startAnchor,
    ).toBeNull();
  });
});
