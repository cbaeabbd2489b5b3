import { describe, expect, it } from 'vitest';
import { ControllerLoop as Loop } from './controller-loop.js';
import { MIN_CALL_RATE } from '../../src/shared/pacing/types.js';

const MIN = 60_000;

/** A change made around the controller (the compliance guard's pause, an operator), then a poll. */
function pollAfterOutsideChange(
  loop: Loop,
  callRate: number,
  ms: number,
  answered: number,
  abandoned: number,
) {
  loop.callRate = callRate;
  return loop.poll(ms, answered, abandoned);
}

describe('abandonment-target: no ceiling at the minimum call rate', () => {
  it('a guard trip found at callRate 0.1 (after the compliance pause dropped it) does not pin the campaign there for hours', () => {
    const loop = new Loop(0.5);
    // 50 minutes of clean-ish dialing: ~1000 live answers, 4 abandons; the controller climbs.
    for (let i = 0; i < 200; i += 1) loop.poll(15_000, 5, i % 50 === 0 ? 1 : 0);
    expect(loop.callRate).toBeGreaterThan(0.5);
    // A burst of abandons between two polls: the compliance guard paused the campaign and dropped it
    // to the minimum rate; the operator resumed it there. The controller's guard trips at 0.1.
    const trip = pollAfterOutsideChange(loop, MIN_CALL_RATE, 15_000, 10, 30);
    expect(trip.reason).toMatch(/^guard:/);
    // One line per idle agent cannot abandon by over-dialing: 0.1 did not overshoot anything.
    expect(loop.state?.ceiling ?? null).toBeNull();

    let releasedAt: number | null = null;
    let recoveredAt: number | null = null;
    for (let i = 0; i < 4 * 60 * 6 && recoveredAt === null; i += 1) {
      loop.poll(15_000, 5, 0);
      if (releasedAt === null && loop.state?.guard === null) releasedAt = loop.t;
      if (releasedAt !== null && loop.callRate >= 0.3) recoveredAt = loop.t;
    }
    expect(releasedAt).not.toBeNull();
    expect(loop.state?.ceiling ?? null).toBeNull();
    // Clean dialing climbs 0.05 per 50 live answers (2.5 min here) after the cooldown: 0.1 → 0.3 in
    // well under an hour, not the ~10 hours of 0.01 lifts a ceiling at 0.1 allows.
    expect(recoveredAt).not.toBeNull();
    expect((recoveredAt! - releasedAt!) / MIN).toBeLessThan(60);
  });

  it('a back-off decided at 0.1 keeps the ceiling the campaign had rather than replacing it with 0.1', () => {
    const loop = new Loop(0.5);
    for (let i = 0; i < 400; i += 1) loop.poll(15_000, 5, 0);
    // An overshoot at 0.6 sets a ceiling there.
    pollAfterOutsideChange(loop, 0.6, 15_000, 0, 0);
    for (let i = 0; i < 10; i += 1) loop.poll(15_000, 5, 0);
    const backOff = loop.poll(15_000, 20, 4);
    expect(backOff.direction).toBe('down');
    expect(loop.state?.ceiling?.callRate).toBe(0.6);
    // Then someone drops the rate to 0.1 and the window still holds the residue of the old rate.
    pollAfterOutsideChange(loop, MIN_CALL_RATE, 15_000, 0, 0);
    for (let i = 0; i < 10; i += 1) loop.poll(15_000, 5, 0);
    const atFloor = loop.poll(15_000, 20, 4);
    expect(atFloor.reason).toMatch(/^window abandonment/);
    expect(loop.state?.ceiling?.callRate).toBe(0.6);
  });
});
