import type { Clock } from '../shared/clock.js';

/**
 * Simulated time: it starts at the sandbox's real start time and runs `timeScale` times faster,
 * plus any skips a test asks for. simNow = start + (realNow + steppedBack − start) × timeScale +
 * skipped, where steppedBack takes out the wall clock's steps back (see now()).
 * Dialer simulations use it, so statistics accumulate faster than real time; tokens, rate windows
 * and the lawfulness of a dial (calling windows, legal hours) use real time (see `realOf`).
 */
export class SimulatedTime {
  private startReal: number;
  private skippedMs = 0;
  /** Each skip: the simulated instant it jumped from, and how far. */
  private skips: { fromSim: number; ms: number }[] = [];
  /** How far, in all, the wall clock has stepped back (see now()). */
  private steppedBackMs = 0;
  /** Each step back: the simulated instant it came at, and how far the clock stepped. */
  private steps: { fromSim: number; realMs: number }[] = [];
  /** The clock's reading at the last look: one below it is a step back. */
  private lastReal: number;

  constructor(
    private readonly clock: Clock,
    readonly timeScale: number,
  ) {
    this.startReal = clock.now();
    this.lastReal = this.startReal;
  }

  /**
   * Starts simulated time again at the real now, skips forgotten, as a fresh sandbox's
   * (POST /__sandbox/reset; only once no simulation runs on the old timeline).
   */
  restart(): void {
    this.startReal = this.clock.now();
    this.skippedMs = 0;
    this.skips = [];
    this.steppedBackMs = 0;
    this.steps = [];
    this.lastReal = this.startReal;
  }

  /**
   * Never less than an instant it answered before. The clock is the wall clock, which NTP or a VM
   * resuming can step back; the dialer models only run forward, and a campaign joining its skill
   * group's pool at an instant before the pool's was refused (a 500 to the activating PATCH, after
   * the activation was stored). A step back is taken out, so simulated time runs on from where it was:
   * standing still until the clock caught up, an hour's step stopped every dialer for an hour.
   */
  now(): number {
    const real = this.clock.now();
    if (real < this.lastReal) {
      const fromSim = this.simAt(this.lastReal);
      this.steps.push({ fromSim, realMs: this.lastReal - real });
      this.steppedBackMs += this.lastReal - real;
    }
    this.lastReal = real;
    return this.simAt(real);
  }

  private simAt(real: number): number {
    return this.startReal + (real + this.steppedBackMs - this.startReal) * this.timeScale + this.skippedMs;
  }

  /** Jumps simulated time forward (never back, so simulations only move forward). */
  skip(ms: number): void {
    if (ms <= 0) return;
    this.skips.push({ fromSim: this.now(), ms });
    this.skippedMs += ms;
  }

  /**
   * The real instant a simulated one stands for (a skipped stretch stands for the moment of its
   * skip), never later than now. A dial is lawful or not by the clock CXone and the orchestrator
   * share: judged in simulated time, a sped-up sandbox would count dials as made at night while the
   * orchestrator, enforcing the same windows in real time, rightly keeps the campaign dialing.
   */
  realOf(simMs: number): number {
    let skipped = 0;
    for (const { fromSim, ms } of this.skips) {
      if (simMs <= fromSim) break;
      skipped += Math.min(ms, simMs - fromSim);
    }
    // An instant after a step back of the wall clock stands for a reading of the clock as it runs since.
    let steppedBack = 0;
    for (const { fromSim, realMs } of this.steps) {
      if (simMs <= fromSim) break;
      steppedBack += realMs;
    }
    const real = this.startReal + (simMs - this.startReal - skipped) / this.timeScale - steppedBack;
    return Math.min(this.clock.now(), real);
  }
}
