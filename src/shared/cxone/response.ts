import type { z } from 'zod';
import {
  CxoneAuthError,
  CxoneBadRequestError,
  type CxoneError,
  type CxoneErrorContext,
  CxoneConflictError,
  CxoneForbiddenError,
  CxoneMalformedResponseError,
  CxoneNotFoundError,
  CxoneRateLimitError,
  CxoneUnavailableError,
  CxoneValidationError,
  type FieldError,
} from '../errors.js';
import { MAX_PENALTY_MS } from '../limiter/types.js';
import { parseRetryAfter } from '../retry-after.js';
import { errorBodySchema } from './wire.js';

/** What the client needs from an HTTP response; independent of axios so the mapping is pure. */
export interface RawResponse {
  status: number;
  headers: Record<string, unknown>;
  body: unknown;
}

function zodProblems(error: z.ZodError): string[] {
  return error.issues.slice(0, 10).map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`);
}

/** Parses a 2xx body with its wire schema; a mismatch is a typed error naming the endpoint. */
export function parseBody<S extends z.ZodType>(
  schema: S,
  body: unknown,
  ctx: CxoneErrorContext,
): z.output<S> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    throw new CxoneMalformedResponseError(zodProblems(parsed.error), { ...ctx, body: summarize(body) });
  }
  return parsed.data;
}

/**
 * Compared with `_`, `-` and case ignored: a token endpoint that spells them `accessToken` or
 * `client-secret` is exactly the one whose answer fails the schema and ends up in an error.
 */
const CREDENTIAL_KEYS = new Set([
  'accesstoken',
  'refreshtoken',
  'idtoken',
  'token',
  'clientsecret',
  'secret',
  'password',
  'authorization',
  'apikey',
]);

const isCredentialKey = (key: string) => CREDENTIAL_KEYS.has(key.toLowerCase().replace(/[-_]/g, ''));

/**
 * Credentials inside text: a form-encoded token answer (`access_token=…`), or a gateway's error page
 * or message quoting the header it refused (`Authorization: Bearer …`). Error path only.
 */
const CREDENTIAL_IN_TEXT =
  /\b(access[-_]?token|refresh[-_]?token|id[-_]?token|client[-_]?secret|api[-_]?key|password)("?\s*[=:]\s*)("?)[^\s&"'<,;]+|\b(Bearer|Basic)(\s+)[^\s"'<,;]+/gi;

function scrub(text: string): string {
  return text.replace(
    CREDENTIAL_IN_TEXT,
    (_m, key?: string, sep?: string, quote?: string, scheme?: string, space?: string) =>
      key !== undefined ? `${key}${sep}${quote}[redacted]` : `${scheme}${space}[redacted]`,
  );
}

/** A text answer that is a document (HTML, XML) rather than a message: a gateway's error page. Pure. */
export function isMarkup(text: string): boolean {
  return /^\s*</.test(text);
}

/** The most of a page an error keeps: a title or a sentence, never the document. */
const PAGE_EXCERPT_CHARS = 120;
/** Only the start of a page is read, so that a 10 MB answer costs no more than a small one. */
const PAGE_SCAN_CHARS = 16_384;

const ENTITIES: Record<string, string> = { amp: '&', quot: '"', apos: "'", nbsp: ' ', '#39': "'" };

/**
 * What an error may say of a markup page: its `<title>`, or else its visible text, without tags,
 * scripts, styles or comments, on one line, bounded and scrubbed of credentials. A load balancer's
 * 502 page is a kilobyte or more of markup and CSS whose first 500 characters say nothing an
 * operator can use; its title ("502 Bad Gateway") says which gateway failed how. Angle brackets are
 * dropped, so the excerpt is never markup itself wherever it is shown. Error path only. Pure.
 */
export function pageExcerpt(page: string): string {
  const head = page.slice(0, PAGE_SCAN_CHARS);
  const title = /<title\b[^>]{0,200}>([^<]{0,1000})/i.exec(head)?.[1];
  const text =
    title !== undefined && title.trim() !== ''
      ? title
      : head
          .replace(/<(script|style)\b[^]*?(<\/\1\s*>|$)/gi, ' ')
          .replace(/<!--[^]*?(-->|$)/g, ' ')
          .replace(/<[^>]*(>|$)/g, ' ');
  const plain = text
    .replace(/&(amp|quot|apos|nbsp|#39);/g, (_m, name: string) => ENTITIES[name] ?? ' ')
    .replace(/[<>]|&[#\w]+;/g, ' ')
    .replace(/[\s\p{Cc}]+/gu, ' ')
    .trim();
  return scrub(plain.length > PAGE_EXCERPT_CHARS ? `${plain.slice(0, PAGE_EXCERPT_CHARS - 1)}…` : plain);
}

/**
 * Error bodies are kept for operators but bounded — never a megabyte of HTML in a log line, and of a
 * page only its excerpt — and stripped of credentials: the body of a token response that failed its
 * schema still carries the access token, and errors end up in logs and job failure reasons.
 */
function summarize(body: unknown, depth = 0): unknown {
  if (typeof body === 'string') {
    return isMarkup(body)
      ? `markup page (${body.length} chars): ${pageExcerpt(body)}`
      : scrub(body.slice(0, 500));
  }
  if (body === null || typeof body !== 'object') return body;
  if (depth >= 4) return '[truncated]';
  if (Array.isArray(body)) return body.slice(0, 20).map((item) => summarize(item, depth + 1));
  return Object.fromEntries(
    Object.entries(body).map(([key, value]) => [
      key,
      isCredentialKey(key) ? '[redacted]' : summarize(value, depth + 1),
    ]),
  );
}

function headerValue(headers: Record<string, unknown>, name: string): string | undefined {
  const v = headers[name] ?? headers[name.toLowerCase()];
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && typeof v[0] === 'string') return v[0];
  if (typeof v === 'number') return String(v);
  return undefined;
}

/**
 * Retry-After in ms, from delta-seconds or an HTTP-date only (retry-after.ts): a garbled header must
 * not turn a 429 into a 1 ms fleet penalty and an immediate re-run of the job, where no header at all
 * gets the default penalty and jittered backoff.
 */
function retryAfterFrom(headers: Record<string, unknown>, nowMs: number): number | undefined {
  return parseRetryAfter(headerValue(headers, 'retry-after'), nowMs);
}

/**
 * The fields of an error body (wire.ts errorBodySchema), each read on its own: one field of the wrong
 * type must not lose the others — a 409's `error` code decides whether re-reading can help, whatever
 * `currentVersion` came as; a 422's readable field errors are kept beside an unreadable one.
 */
function readErrorBody(body: unknown): { error?: string; currentVersion?: number; errors: FieldError[] } {
  const field = <S extends z.ZodType>(schema: S, value: unknown): z.output<S> | undefined => {
    const parsed = schema.safeParse(value);
    return parsed.success ? parsed.data : undefined;
  };
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return { errors: [] };
  const b = body as Record<string, unknown>;
  const { shape } = errorBodySchema;
  const itemSchema = shape.errors.unwrap().element;
  const error = field(shape.error, b.error);
  const currentVersion = field(shape.currentVersion, b.currentVersion);
  const errors = Array.isArray(b.errors)
    ? b.errors.flatMap((e: unknown) => {
        const item = field(itemSchema, e);
        return item ? [{ field: item.field, message: item.message }] : [];
      })
    : [];
  return {
    ...(error !== undefined ? { error } : {}),
    ...(currentVersion !== undefined ? { currentVersion } : {}),
    errors,
  };
}

/**
 * What an error message adds about a body that is not CXone's JSON error: the load balancers in front
 * of CXone answer a 502/504 with their own page or with nothing, and which of those came says where
 * the failure was. Nothing for a JSON body (its fields are in `body`). Pure.
 */
function describeNonJsonBody(body: unknown): string {
  if (body === undefined || body === null || body === '') return ' with an empty body';
  if (typeof body === 'string' && isMarkup(body)) {
    const excerpt = pageExcerpt(body);
    return excerpt === '' ? ' with a markup page' : ` with a markup page: ${JSON.stringify(excerpt)}`;
  }
  return '';
}

/**
 * Maps a non-2xx CXone response to its typed error. 401 is handled by the client (refresh + one
 * retry) before this runs; one that gets here means the fresh token was refused too.
 */
export function errorFromResponse(res: RawResponse, ctx: CxoneErrorContext, nowMs: number): CxoneError {
  const errorBody = readErrorBody(res.body);
  const full: CxoneErrorContext = { ...ctx, status: res.status, body: summarize(res.body) };
  switch (res.status) {
    case 400:
      return new CxoneBadRequestError(full);
    case 401:
      return new CxoneAuthError(
        `CXone refused the access token for ${ctx.endpoint} (401) even after a fresh one was fetched`,
        full,
      );
    case 403:
      return new CxoneForbiddenError(full);
    case 404:
      return new CxoneNotFoundError(full);
    case 409:
      return new CxoneConflictError(full, errorBody.currentVersion, errorBody.error);
    case 422: {
      return new CxoneValidationError(errorBody.errors, full);
    }
    case 429: {
      // Bounded like the fleet-wide penalty: a job's whole queue pauses for what this error says. And
      // at least 1 ms: "0" (or a date already past) means "now", but a pause of 0 ms is one Redis
      // refuses to store (SET … PX 0), which would turn the free retry into a spent attempt.
      const retryAfterMs = retryAfterFrom(res.headers, nowMs);
      return new CxoneRateLimitError(
        full,
        retryAfterMs === undefined ? undefined : Math.min(MAX_PENALTY_MS, Math.max(1, retryAfterMs)),
      );
    }
  }
  // 408: a gateway gave up waiting for our request (a slow link, a stalled socket); nothing in the
  // request is wrong, so it is retried like a 5xx.
  if (res.status >= 500 || res.status === 408) {
    return new CxoneUnavailableError(
      `CXone answered ${res.status} to ${ctx.endpoint}${describeNonJsonBody(res.body)}`,
      full,
    );
  }
  // Any other status (a 3xx we do not follow, an exotic 4xx) is not something a retry fixes.
  return new CxoneBadRequestError(full);
}

/** Node/axios network failure codes that mean "CXone did not answer"; all are worth a retry. */
const NETWORK_CODES: Record<string, string> = {
  ECONNABORTED: 'timed out',
  ETIMEDOUT: 'timed out',
  ERR_CANCELED: 'was cancelled',
  ECONNRESET: 'connection was reset',
  ECONNREFUSED: 'connection was refused',
  EPIPE: 'connection broke',
  ENOTFOUND: 'host name did not resolve',
  EAI_AGAIN: 'host name lookup failed temporarily',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ERR_BAD_RESPONSE: 'response could not be read',
};

export function errorFromNetwork(err: unknown, ctx: CxoneErrorContext): CxoneUnavailableError {
  const code =
    typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : '';
  const what = NETWORK_CODES[code] ?? 'failed';
  // The raw axios error carries the request config, Authorization header included; keep only its
  // code and message as the cause so that no log serializer can ever print the token.
  const cause = Object.assign(
    new Error(err instanceof Error ? err.message : String(err)),
    code ? { code } : {},
  );
  return new CxoneUnavailableError(`CXone call ${ctx.endpoint} ${what}${code ? ` (${code})` : ''}`, ctx, {
    cause,
  });
}
