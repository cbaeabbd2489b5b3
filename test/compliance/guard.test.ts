import { describe, expect, it } from 'vitest';
import { evaluateAbandonmentGuard, type GuardState } from '../../src/shared/compliance/guard.js';
import { config } from './fixtures.js';

const START = Date.parse('2026-03-02T14:00:00Z');
const DAY = 86_400_000;
const c = config({ startDateTime: '2026-03-02T09:00:00-05:00' });

const stats = (
  answeredCalls: number,
  abandonedCalls: number,
  extra: Partial<{ totalCalls: number; complianceViolations: number }> = {},
) => ({
  totalCalls: extra.totalCalls ?? answeredCalls * 3,
  answeredCalls,
  abandonedCalls,
  complianceViolations: extra.complianceViolations ?? 0,
});

/** Polls of one campaign, each decided on the state the one before it left. */
function pollsInTurn() {
  let state: GuardState | undefined;
  return (answered: number, abandoned: number, nowMs: number) => {
    const d = evaluateAbandonmentGuard({ config: c, state, stats: stats(answered, abandoned), nowMs });
    state = d.nextState;
    return d;
  };
}

describe('abandonment thresholds (TCPA, 30-day period)', () => {
  it('does nothing below the 2.5% target', () => {
    const d = evaluateAbandonmentGuard({ config: c, stats: stats(1000, 24), nowMs: START + DAY });
    expect(d.action).toBe('none');
    expect(d.throttle).toBeNull();
    expect(d.figures).toMatchObject({
      rate: 0.024,
      target: 0.025,
      cap: 0.03,
      answeredCalls: 1000,
      abandonedCalls: 24,
    });
  });

  it('throttles at the target: progressive, call rate scaled by target/rate', () => {
    const d = evaluateAbandonmentGuard({ config: c, stats: stats(1000, 25), nowMs: START + DAY });
    expect(d.action).toBe('throttle');
    expect(d.throttle).toMatchObject({ strategy: 'progressive', maxCallRate: 0.8 });
    const higher = evaluateAbandonmentGuard({ config: c, stats: stats(1000, 28), nowMs: START + DAY });
    expect(higher.throttle?.maxCallRate).toBeCloseTo((0.8 * 0.025) / 0.028, 3);
    expect(higher.reason).toMatch(
      /abandonment 2\.80% \(28 of 1000 live answers\).*reached the 2\.50% target/,
    );
  });

  it('scales the rate the throttle began at: a cap applied on every poll does not compound', () => {
    // 2.70% over the period, and every later poll adds live answers without an abandon.
    let rateNow = 0.6;
    let state: GuardState | undefined;
    const caps: number[] = [];
    for (let poll = 0; poll < 8; poll++) {
      const d = evaluateAbandonmentGuard({
        config: config({
          startDateTime: '2026-03-02T09:00:00-05:00',
          dialerStrategy: { strategy: 'predictive', agentCapacity: 20, callRate: rateNow, answerRate: 0.3 },
        }),
        ...(state ? { state } : {}),
        stats: stats(2000 + poll * 20, 54),
        nowMs: START + DAY + poll * 15_000,
      });
      expect(d.action).toBe('throttle');
      caps.push(d.throttle?.maxCallRate as number);
      // Pacing applies the cap (capDecision), so the next poll sees the campaign at it.
      rateNow = Math.min(rateNow, Math.floor((d.throttle?.maxCallRate as number) * 100) / 100);
      state = d.nextState;
    }
    expect(caps[0]).toBeCloseTo((0.6 * 0.025) / 0.027, 3);
    // Then it holds the rate it cut to (never lower, never higher while throttled): no compounding.
    for (const cap of caps.slice(1)) expect(cap).toBe(0.55);
    expect(rateNow).toBe(0.55);
    // Released, the next throttle starts from the rate then.
    const released = evaluateAbandonmentGuard({
      config: c,
      ...(state ? { state } : {}),
      stats: stats(4000, 54),
      nowMs: START + 2 * DAY,
    });
    expect(released.action).toBe('none');
    expect(released.nextState.throttleFromRate).toBeUndefined();
  });

  it('pauses at the 3% cap, once per period, and keeps throttling after', () => {
    const first = evaluateAbandonmentGuard({ config: c, stats: stats(1000, 30), nowMs: START + DAY });
    expect(first.action).toBe('pause');
    expect(first.changed).toBe(true);
    expect(first.reason).toMatch(
      /3\.00% \(30 of 1000 live answers\).*reached the 3\.00% cap \(FTC TSR 16 CFR 310\.4\(b\)\(4\)\(i\)/,
    );
    const again = evaluateAbandonmentGuard({
      config: c,
      state: first.nextState,
      stats: stats(1100, 34),
      nowMs: START + 2 * DAY,
    });
    expect(again.action).toBe('throttle');
    expect(again.reason).toMatch(/after the guard's pause this period/);
  });

  it('throttles to the minimum call rate instead of pausing on a tiny sample', () => {
    const d = evaluateAbandonmentGuard({ config: c, stats: stats(10, 1), nowMs: START + DAY });
    expect(d.figures.rate).toBe(0.1);
    expect(d.action).toBe('throttle');
    expect(d.throttle?.maxCallRate).toBe(0.1);
    // 30 live answers is enough to pause.
    expect(evaluateAbandonmentGuard({ config: c, stats: stats(30, 1), nowMs: START + DAY }).action).toBe(
      'pause',
    );
    expect(evaluateAbandonmentGuard({ config: c, stats: stats(29, 1), nowMs: START + DAY }).action).toBe(
      'throttle',
    );
  });

  it('keeps a throttle until the rate is under 90% of the target, then releases it', () => {
    const on = evaluateAbandonmentGuard({ config: c, stats: stats(1000, 26), nowMs: START + DAY });
    const still = evaluateAbandonmentGuard({
      config: c,
      state: on.nextState,
      stats: stats(1040, 24 + 2),
      nowMs: START + DAY + 1,
    });
    expect(still.figures.rate).toBeCloseTo(0.025, 3);
    const between = evaluateAbandonmentGuard({
      config: c,
      state: still.nextState,
      stats: stats(1100, 26),
      nowMs: START + DAY + 2,
    });
    expect(between.figures.rate).toBeCloseTo(0.02364, 4);
    expect(between.action).toBe('throttle');
    expect(between.changed).toBe(false);
    const off = evaluateAbandonmentGuard({
      config: c,
      state: between.nextState,
      stats: stats(1200, 26),
      nowMs: START + DAY + 3,
    });
    expect(off.action).toBe('none');
    expect(off.changed).toBe(true);
  });

  it('reports no rate before anybody answered', () => {
    const d = evaluateAbandonmentGuard({ config: c, stats: stats(0, 0, { totalCalls: 5 }), nowMs: START });
    expect(d.figures.rate).toBeNull();
    expect(d.action).toBe('none');
  });
});

describe('measurement periods', () => {
  it('closes the 30-day period at start + 30 days and measures the next one from a snapshot', () => {
    let d = evaluateAbandonmentGuard({ config: c, stats: stats(2000, 40), nowMs: START + 29 * DAY });
    expect(d.period.index).toBe(0);
    expect(d.action).toBe('none');
    d = evaluateAbandonmentGuard({
      config: c,
      state: d.nextState,
      stats: stats(2100, 50),
      nowMs: START + 30 * DAY,
    });
    expect(d.closedPeriod).toMatchObject({
      index: 0,
      startMs: START,
      endMs: START + 30 * DAY,
      answeredCalls: 2000,
      abandonedCalls: 40,
      rate: 0.02,
    });
    expect(d.period).toMatchObject({ index: 1, startMs: START + 30 * DAY });
    // New period: 100 answered, 10 abandoned since the snapshot = 10% → on ≥30 answers, a pause.
    expect(d.figures).toMatchObject({ answeredCalls: 100, abandonedCalls: 10, rate: 0.1 });
    expect(d.action).toBe('pause');
    expect(d.nextState.periods).toHaveLength(1);
  });

  it('starts measuring in the period of its first observation when the start lies periods back', () => {
    // Launched ten periods after its startDateTime: the nine before were never measured.
    const first = evaluateAbandonmentGuard({ config: c, stats: stats(0, 0), nowMs: START + 305 * DAY });
    expect(first.closedPeriod).toBeUndefined();
    expect(first.period).toMatchObject({ index: 10, startMs: START + 300 * DAY });
    expect(first.nextState.periods).toEqual([]);
    const later = evaluateAbandonmentGuard({
      config: c,
      state: first.nextState,
      stats: stats(500, 5),
      nowMs: START + 320 * DAY,
    });
    const next = evaluateAbandonmentGuard({
      config: c,
      state: later.nextState,
      stats: stats(600, 6),
      nowMs: START + 331 * DAY,
    });
    expect(next.closedPeriod).toMatchObject({ index: 10, startMs: START + 300 * DAY, answeredCalls: 500 });
  });

  it('measures a campaign dialing before its start (activated early in CXone) from its first observation', () => {
    const early = START - 3 * DAY;
    const first = evaluateAbandonmentGuard({ config: c, stats: stats(100, 1), nowMs: early });
    expect(first.period).toMatchObject({ index: 0, startMs: early, endMs: early + 30 * DAY });
    // The 30 days from the first observation close on time, not 30 days after the planned start.
    const next = evaluateAbandonmentGuard({
      config: c,
      state: first.nextState,
      stats: stats(900, 9),
      nowMs: early + 30 * DAY + 1_000,
    });
    expect(next.closedPeriod).toMatchObject({ index: 0, startMs: early, answeredCalls: 100 });
  });

  it('uses 24-hour periods under the OFCOM regime', () => {
    const uk = config({
      compliance: { regime: 'OFCOM', doNotCallCheck: true },
      complianceTimeZone: 'Europe/London',
    });
    let d = evaluateAbandonmentGuard({ config: uk, stats: stats(500, 5), nowMs: START + 1000 });
    d = evaluateAbandonmentGuard({
      config: uk,
      state: d.nextState,
      stats: stats(600, 30),
      nowMs: START + DAY + 1000,
    });
    expect(d.regime).toBe('OFCOM');
    expect(d.period.index).toBe(1);
    expect(d.figures).toMatchObject({ answeredCalls: 100, abandonedCalls: 25 });
    expect(d.source).toMatch(/Ofcom/);
  });

  it('keeps counting the period across a reset of CXone counters (they went backwards)', () => {
    const poll = pollsInTurn();
    // 32 abandons in 1100 live answers (2.91%): throttled.
    expect(poll(1100, 32, START + DAY).action).toBe('throttle');
    // CXone resets the campaign's counters; the law still counts the period's calls before it.
    const reset = poll(0, 0, START + DAY + 60_000);
    expect(reset.figures).toMatchObject({ answeredCalls: 1100, abandonedCalls: 32 });
    expect(reset.action).toBe('throttle');
    // Still lower a minute later: a reset, not a stale read. What came since counts on top.
    const after = poll(60, 0, START + DAY + 120_000);
    expect(after.figures).toMatchObject({ answeredCalls: 1160, abandonedCalls: 32 });
    expect(after.action).toBe('throttle');
    // A second reset later in the period is noticed against the last counts seen (held until it holds).
    expect(poll(10, 1, START + DAY + 180_000).figures).toMatchObject({
      answeredCalls: 1160,
      abandonedCalls: 32,
    });
    // The period closes with every call it held, across both resets.
    expect(poll(10, 1, START + 31 * DAY).closedPeriod).toMatchObject({
      answeredCalls: 1170,
      abandonedCalls: 33,
    });
  });

  it('closes a period with its own calls when the reset is seen at the first poll of the next one', () => {
    const poll = pollsInTurn();
    poll(100, 5, START + DAY);
    const next = poll(3, 0, START + 31 * DAY);
    expect(next.closedPeriod).toMatchObject({ answeredCalls: 100, abandonedCalls: 5 });
    // The drop is held until it holds; then the new period counts the calls since the reset.
    expect(next.figures).toMatchObject({ answeredCalls: 0, abandonedCalls: 0 });
    expect(poll(5, 0, START + 31 * DAY + 60_000).figures).toMatchObject({
      answeredCalls: 5,
      abandonedCalls: 0,
    });
  });

  it('counts only the calls since a reset that came with nothing counted in the period before it', () => {
    const before = evaluateAbandonmentGuard({ config: c, stats: stats(2000, 40), nowMs: START + 31 * DAY });
    const state: GuardState = {
      ...before.nextState,
      baseline: { totalCalls: 6000, answeredCalls: 2000, abandonedCalls: 40, complianceViolations: 0 },
    };
    const held = evaluateAbandonmentGuard({
      config: c,
      state,
      stats: stats(50, 0),
      nowMs: START + 31 * DAY + 1,
    });
    const d = evaluateAbandonmentGuard({
      config: c,
      state: held.nextState,
      stats: stats(60, 0),
      nowMs: START + 31 * DAY + 60_001,
    });
    expect(d.figures).toMatchObject({ answeredCalls: 60, abandonedCalls: 0 });
  });

  it('does not count the period twice for one answer from an older snapshot', () => {
    const poll = pollsInTurn();
    // 29 abandons in 1000 live answers (2.9%): throttled, under the cap.
    expect(poll(1000, 29, START + DAY).action).toBe('throttle');
    // One poll answered from an older snapshot: held, judged on what was seen before it.
    expect(poll(990, 28, START + DAY + 15_000).figures).toMatchObject({
      answeredCalls: 1000,
      abandonedCalls: 29,
    });
    // Back to the live counters: 31 of 1010 (3.07%) is over the cap, and the guard pauses. Taken for a
    // reset, the stale read would have made it 60 of 2010 (2.99%): a throttle, and dialing on.
    const next = poll(1010, 31, START + DAY + 30_000);
    expect(next.figures).toMatchObject({ answeredCalls: 1010, abandonedCalls: 31 });
    expect(next.action).toBe('pause');
    expect(next.nextState.pendingReset).toBeUndefined();
  });

  it('ignores a state it does not recognise', () => {
    const d = evaluateAbandonmentGuard({
      config: c,
      state: { pacing: 'something else' },
      stats: stats(100, 1),
      nowMs: START,
    });
    expect(d.nextState.version).toBe(1);
    expect(d.nextState.anchorMs).toBe(START);
  });
});
