import type { Clock } from '../shared/clock.js';
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

  constructor(
    private readonly opts: AuthFailureLimitOptions,
    private readonly clock: Clock,
  ) {}

  /** How long `key` stays locked, in ms; undefined when it is not. */
  lockedForMs(key: string): number | undefined {
    const log = this.live(key);
    if (log.length < this.opts.perWindow) return undefined;
    return (log[log.length - this.opts.perWindow] as number) + this.opts.windowMs - this.clock.now();
  }

  /** One more failed authentication for `key`. */
  fail(key: string): void {
    const log = this.live(key);
    log.push(this.clock.now());
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
    keepLive(log, this.clock.now(), this.opts.windowMs);
    if (log.length === 0) this.failures.delete(key);
    return log;
  }
}
