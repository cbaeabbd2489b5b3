/** Time source; injected so compliance windows, token expiry and pacing cooldowns can be tested with a controllable clock. */
export interface Clock {
  /** Wall-clock time (epoch ms): what a date is read from. NTP or a VM resuming can step it either way. */
  now(): number;
  /**
   * Milliseconds since an arbitrary origin on a clock that only runs forward, at the rate time passes:
   * a step of the wall clock does not move it. Lifetimes and elapsed time are measured on it (measured
   * on the wall clock, an hour's step back lengthened every lifetime by an hour). A clock without it
   * measures them on `now()`.
   */
  monotonicNow?(): number;
}

export const systemClock: Clock = { now: () => Date.now(), monotonicNow: () => performance.now() };

/** The monotonic reading of `clock` (its wall reading when it has none). */
export function monotonicOf(clock: Clock): () => number {
  return () => clock.monotonicNow?.() ?? clock.now();
}

/**
 * A clock tests move by hand. Time passing (`advance`, a forward `set`) moves both readings; a step
 * of the wall clock (`step`, and a backward `advance` or `set`, as time never runs backwards) moves
 * `now()` alone, as NTP or a VM resuming does.
 */
export class ManualClock implements Clock {
  private mono = 0;
  constructor(private t: number) {}
  now(): number {
    return this.t;
  }
  monotonicNow(): number {
    return this.mono;
  }
  set(t: number | Date): void {
    this.advance((typeof t === 'number' ? t : t.getTime()) - this.t);
  }
  advance(ms: number): void {
    if (ms > 0) this.mono += ms;
    this.t += ms;
  }
  /** Steps the wall clock by `ms` (either way) while no time passes. */
  step(ms: number): void {
    this.t += ms;
  }
}
