import { describe, expect, it } from 'vitest';
import { createRedisRefusalTracker } from '../../src/workers/redis-refusal.js';

const READONLY = "READONLY You can't write against a read only replica.";
const OOM = "OOM command not allowed when used memory > 'maxmemory'.";

describe('createRedisRefusalTracker (pure)', () => {
  it('logs the first refusal of a state at once and its repeats within the interval not', () => {
    let now = 0;
    const tracker = createRedisRefusalTracker(60_000, () => now);
    expect(tracker.refused(READONLY)).toEqual({
      state: 'READONLY',
      refusal: READONLY,
      suppressed: 0,
      refusedForMs: 0,
    });
    for (let i = 0; i < 11; i++) {
      now += 5_000;
      expect(tracker.refused(READONLY)).toBeUndefined();
    }
    now += 5_000;
    expect(tracker.refused(READONLY)).toMatchObject({ suppressed: 11, refusedForMs: 60_000 });
  });

  it('gives the repeats of an interval as it ends, though no refusal follows to carry them', () => {
    let now = 0;
    const tracker = createRedisRefusalTracker(60_000, () => now);
    tracker.refused(READONLY);
    now = 30_000;
    tracker.refused(READONLY);
    tracker.refused(READONLY);
    now = 59_999;
    expect(tracker.sweep()).toEqual({ still: [], ended: [] });
    now = 60_000;
    expect(tracker.sweep().still).toEqual([
      { state: 'READONLY', refusal: READONLY, suppressed: 2, refusedForMs: 60_000 },
    ]);
    // Counted once: the next sweep has nothing more to say until the state ends.
    now = 75_000;
    expect(tracker.sweep()).toEqual({ still: [], ended: [] });
  });

  it('says a state is over after an interval without it, and a later episode starts afresh', () => {
    let now = 0;
    const tracker = createRedisRefusalTracker(60_000, () => now);
    tracker.refused(READONLY);
    now = 20_000;
    tracker.refused(READONLY);
    now = 60_000;
    expect(tracker.sweep()).toEqual({
      still: [{ state: 'READONLY', refusal: READONLY, suppressed: 1, refusedForMs: 60_000 }],
      ended: [],
    });
    now = 79_999;
    expect(tracker.sweep()).toEqual({ still: [], ended: [] });
    now = 80_000;
    expect(tracker.sweep().ended).toEqual([
      { state: 'READONLY', refusal: READONLY, suppressed: 0, refusedForMs: 20_000 },
    ]);
    now = 3_600_000;
    // Hours later: a new episode, logged at once, claiming none of the old repeats.
    expect(tracker.refused(READONLY)).toMatchObject({ suppressed: 0, refusedForMs: 0 });
  });

  it('logs a different state at once (OOM after READONLY), each with its own count', () => {
    let now = 0;
    const tracker = createRedisRefusalTracker(60_000, () => now);
    tracker.refused(READONLY);
    now = 1_000;
    expect(tracker.refused(READONLY)).toBeUndefined();
    expect(tracker.refused(OOM)).toMatchObject({ state: 'OOM', suppressed: 0 });
    now = 50_000;
    tracker.refused(OOM);
    now = 61_000;
    // READONLY is over (none since 1 s), OOM still refused: its repeat is its own.
    expect(tracker.sweep()).toEqual({
      still: [{ state: 'OOM', refusal: OOM, suppressed: 1, refusedForMs: 60_000 }],
      ended: [{ state: 'READONLY', refusal: READONLY, suppressed: 1, refusedForMs: 1_000 }],
    });
    now = 110_000;
    expect(tracker.sweep()).toEqual({
      still: [],
      ended: [{ state: 'OOM', refusal: OOM, suppressed: 0, refusedForMs: 49_000 }],
    });
  });
});
