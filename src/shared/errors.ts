/**
 * Typed errors for everything that talks to CXone. Each carries what an operator needs to act:
 * the HTTP status, the endpoint (method + route template), the campaign and the attempt number.
 */
export interface CxoneErrorContext {
  /** Method and route template, e.g. "PATCH /api/v2/campaigns/:id". */
  endpoint: string;
  status?: number | undefined;
  campaignId?: string | undefined;
  attempt?: number | undefined;
  /** CXone's own error body, when it sent one (never contains credentials). */
  body?: unknown;
}

export type CxoneErrorKind =
  | 'validation'
  | 'conflict'
  | 'rate_limit'
  | 'auth'
  | 'forbidden'
  | 'not_found'
  | 'bad_request'
  | 'unavailable'
  | 'malformed_response';

export abstract class CxoneError extends Error {
  abstract readonly kind: CxoneErrorKind;
  /** Whether doing the same call again later can succeed without anybody changing anything. */
  abstract readonly retryable: boolean;
  readonly endpoint: string;
  readonly status: number | undefined;
  readonly campaignId: string | undefined;
  attempt: number | undefined;
  readonly body: unknown;

  constructor(message: string, ctx: CxoneErrorContext, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.endpoint = ctx.endpoint;
    this.status = ctx.status;
    this.campaignId = ctx.campaignId;
    this.attempt = ctx.attempt;
    this.body = ctx.body;
  }

  /** A log-safe summary. */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      kind: this.kind,
      message: this.message,
      status: this.status,
      endpoint: this.endpoint,
      campaignId: this.campaignId,
      attempt: this.attempt,
    };
  }
}

export interface FieldError {
  field: string;
  message: string;
}

export class CxoneValidationError extends CxoneError {
  readonly kind = 'validation';
  readonly retryable = false;
  constructor(
    readonly fieldErrors: FieldError[],
    ctx: CxoneErrorContext,
  ) {
    super(
      `CXone rejected the request to ${ctx.endpoint} (422): ${
        fieldErrors.map((e) => `${e.field}: ${e.message}`).join('; ') || 'no field errors given'
      }`,
      ctx,
    );
  }
}

/**
 * The 409 codes that say a write cannot pass on any version: the campaign is closed, or its status
 * does not allow the transition (the sandbox's, docs/sandbox.md). The contract promises a 409 for a
 * version mismatch and names no codes, so every other 409 — no code, `version_conflict`, or a code
 * spelled another way — is read as a mismatch, re-read and rebased (bounded): read the other way, a
 * platform wording its mismatch differently would have every racing write given up after one look.
 */
const CONFLICTS_NOT_RACES: ReadonlySet<string> = new Set(['campaign_closed', 'invalid_transition']);

export class CxoneConflictError extends CxoneError {
  readonly kind = 'conflict';
  readonly retryable = false;
  constructor(
    ctx: CxoneErrorContext,
    readonly currentVersion?: number,
    /**
     * CXone's own code for the 409 (`version_conflict`, `campaign_closed`, `invalid_transition`);
     * undefined when the body carried none.
     */
    readonly code?: string,
  ) {
    const race = code === undefined || !CONFLICTS_NOT_RACES.has(code);
    super(
      (race ? 'version conflict' : 'conflict') +
        (code === undefined || code === 'version_conflict' ? '' : ` (${code})`) +
        ` on ${ctx.endpoint}${ctx.campaignId ? ` for campaign ${ctx.campaignId}` : ''}` +
        (currentVersion !== undefined ? ` (current version ${currentVersion})` : ''),
      ctx,
    );
  }

  /** A newer version beat us: re-reading and deciding again can succeed. Other 409s will not pass. */
  get isVersionConflict(): boolean {
    return this.code === undefined || !CONFLICTS_NOT_RACES.has(this.code);
  }
}

/**
 * Whose limit refused a call: CXone's (a 429, or the fleet-wide penalty one left still running), the
 * fleet's own per-endpoint budget (CXONE_RATE_LIMIT_PER_MIN), spent by launches and polls, or the
 * caller's wait running out before CXone issued the access token the call needs.
 */
export type RateLimitSource = 'cxone' | 'fleet_budget' | 'token_wait';

/**
 * The call was not carried out for a rate limit; doing it again after retryAfterMs can succeed. Jobs
 * re-queue without spending an attempt (src/shared/retry/classify.ts); the API answers 503.
 */
export class CxoneRateLimitError extends CxoneError {
  readonly kind = 'rate_limit';
  readonly retryable = true;
  readonly limitedBy: RateLimitSource = 'cxone';
  constructor(
    ctx: CxoneErrorContext,
    /** Parsed Retry-After in milliseconds; undefined when CXone did not send a usable one. */
    readonly retryAfterMs: number | undefined,
    message?: string,
  ) {
    super(
      message ??
        `rate limited by CXone on ${ctx.endpoint}` +
          (retryAfterMs !== undefined ? `, retry after ${retryAfterMs} ms` : ' (no Retry-After)'),
      ctx,
    );
  }

  /**
   * A bounded call (the API's) the fleet limiter refused because an earlier 429's penalty on the
   * endpoint outlasts its wait: CXone's limit, though this call never reached CXone.
   */
  static penaltyRunning(ctx: CxoneErrorContext, retryAfterMs: number): CxoneRateLimitError {
    return new CxoneRateLimitError(
      ctx,
      retryAfterMs,
      `rate limited by CXone on ${ctx.endpoint}: the fleet-wide penalty after its 429 runs ${retryAfterMs} ms more; the call was not made`,
    );
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), limitedBy: this.limitedBy, retryAfterMs: this.retryAfterMs };
  }
}

