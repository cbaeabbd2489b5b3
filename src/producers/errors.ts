import { z } from 'zod';
import { toValidationIssues, type ValidationIssue } from '../shared/campaign-config.js';
import {
  FleetBudgetBusyError,
  isCxoneError,
  NotFoundError,
  RequestAbandonedError,
  StateConflictError,
  TokenWaitExceededError,
} from '../shared/errors.js';
import { LimiterUnavailableError } from '../shared/limiter/types.js';
import { redisStateRefusal } from '../shared/redis.js';
import { RETRY_AFTER } from './headers.js';

/**
 * Every `error` code this API answers with, and its status: the one list docs/api.md's error table is
 * checked against (test/ops/docs-facts.test.ts). An answer's body is typed by it (ErrorBody, ApiError),
 * so a code used anywhere else does not compile. Bull Board's own API keeps its `{error: {key}}` shape.
 */
export const API_ERROR_CODES = {
  invalid_json: 400,
  validation_failed: 400,
  invalid_url: 400,
  invalid_idempotency_key: 400,
  invalid_actor: 400,
  invalid_content_length: 400,
  bad_request: 400,
  unauthorized: 401,
  not_found: 404,
  method_not_allowed: 405,
  request_too_slow: 408,
  invalid_state: 409,
  launch_in_progress: 409,
  compliance_refused: 409,
  already_queued: 409,
  idempotency_key_in_use: 409,
  webhooks_disabled: 409,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  idempotency_key_reused: 422,
  too_many_failed_auth: 429,
  headers_too_large: 431,
  internal_error: 500,
  upstream_error: 502,
  upstream_unavailable: 503,
  redis_unavailable: 503,
  request_timeout: 503,
  fleet_contested: 503,
} as const;

export type ApiErrorCode = keyof typeof API_ERROR_CODES;

/**
 * Every error the producer API answers with is JSON `{error, message, ...details}`: `error` is a stable
 * machine-readable code, `message` is for people. Nothing else (HTML, stack traces) ever reaches a client.
 */
export interface ErrorBody {
  error: ApiErrorCode;
  message: string;
  [detail: string]: unknown;
}

export interface ErrorResponse {
  status: number;
  body: ErrorBody;
  headers?: Record<string, string>;
}

/** Seconds a 503 tells the client to wait when nothing more precise is known (a Redis or CXone outage). */
export const RETRY_AFTER_S = 5;

/**
 * An error a route throws on purpose, with the status and body the client should get. The status is
 * spelt at the throw, where a reader looks for it, and typed by the code: a status other than the
 * one API_ERROR_CODES gives its code does not compile.
 */
