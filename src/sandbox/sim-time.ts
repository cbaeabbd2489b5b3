import type { Clock } from '../shared/clock.js';

/**
 * Simulated time: it starts at the sandbox's real start time and runs `timeScale` times faster,
 * plus any skips a test asks for. simNow = start + (realNow − start) × timeScale + skipped.
 * Dialer simulations and calling windows use it; tokens and rate windows use real time.
 */
export class SimulatedTime {
  private readonly startReal: number;
  private skippedMs = 0;

  constructor(
    private readonly clock: Clock,
    readonly timeScale: number,
  ) {
    this.startReal = clock.now();
  }

  now(): number {
    return this.startReal + (this.clock.now() - this.startReal) * this.timeScale + this.skippedMs;
  }

  /** Jumps simulated time forward (never back, so simulations only move forward). */
  skip(ms: number): void {
    if (ms > 0) this.skippedMs += ms;
  }
}