/**
 * A bounded call (the API's: a command's fresh read, a stale view's refresh, a history import) found
 * no free slot of the fleet's own budget for its endpoint within its wait: the fleet's launches and
 * polls are spending CXONE_RATE_LIMIT_PER_MIN. Load, not a fault — CXone sent no 429 and nothing was
 * called. A CxoneRateLimitError still (retry later, nothing done), so every handler of rate limits
 * treats it as one; only its message and `limitedBy` tell it apart.
 */
export class FleetBudgetBusyError extends CxoneRateLimitError {
  override readonly limitedBy = 'fleet_budget';
  constructor(
    ctx: CxoneErrorContext,
    override readonly retryAfterMs: number,
    readonly maxWaitMs: number,
  ) {
    super(
      ctx,
      retryAfterMs,
      `the fleet's CXone budget for ${ctx.endpoint} had no free slot within ${maxWaitMs} ms` +
        `${ctx.campaignId ? ` (campaign ${ctx.campaignId})` : ''}: the fleet's launches and polls are ` +
        'spending its CXONE_RATE_LIMIT_PER_MIN (CXone sent no 429; the call was not made); retry after ' +
        `${Math.max(1, Math.ceil(retryAfterMs / 1000))} s. Raise CXONE_RATE_LIMIT_PER_MIN only if CXone allows the tenant more`,
    );
  }
}

export class CxoneAuthError extends CxoneError {
  readonly kind = 'auth';
  readonly retryable = false;
  constructor(message: string, ctx: CxoneErrorContext) {
    super(message, ctx);
  }
}

export class CxoneForbiddenError extends CxoneError {
  readonly kind = 'forbidden';
  readonly retryable = false;
  constructor(ctx: CxoneErrorContext) {
    super(
      `CXone refused ${ctx.endpoint} (403): the OAuth client lacks the scope or role for it; grant it in CXone admin`,
      ctx,
    );
  }
}

/**
 * The token endpoint issued a token with fewer scopes than asked (RFC 6749 §3.3 allows it; the
 * response's `scope` then says what it granted): not thrown by a call — the calls the granted
 * scopes allow still go through — but what readiness reports, and what names the missing scopes
 * and what they block (cxone/scopes.ts).
 */
export class CxoneScopesNotGrantedError extends CxoneError {
  readonly kind = 'forbidden';
  readonly retryable = false;
  constructor(
    message: string,
    readonly missingScopes: readonly string[],
    readonly grantedScopes: readonly string[],
    ctx: CxoneErrorContext,
  ) {
    super(message, ctx);
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), missingScopes: this.missingScopes, grantedScopes: this.grantedScopes };
  }
}

export class CxoneNotFoundError extends CxoneError {
  readonly kind = 'not_found';
  readonly retryable = false;
  constructor(ctx: CxoneErrorContext) {
    super(`not found on CXone: ${ctx.endpoint}${ctx.campaignId ? ` (campaign ${ctx.campaignId})` : ''}`, ctx);
  }
}

export class CxoneBadRequestError extends CxoneError {
  readonly kind = 'bad_request';
  readonly retryable = false;
  constructor(ctx: CxoneErrorContext) {
    super(`CXone answered 400 to ${ctx.endpoint}: ${JSON.stringify(ctx.body ?? null).slice(0, 500)}`, ctx);
  }
}

/**
 * A bounded call (the API's) whose access token did not arrive within its wait: the shared token
 * request is slow (CXone's token endpoint slow or down, or its own limiter slot far). Not a 429 —
 * nothing was sent for this call. A CxoneRateLimitError still (retry later, nothing done), so every
 * handler of rate limits treats it as one; its message and `limitedBy` say what it was.
 */
export class TokenWaitExceededError extends CxoneRateLimitError {
  override readonly limitedBy = 'token_wait';
  constructor(
    ctx: CxoneErrorContext,
    readonly maxWaitMs: number,
  ) {
    super(
      ctx,
      undefined,
      `no CXone access token within ${maxWaitMs} ms for ${ctx.endpoint}` +
        `${ctx.campaignId ? ` (campaign ${ctx.campaignId})` : ''}: the token request is still running ` +
        '(CXone sent no 429; the call was not made)',
    );
  }
}

export class CxoneUnavailableError extends CxoneError {
  readonly kind = 'unavailable';
  readonly retryable = true;
  constructor(message: string, ctx: CxoneErrorContext, options?: { cause?: unknown }) {
    super(message, ctx, options);
  }
}

export class CxoneMalformedResponseError extends CxoneError {
  readonly kind = 'malformed_response';
  readonly retryable = false;
  constructor(
    readonly problems: string[],
    ctx: CxoneErrorContext,
  ) {
    super(
      `CXone sent a response to ${ctx.endpoint} that does not match its contract: ${problems.join('; ')}`,
      ctx,
    );
  }
}

export function isCxoneError(err: unknown): err is CxoneError {
  return err instanceof CxoneError;
}

/** A request to the producer API that the current state of things forbids (HTTP 409 to the caller). */
export class StateConflictError extends Error {
  constructor(
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'StateConflictError';
  }
}

export class NotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotFoundError';
  }
}

/**
 * The API request that asked for this work has already been answered (503, its deadline passed while
 * Redis or CXone did not answer): the work stops before anything it would enqueue, so a caller told
 * "not done" is never proved wrong later.
 */
export class RequestAbandonedError extends Error {
  constructor(readonly what: string) {
    super(`${what} was not enqueued: the request passed its deadline before it got that far`);
    this.name = 'RequestAbandonedError';
  }
}

/** Throws RequestAbandonedError when `signal` (the API request's deadline) has fired. */
export function throwIfAbandoned(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new RequestAbandonedError(what);
}
