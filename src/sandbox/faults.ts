import type { CxoneEndpoint, CxoneScope } from '../shared/cxone/wire.js';
import { seededRandom, type Random } from './prng.js';

export interface ScriptedFailure {
  /** How many more matching requests fail. */
  remaining: number;
  /** 5xx status, or 429 to script a rate-limit storm. */
  status: number;
  /** Only requests to this route template fail; all CXone endpoints when absent. */
  endpoint?: CxoneEndpoint;
  /** Retry-After sent with a scripted 429, in seconds. */
  retryAfterSeconds?: number;
  /**
   * How a scripted 429 states it: whole seconds (default), an HTTP date, or not at all (CXone's real
   * platform does not reliably send the header; RFC 9110 allows either form).
   */
  retryAfterForm?: RetryAfterForm;
  /**
   * 5xx only: the request is carried out first (a create creates, a PATCH writes) and only its answer
   * is replaced by the failure, as when a gateway times out after the service behind it committed.
   * A real 502/504 does not prove that nothing happened; without this every injected 5xx would.
   */
  applied?: boolean;
  /**
   * 5xx only: what the failure's body is. `json` (the default) is the sandbox's own error shape;
   * `html` is a load balancer's error page (text/html) and `empty` its bodiless variant, as the
   * gateways in front of CXone answer a 502/504 before CXone itself is reached (or after it committed).
   */
  body?: FaultBody;
}

export const FAULT_BODIES = ['json', 'html', 'empty'] as const;
export type FaultBody = (typeof FAULT_BODIES)[number];

export const RETRY_AFTER_FORMS = ['seconds', 'http-date', 'omitted'] as const;
export type RetryAfterForm = (typeof RETRY_AFTER_FORMS)[number];

export interface FaultState {
  latencyMs: number;
  errorRate: number;
  scripted: ScriptedFailure[];
  /**
   * Scopes the token endpoint leaves out of every token it issues from now on, though asked for
   * and held by the client: it grants fewer than asked, as RFC 6749 §3.3 allows, and says so only in
   * the answer's `scope`. The endpoints needing them then answer 403 as CXone would.
   */
  withheldScopes: CxoneScope[];
}

export type FaultDecision =
  | { fail: false }
  | {
      fail: true;
      status: number;
      scripted: boolean;
      retryAfterSeconds?: number;
      retryAfterForm?: RetryAfterForm;
      /** Carry the request out, then answer with the failure (ScriptedFailure.applied). */
      applied?: boolean;
      /** A gateway's page or no body instead of the JSON error (ScriptedFailure.body). */
      body?: Exclude<FaultBody, 'json'>;
    };

/**
 * Injected trouble: a fixed latency, a seeded random 5xx rate, and scripted "the next N requests
 * fail" entries that make resilience tests deterministic. Scripted failures are consumed first.
 */
export class FaultInjector {
  private latencyMs: number;
  private errorRate: number;
  private scripted: ScriptedFailure[] = [];
  private withheld: CxoneScope[] = [];
  private random: Random;

  constructor(private readonly initial: { latencyMs?: number; errorRate?: number; seed: number }) {
    this.latencyMs = initial.latencyMs ?? 0;
    this.errorRate = initial.errorRate ?? 0;
    this.random = seededRandom(initial.seed);
  }

  /**
   * As at start: the latency and error rate the sandbox started with, nothing scripted, and the
   * random draws replayed from the seed (POST /__sandbox/reset), so a run after a reset meets the
   * same faults as on a fresh sandbox with the same seed.
   */
  reset(): void {
    this.latencyMs = this.initial.latencyMs ?? 0;
    this.errorRate = this.initial.errorRate ?? 0;
    this.scripted = [];
    this.withheld = [];
    this.random = seededRandom(this.initial.seed);
  }

  set(f: { latencyMs?: number; errorRate?: number; withholdScopes?: readonly CxoneScope[] }): void {
    if (f.latencyMs !== undefined) this.latencyMs = Math.max(0, f.latencyMs);
    if (f.errorRate !== undefined) this.errorRate = Math.min(1, Math.max(0, f.errorRate));
    if (f.withholdScopes !== undefined) this.withheld = [...new Set(f.withholdScopes)];
  }

  /** `scopes` less those withheld: what a token asked for them is granted. */
  grant(scopes: readonly CxoneScope[]): CxoneScope[] {
    return scopes.filter((s) => !this.withheld.includes(s));
  }

  failNext(failure: ScriptedFailure): void {
    if (failure.remaining > 0) this.scripted.push({ ...failure });
  }

  clear(): void {
    this.latencyMs = 0;
    this.errorRate = 0;
    this.scripted = [];
    this.withheld = [];
  }

  get latency(): number {
    return this.latencyMs;
  }

  state(): FaultState {
    return {
      latencyMs: this.latencyMs,
      errorRate: this.errorRate,
      scripted: this.scripted.map((s) => ({ ...s })),
      withheldScopes: [...this.withheld],
    };
  }

  decide(endpoint: CxoneEndpoint): FaultDecision {
    const index = this.scripted.findIndex((s) => s.endpoint === undefined || s.endpoint === endpoint);
    if (index >= 0) {
      const entry = this.scripted[index] as ScriptedFailure;
      entry.remaining -= 1;
      if (entry.remaining <= 0) this.scripted.splice(index, 1);
      return {
        fail: true,
        status: entry.status,
        scripted: true,
        ...(entry.retryAfterSeconds !== undefined ? { retryAfterSeconds: entry.retryAfterSeconds } : {}),
        ...(entry.retryAfterForm !== undefined ? { retryAfterForm: entry.retryAfterForm } : {}),
        ...(entry.applied === true && entry.status !== 429 ? { applied: true } : {}),
        ...(entry.body !== undefined && entry.body !== 'json' && entry.status !== 429
          ? { body: entry.body }
          : {}),
      };
    }
    // Draw only when a rate is set so that turning faults on later does not shift earlier draws.
    if (this.errorRate > 0 && this.random() < this.errorRate) {
      return { fail: true, status: 503, scripted: false };
    }
    return { fail: false };
  }
}
