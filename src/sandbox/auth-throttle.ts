import { monotonicOf, type Clock } from '../shared/clock.js';
import { keepLive } from './rate-window.js';

export interface AuthFailureLimitOptions {
  /** Failed client authentications allowed per key in any windowMs interval before the key is locked. */
  perWindow: number;
  windowMs: number;
}

/**
 * Failed client authentications at POST /oauth2/token, counted per key (a registered client id, or
 * the remote address for ids no client has) in a sliding window. A key with `perWindow` failures
 * in the last `windowMs` is locked until the oldest of them leaves the window. Refusals while locked
 * are not counted: the lockout ends on the schedule its Retry-After announced, however often the
 * client asks meanwhile (an announced time that moved later would make Retry-After a lie).
 */
export class AuthFailureThrottle {
  private readonly failures = new Map<string, number[]>();
  /**
   * Failures are timed on the monotonic clock: on the wall clock a step forward (NTP, a VM resuming)
   * lifted a lockout at once, long before the Retry-After it announced.
   */
  private readonly monoNow: () => number;

  constructor(
    private readonly opts: AuthFailureLimitOptions,
    clock: Clock,
  ) {
    this.monoNow = monotonicOf(clock);
  }

  /** How long `key` stays locked, in ms; undefined when it is not. */
  lockedForMs(key: string): number | undefined {
    const log = this.live(key);
    if (log.length < this.opts.perWindow) return undefined;
    return (log[log.length - this.opts.perWindow] as number) + this.opts.windowMs - this.monoNow();
  }

  /** One more failed authentication for `key`. */
  fail(key: string): void {
    const log = this.live(key);
    log.push(this.monoNow());
    this.failures.set(key, log);
  }

  reset(): void {
    this.failures.clear();
  }

  get limits(): AuthFailureLimitOptions {
    return { ...this.opts };
  }

  /** The failures of `key` still inside the window; a key left with none is forgotten. */
  private live(key: string): number[] {
    const log = this.failures.get(key);
    if (!log) return [];
    keepLive(log, this.monoNow(), this.opts.windowMs);
    if (log.length === 0) this.failures.delete(key);
    return log;
  }
}
