import type { Clock } from '../shared/clock.js';

/**
 * Simulated time: it starts at the sandbox's real start time and runs `timeScale` times faster,
 * plus any skips a test asks for. simNow = start + (realNow − start) × timeScale + skipped.
 * Dialer simulations use it, so statistics accumulate faster than real time; tokens, rate windows
 * and the lawfulness of a dial (calling windows, legal hours) use real time (see `realOf`).
 */
export class SimulatedTime {
  private startReal: number;
  private skippedMs = 0;
  /** Each skip: the simulated instant it jumped from, and how far. */
  private skips: { fromSim: number; ms: number }[] = [];
  /** The latest simulated instant handed out: now() never answers less (see now()). */
  private latest = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly clock: Clock,
    readonly timeScale: number,
  ) {
    this.startReal = clock.now();
  }

  /**
   * Starts simulated time again at the real now, skips forgotten, as a fresh sandbox's
   * (POST /__sandbox/reset; only once no simulation runs on the old timeline).
   */
  restart(): void {
    this.startReal = this.clock.now();
    this.skippedMs = 0;
    this.skips = [];
    this.latest = Number.NEGATIVE_INFINITY;
  }

  /**
   * Never less than an instant it answered before. The clock is the wall clock, which NTP or a VM
   * resuming can step back; the dialer models only run forward, and a campaign joining its skill
   * group's pool at an instant before the pool's was refused (a 500 to the activating PATCH, after
   * the activation was stored). Simulated time stands still until the wall clock catches up.
   */
  now(): number {
    const raw = this.startReal + (this.clock.now() - this.startReal) * this.timeScale + this.skippedMs;
    this.latest = Math.max(this.latest, raw);
    return this.latest;
  }

  /** Jumps simulated time forward (never back, so simulations only move forward). */
  skip(ms: number): void {
    if (ms <= 0) return;
    this.skips.push({ fromSim: this.now(), ms });
    this.skippedMs += ms;
    // The whole skip, even while simulated time stands still for a clock that stepped back.
    this.latest += ms;
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
    const real = this.startReal + (simMs - this.startReal - skipped) / this.timeScale;
    return Math.min(this.clock.now(), real);
  }
}
