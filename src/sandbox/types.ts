import type { FastifyInstance } from 'fastify';
import type { Clock } from '../shared/clock.js';
import type { CxoneScope } from '../shared/cxone/wire.js';
import type { Logger } from '../shared/logger.js';
import type { AuthFailureLimitOptions } from './auth-throttle.js';

/** An OAuth client the sandbox accepts at POST /oauth2/token. */
export interface SandboxClient {
  clientId: string;
  clientSecret: string;
  /** The most a token for this client may carry; a token request may ask for a subset. */
  scopes: CxoneScope[];
  /**
   * The client's tenant (CXone business unit). Clients of one tenant share its per-endpoint request
   * budgets, its Idempotency-Keys and its campaigns, as on CXone; another tenant's campaign is a 404
   * to them. Defaults to the client id: a client without one is a tenant of its own, so a second
   * client meant to change the fleet's campaigns (a "console operator") must name the fleet's tenant.
   */
  tenant?: string;
}

export interface RateLimitOptions {
  /** Requests allowed per window, per tenant, per endpoint route template. */
  perWindow: number;
  windowMs: number;
  /**
   * `sliding` (default): at most perWindow requests in any windowMs interval — "100 a minute" as the
   * strictest reading of CXone's unpublished limits. `fixed`: windows aligned to the epoch (every
   * windowMs, like a server resetting its counters on the minute), which admits up to twice the
   * budget around a boundary: a client tuned against it could meet 429s on CXone.
   */
  mode?: 'fixed' | 'sliding';
}

export interface FaultSettings {
  /** Delay added to every CXone-contract request before it is handled. */
  latencyMs?: number;
  /** Probability 0..1 that a request is answered 503 {error:"unavailable"} (seeded). */
  errorRate?: number;
  /**
   * Scopes left out of every token issued from now on, though asked for and held by the client
   * (FaultState.withheldScopes); [] grants in full again.
   */
  withholdScopes?: CxoneScope[];
}

export interface SandboxOptions {
  /** 0 = random free port. Default 0. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default: one client sandbox-client/sandbox-secret with every scope. */
  clients?: SandboxClient[];
  /** Lifetime of issued access tokens. Default 3600. */
  tokenTtlSeconds?: number;
  /** Per tenant, per endpoint route template. Default 100 per 60 000 ms, sliding window. */
  rateLimit?: RateLimitOptions;
  /** Budget of POST /oauth2/token, counted separately. Default: same as rateLimit. */
  tokenRateLimit?: RateLimitOptions;
  /**
   * Failed client authentications at POST /oauth2/token allowed per client id (per remote address
   * for ids no client has) in any windowMs before that client (address) is answered 429 until the
   * window allows again. Default 10 per 60 000 ms.
   */
  authFailureLimit?: AuthFailureLimitOptions;
  /** Simulated time runs timeScale times faster than real time from sandbox start. Default 1. */
  timeScale?: number;
  /** Seed for every random choice the sandbox makes (faults, dialer simulations). Default 42. */
  seed?: number;
  latencyMs?: number;
  errorRate?: number;
  /** When set, /__sandbox/* requires header `x-sandbox-admin: <adminToken>`; unset = open. */
  adminToken?: string;
  /** How long an Idempotency-Key is remembered. Default 24 h. */
  idempotencyTtlMs?: number;
  /**
   * False: a create's Idempotency-Key is ignored (every create makes a campaign), as on a platform
   * without the feature the v2 contract does not promise (SANDBOX_IDEMPOTENCY_KEYS=ignored). Default true.
   */
  idempotencyKeys?: boolean;
  logger?: Logger;
  /** Real-time source (token expiry, rate windows, simulated time; lifetimes on its monotonicNow). Default the system clock. */
  clock?: Clock;
}

export interface RunningSandbox {
  /** Base URL, e.g. http://127.0.0.1:40123 (no trailing slash). */
  url: string;
  port: number;
  close(): Promise<void>;
  setFaults(f: FaultSettings): void;
  campaignCount(): number;
  /** The campaign resource, its history length and its dialer snapshot; undefined when unknown. */
  getCampaignState(id: string): unknown;
  app: FastifyInstance;
}