export class ApiError<C extends ApiErrorCode = ApiErrorCode> extends Error {
  constructor(
    readonly status: (typeof API_ERROR_CODES)[C],
    readonly code: C,
    message: string,
    readonly details: Record<string, unknown> = {},
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export class ValidationFailedError extends ApiError {
  constructor(readonly issues: ValidationIssue[]) {
    super(400, 'validation_failed', describeIssues(issues), { issues });
    this.name = 'ValidationFailedError';
  }
}

function describeIssues(issues: ValidationIssue[]): string {
  const shown = issues
    .slice(0, 5)
    .map((i) => `${i.path}: ${i.message}`)
    .join('; ');
  return `the request is invalid: ${shown}${issues.length > 5 ? ` (and ${issues.length - 5} more)` : ''}`;
}

/** Parses with a zod schema or throws the API's 400 naming every invalid field. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ValidationFailedError(toValidationIssues(parsed.error, value));
  return parsed.data;
}

/** Fastify's own errors we answer with a specific code instead of its generic text. */
const FASTIFY_CODES: Record<string, { status: number; error: ApiErrorCode; message: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: {
    status: 400,
    error: 'invalid_json',
    // Fastify's parser refuses these keys (prototype poisoning) with the same error as broken JSON.
    message:
      'the request body is not valid JSON, or has a "__proto__" or "constructor" key, which is refused',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    status: 400,
    error: 'invalid_json',
    message: 'the request body is empty but content-type is application/json',
  },
  FST_ERR_CTP_BODY_TOO_LARGE: {
    status: 413,
    error: 'payload_too_large',
    message: 'the request body is larger than this API accepts',
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    error: 'unsupported_media_type',
    message: 'send the body as application/json',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    status: 400,
    error: 'invalid_content_length',
    message: 'content-length does not match the body',
  },
};

/**
 * Codes for the other 4xx errors Fastify raises while it reads a request (a body stream cut off
 * midway is a 400), by the statuses its errors carry. Only codes of API_ERROR_CODES: a status Fastify
 * has no error for (it once named 403, 429, … here) is `bad_request`, not a code no table lists.
 */
const STATUS_CODES: Partial<Record<number, ApiErrorCode>> = {
  400: 'bad_request',
  404: 'not_found',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
};

/**
 * Maps anything thrown inside a request to the response. Pure; the app's error handler only sends
 * what this returns and logs 5xx. Unknown errors become an opaque 500 — their message may carry
 * internals, so it is logged, never sent.
 */
export function toErrorResponse(err: unknown, opts: { bodyLimitBytes?: number } = {}): ErrorResponse {
  const response = errorResponseOf(err);
  return response.body.error === 'payload_too_large' && opts.bodyLimitBytes !== undefined
    ? { ...response, body: payloadTooLargeBody(opts.bodyLimitBytes) }
    : response;
}

/**
 * Pure: the 413's body, naming the limit: "larger than this API accepts" left a sender (and `cxo
 * launch`, which prints the message) guessing by how much to cut.
 */
export function payloadTooLargeBody(limitBytes: number): ErrorBody {
  const kib = limitBytes / 1024;
  const size = Number.isInteger(kib) ? `${kib} KiB (${limitBytes} bytes)` : `${limitBytes} bytes`;
  return {
    error: 'payload_too_large',
    message: `the request body is larger than the ${size} this API accepts; a campaign config is a few KiB`,
    limitBytes,
  };
}

function errorResponseOf(err: unknown): ErrorResponse {
  if (err instanceof ApiError) {
    return {
      status: err.status,
      body: { error: err.code, message: err.message, ...err.details },
      ...(err.headers ? { headers: err.headers } : {}),
    };
  }
  if (err instanceof z.ZodError) {
    const issues = toValidationIssues(err);
    return { status: 400, body: { error: 'validation_failed', message: describeIssues(issues), issues } };
  }
  if (err instanceof RequestAbandonedError) {
    // Normally answered already by the request guard; this is the same answer if not.
    return {
      status: 503,
      body: { error: 'request_timeout', message: err.message },
      headers: { [RETRY_AFTER]: String(RETRY_AFTER_S) },
    };
  }
  if (err instanceof NotFoundError) {
    return { status: 404, body: { error: 'not_found', message: err.message } };
  }
  if (err instanceof StateConflictError) {
    return { status: 409, body: { error: 'conflict', message: err.message, ...err.details } };
  }
  if (err instanceof LimiterUnavailableError) {
    // Redis went away while a CXone read waited for the fleet limiter: an outage, not a bug (nor a
    // busy budget); the same answer as the request guard's when Redis is down before the request.
    return {
      status: 503,
      body: {
        error: 'redis_unavailable',
        message: `Redis is not answering the fleet's CXone rate limiter; retry in ${RETRY_AFTER_S} s`,
      },
      headers: { [RETRY_AFTER]: String(RETRY_AFTER_S) },
    };
  }
  const refusal = redisStateRefusal(err);
  if (refusal) {
    // Redis answers but refuses writes (a failover's demoted primary, its memory limit): an outage that
    // heals, so a client should retry, which "internal error; see the server log" never said. Nothing
    // is claimed about what the request recorded before the refusal: that depends on where it came.
    return {
      status: 503,
      body: {
        error: 'redis_unavailable',
        message: `Redis refuses commands for now (${refusal}); retry in ${RETRY_AFTER_S} s`,
      },
      headers: { [RETRY_AFTER]: String(RETRY_AFTER_S) },
    };
  }
  if (isCxoneError(err)) {
    if (err.kind === 'rate_limit' || err.kind === 'unavailable') {
      const retryAfterS =
        'retryAfterMs' in err && typeof err.retryAfterMs === 'number'
          ? Math.max(1, Math.ceil(err.retryAfterMs / 1000))
          : RETRY_AFTER_S;
      return {
        status: 503,
        // The wait is in the body too: a CLI or a log line shows the body, not the headers.
        body: {
          error: 'upstream_unavailable',
          message:
            err instanceof FleetBudgetBusyError
              ? // Not CXone's doing: the client retries either way, an operator reading it knows where to look.
                `the fleet's CXone budget for this endpoint (CXONE_RATE_LIMIT_PER_MIN, shared with launches ` +
                `and polls) had no free slot within ${Math.ceil(err.maxWaitMs / 1000)} s; CXone is not ` +
                `rate limiting; retry in ${retryAfterS} s`
              : err instanceof TokenWaitExceededError
                ? `CXone did not issue an access token within ${Math.ceil(err.maxWaitMs / 1000)} s; ` +
                  `retry in ${retryAfterS} s`
                : err.kind === 'rate_limit'
                  ? `CXone is rate limiting this endpoint; retry in ${retryAfterS} s`
                  : `CXone is not answering right now; retry in ${retryAfterS} s`,
          retryAfterSeconds: retryAfterS,
        },
        headers: { [RETRY_AFTER]: String(retryAfterS) },
      };
    }
    return {
      status: 502,
      body: { error: 'upstream_error', message: `CXone refused the request (${err.kind})`, kind: err.kind },
    };
  }
  if (typeof err === 'object' && err !== null) {
    const e = err as { code?: unknown; statusCode?: unknown; message?: unknown; validation?: unknown };
    const known = typeof e.code === 'string' ? FASTIFY_CODES[e.code] : undefined;
    if (known) return { status: known.status, body: { error: known.error, message: known.message } };
    const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
    if (status >= 400 && status < 500) {
      return {
        status,
        body: {
          error: STATUS_CODES[status] ?? 'bad_request',
          message: typeof e.message === 'string' ? e.message : 'bad request',
        },
      };
    }
  }
  return { status: 500, body: { error: 'internal_error', message: 'internal error; see the server log' } };
}

/**
 * The answer to bytes Node's HTTP parser refuses before any route or hook sees them (Fastify's
 * `clientErrorHandler`): a malformed request line or header, headers past Node's 16 KiB, a request
 * that took too long to arrive. Fastify's own answer is `{"error":"Bad Request", ...}`, a status
 * text where every other error of this API has a stable code.
 */
export function clientErrorResponse(code: string | undefined): ErrorResponse {
  if (code === 'HPE_HEADER_OVERFLOW') {
    return {
      status: 431,
      body: {
        error: 'headers_too_large',
        message: 'the request line and headers are larger than this server accepts (16 KiB)',
      },
    };
  }
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return {
      status: 408,
      body: { error: 'request_too_slow', message: 'the request did not arrive in time' },
    };
  }
  return {
    status: 400,
    body: { error: 'bad_request', message: 'the request is not valid HTTP/1.1 (request line or headers)' },
  };
}
