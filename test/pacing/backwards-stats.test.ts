import { describe, expect, it } from 'vitest';
import { ControllerLoop as Loop } from './controller-loop.js';

const MIN = 60_000;

describe('abandonment-target: statistics that go backwards', () => {
  it('a stale read (a snapshot older than the last one) does not count the period twice', () => {
    const loop = new Loop(0.5);
    for (let i = 1; i <= 40; i += 1) loop.read(15_000, i * 25, Math.floor(i * 0.65)); // → 1000 / 26
    expect(loop.state?.guard).toBeNull();
    // CXone answers one poll from an older snapshot, then the next as before.
    const stale = loop.read(15_000, 990, 25);
    expect(stale.direction).toBe('hold');
    // 29 abandons in 1010 live answers is 2.87%: the guard's 2.8% is reached.
    const next = loop.read(15_000, 1010, 29);
    expect(next.inputs).toMatchObject({ periodAnswered: 1010, periodAbandoned: 29 });
    expect(next.reason).toMatch(/^guard:/);
    expect(loop.callRate).toBe(0.1);
  });

  it('after a stale read, the window still judges the calls made since: an overshoot is backed off, never climbed', () => {
    const loop = new Loop(0.5);
    for (let i = 1; i <= 40; i += 1) loop.read(15_000, i * 25, Math.floor(i / 2)); // 2%: 1000 / 20
    loop.read(15_000, 990, 19); // a stale snapshot
    const rate = loop.callRate;
    // Then 4% of the live answers are abandoned, poll after poll.
    const moves: string[] = [];
    for (let i = 1; i <= 40; i += 1) {
      const d = loop.read(15_000, 1000 + i * 25, 20 + i);
      if (d.direction !== 'hold') moves.push(d.direction);
    }
    expect(moves).not.toContain('up');
    expect(moves).toContain('down');
    expect(loop.callRate).toBeLessThan(rate);
  });

  it('a real reset (still below what was seen a minute later) keeps the period and the guard', () => {
    const loop = new Loop(0.7);
    loop.read(MIN, 1100, 32); // 2.91%: guard
    expect(loop.callRate).toBe(0.1);
    // CXone resets the campaign's counters: they read from 0 again, and stay below.
    expect(loop.read(15_000, 0, 0)).toMatchObject({ direction: 'hold', callRate: 0.1 });
    const confirmed = loop.read(MIN, 30, 0);
    expect(confirmed.inputs).toMatchObject({ periodAnswered: 1130, periodAbandoned: 32, guardActive: true });
    expect(confirmed.callRate).toBe(0.1);
    // Further reads count from the new counters, once: 33 in 1190 is still above the release level.
    expect(loop.read(MIN, 90, 1).inputs).toMatchObject({ periodAnswered: 1190, periodAbandoned: 33 });
    expect(loop.state?.guard).not.toBeNull();
  });
});
