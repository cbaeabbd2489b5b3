import { monotonicOf, type Clock } from '../shared/clock.js';

/**
 * Simulated time: it starts at the sandbox's real start time and runs `timeScale` times faster,
 * plus any skips a test asks for. simNow = start + elapsed × timeScale + skipped, where elapsed is
 * read on the monotonic clock (Clock.monotonicNow): a step of the wall clock (NTP, a VM resuming)
 * moves it neither way, so simulated time never runs backwards (the dialer models only run forward:
 * a campaign joining its skill group's pool at an instant before the pool's was a 500) and never
 * jumps (derived from the wall clock, a step back then forward again jumped it by the step ×
 * timeScale, a day of dialing at 24× in one read).
 * Dialer simulations use it, so statistics accumulate faster than real time; tokens, rate windows
 * and the lawfulness of a dial (calling windows, legal hours) use real time (see `realOf`).
 */
export class SimulatedTime {
  private readonly monoNow: () => number;
  private startReal: number;
  private startMono: number;
  private skippedMs = 0;
  /**
   * Each skip: the simulated instant it jumped from, how far, and how far all skips before it did
   * (a long skip is made of many, POST /__sandbox/time/skip: realOf finds its own by bisection).
   */
  private skips: { fromSim: number; ms: number; before: number }[] = [];
  private restarts = 0;

  constructor(
    private readonly clock: Clock,
    readonly timeScale: number,
  ) {
    this.monoNow = monotonicOf(clock);
    this.startReal = clock.now();
    this.startMono = this.monoNow();
  }

  /**
   * Starts simulated time again at the real now, skips forgotten, as a fresh sandbox's
   * (POST /__sandbox/reset; only once no simulation runs on the old timeline).
   */
  restart(): void {
    this.restarts += 1;
    this.startReal = this.clock.now();
    this.startMono = this.monoNow();
    this.skippedMs = 0;
    this.skips = [];
  }

  /** Changes at each restart: a gradual skip begun on the old timeline stops there. */
  get epoch(): number {
    return this.restarts;
  }

  /** Never less than an instant it answered before; whole milliseconds. */
  now(): number {
    return this.startReal + Math.floor((this.monoNow() - this.startMono) * this.timeScale) + this.skippedMs;
  }

  /** Jumps simulated time forward (never back, so simulations only move forward). */
  skip(ms: number): void {
    if (ms <= 0) return;
    this.skips.push({ fromSim: this.now(), ms, before: this.skippedMs });
    this.skippedMs += ms;
  }

  /**
   * The real instant a simulated one stands for (a skipped stretch stands for the moment of its
   * skip), never later than now: the wall clock as it reads now, less the time elapsed since. A dial
   * is lawful or not by the clock CXone and the orchestrator share: judged in simulated time, a
   * sped-up sandbox would count dials as made at night while the orchestrator, enforcing the same
   * windows in real time, rightly keeps the campaign dialing.
   */
  realOf(simMs: number): number {
    // The last skip that began before simMs (skips are in order of fromSim).
    let lo = 0;
    let hi = this.skips.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.skips[mid] as { fromSim: number }).fromSim < simMs) lo = mid + 1;
      else hi = mid;
    }
    const last = this.skips[lo - 1];
    const skipped = last ? last.before + Math.min(last.ms, simMs - last.fromSim) : 0;
    const elapsed = (simMs - this.startReal - skipped) / this.timeScale;
    const real = this.clock.now() - (this.monoNow() - this.startMono - elapsed);
    return Math.min(this.clock.now(), real);
  }
}
