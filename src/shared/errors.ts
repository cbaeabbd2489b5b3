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

export class CxoneConflictError extends CxoneError {
  readonly kind = 'conflict';
  readonly retryable = false;
  constructor(
    ctx: CxoneErrorContext,
    readonly currentVersion?: number,
    /**
     * CXone's own code for the 409 (`version_conflict`, `campaign_closed`, `invalid_transition`);
     * undefined when the body carried none, which is read as a version conflict.
     */
    readonly code?: string,
  ) {
    super(
      (code === undefined || code === 'version_conflict' ? 'version conflict' : `conflict (${code})`) +
        ` on ${ctx.endpoint}${ctx.campaignId ? ` for campaign ${ctx.campaignId}` : ''}` +
        (currentVersion !== undefined ? ` (current version ${currentVersion})` : ''),
      ctx,
    );
  }

  /** A newer version beat us: re-reading and deciding again can succeed. Other 409s will not pass. */
  get isVersionConflict(): boolean {
    return this.code === undefined || this.code === 'version_conflict';
  }
}

export class CxoneRateLimitError extends CxoneError {
  readonly kind = 'rate_limit';
  readonly retryable = true;
  constructor(
    ctx: CxoneErrorContext,
    /** Parsed Retry-After in milliseconds; undefined when CXone did not send a usable one. */
    readonly retryAfterMs: number | undefined,
  ) {
    super(
      `rate limited by CXone on ${ctx.endpoint}` +
        (retryAfterMs !== undefined ? `, retry after ${retryAfterMs} ms` : ' (no Retry-After)'),
      ctx,
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
