import { monotonicOf, type Clock } from '../shared/clock.js';
import type { RateLimitOptions } from './types.js';

export type RateDecision = { ok: true; remaining: number } | { ok: false; retryAfterMs: number };

/**
 * Request budget per key (tenant + endpoint). Every request that reaches the limiter counts,
 * whatever its later outcome (404, 422, injected 503), as on CXone. Rejected requests do not
 * consume budget.
 */
export class RateWindow {
  /**
   * Per key: the window's count, the monotonic reading it ends at, and the reading at its last take
   * (one below it is a step back of a clock without a monotonic reading).
   */
  private readonly fixed = new Map<string, { endsAt: number; count: number; lastAt: number }>();
  /** Per key: the monotonic readings of the accepted requests still in the window. */
  private readonly sliding = new Map<string, number[]>();
  /**
   * Budgets are timed on the monotonic clock: on the wall clock a step forward (NTP, a VM resuming)
   * handed a spent budget back at once, a budget the platform's own clock had not yet renewed.
   */
  private readonly monoNow: () => number;

  constructor(
    private readonly opts: RateLimitOptions,
    private readonly clock: Clock,
  ) {
    this.monoNow = monotonicOf(clock);
  }

  take(key: string): RateDecision {
    return (this.opts.mode ?? 'sliding') === 'fixed' ? this.takeFixed(key) : this.takeSliding(key);
  }

  reset(): void {
    this.fixed.clear();
    this.sliding.clear();
  }

  get limits(): RateLimitOptions {
    return { mode: 'sliding', ...this.opts };
  }

  /**
   * Windows aligned to the epoch on the wall clock: [k·windowMs, (k+1)·windowMs), each lasting, once
   * opened, what is left of it in elapsed (monotonic) time, so a step of the wall clock neither opens
   * the next one early nor reopens an earlier one. On a clock without a monotonic reading a step back
   * into an earlier window does not open it afresh either: the window in use carries on, its end
   * moved back with the clock (never a wait over a window).
   */
  private takeFixed(key: string): RateDecision {
    const now = this.monoNow();
    let entry = this.fixed.get(key);
    if (entry && now < entry.lastAt) entry.endsAt -= entry.lastAt - now;
    if (!entry || now >= entry.endsAt) {
      const wall = this.clock.now();
      const windowEnd = (Math.floor(wall / this.opts.windowMs) + 1) * this.opts.windowMs;
      entry = { endsAt: now + (windowEnd - wall), count: 0, lastAt: now };
      this.fixed.set(key, entry);
    }
    entry.lastAt = now;
    if (entry.count >= this.opts.perWindow) {
      return { ok: false, retryAfterMs: entry.endsAt - now };
    }
    entry.count += 1;
    return { ok: true, remaining: this.opts.perWindow - entry.count };
  }

  /** At most perWindow accepted requests in any half-open interval of windowMs. */
  private takeSliding(key: string): RateDecision {
    const now = this.monoNow();
    let log = this.sliding.get(key);
    if (!log) {
      log = [];
      this.sliding.set(key, log);
    }
    keepLive(log, now, this.opts.windowMs);
    if (log.length >= this.opts.perWindow) {
      return { ok: false, retryAfterMs: (log[0] as number) + this.opts.windowMs - now };
    }
    log.push(now);
    return { ok: true, remaining: this.opts.perWindow - log.length };
  }
}

/** Retry-After in whole seconds, rounded up, never 0 (a 0 would invite an immediate retry storm). */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/**
 * Keeps, in place, the times of a sliding window's log (oldest first) still inside the window at
 * `now`: those at or before now − windowMs go. A log whose newest time is after `now` — the wall clock
 * stepped back since (NTP, a VM resuming) — is moved back with it, the newest to now, the gaps kept:
 * left as they were, an hour's step held them an hour and a window, and a 429 or a lockout announced a
 * wait of over an hour for a window of a minute.
 */
export function keepLive(log: number[], now: number, windowMs: number): void {
  const ahead = log.length > 0 ? (log[log.length - 1] as number) - now : 0;
  if (ahead > 0) for (let i = 0; i < log.length; i += 1) log[i] = (log[i] as number) - ahead;
  let expired = 0;
  while (expired < log.length && (log[expired] as number) <= now - windowMs) expired += 1;
  if (expired > 0) log.splice(0, expired);
}
