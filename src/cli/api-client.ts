import { EXIT, type ExitCode, type TokenSource } from './args.js';

/** A non-2xx answer from the producer API, with its JSON error body when it sent one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly method: string,
    readonly path: string,
    readonly body: unknown,
    /** Where the token sent came from, when the client was told (cxo); a 401's report names it. */
    readonly tokenSource?: TokenSource,
    /** The answer's Retry-After header as sent, for a loop that polls (retry.ts) to honour. */
    readonly retryAfter?: string | null,
  ) {
    const b = body as { error?: unknown; message?: unknown } | null;
    const detail = typeof b?.message === 'string' ? b.message : typeof b?.error === 'string' ? b.error : '';
    super(`${method} ${path} → ${status}${detail ? `: ${detail}` : ''}`);
    this.name = 'ApiError';
  }

  /**
   * Whether the API refused the token: a 401, or the 429 an address gets once its refusals passed the
   * API's failed-authentication limit (`too_many_failed_auth`), which waiting does not cure either.
   */
  get tokenRefused(): boolean {
    if (this.status === 401) return true;
    const b = this.body as { error?: unknown } | null;
    return this.status === 429 && b?.error === 'too_many_failed_auth';
  }
}

/** The API could not be reached or did not answer in time. */
export class NetworkError extends Error {
  constructor(
    readonly apiUrl: string,
    options: { cause: unknown },
    /** The client's deadline, to name when that is what ran out. */
    timeoutMs?: number,
  ) {
    const cause = options.cause as
      { name?: string; message?: string; cause?: { code?: string; message?: string } } | undefined;
    // fetch's own "fetch failed" says nothing: its cause does (ECONNREFUSED, or "bad port" for a
    // port fetch never sends to, such as 6000).
    const code = cause?.cause?.code ?? cause?.cause?.message ?? cause?.message ?? 'no answer';
    // A deadline that ran out is an API that took the connection and then said nothing (a stalled
    // process, an overloaded host): "is it running?" would send the operator to look in the wrong place.
    super(
      cause?.name === 'TimeoutError' && timeoutMs !== undefined
        ? `no answer from the API at ${apiUrl} within ${timeoutMs / 1000} s; is it stalled or overloaded? (its /readyz and logs say; set API_URL or --api-url if this is not the API)`
        : `cannot reach the API at ${apiUrl} (${code}); is it running? (set API_URL or --api-url)`,
      options,
    );
    this.name = 'NetworkError';
  }
}

/** The user interrupted (Ctrl-C) a request before the API answered; the server may have acted on it. */
export class InterruptedError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
  ) {
    super(`interrupted (Ctrl-C) before the API answered ${method} ${path}`);
    this.name = 'InterruptedError';
  }
}

/**
 * An answer that is not the API's: a 404 from no route of it (API_URL points below or beside the
 * API's root) or that is not its JSON (a proxy, another service), or a 2xx whose body is not the
 * JSON object every API route answers with (a login page an SSO proxy redirected to, a web app that
 * answers 200 to any path). Reported as a configuration problem, so a wrong URL never reads as "no
 * such campaign", nor as "pause accepted" when nothing was paused.
 */
export class ApiUrlError extends Error {
  constructor(
    readonly apiUrl: string,
    readonly method: string,
    readonly path: string,
    readonly body: unknown,
    readonly status = 404,
    /** Where fetch was redirected to (origin and path only: a query may carry a login's state). */
    readonly redirectedTo?: string,
  ) {
    const message = (body as { message?: unknown } | null)?.message;
    const detail =
      status === 404 && isApiErrorBody(body) && typeof message === 'string'
        ? message
        : `the answer is not the orchestrator API's${redirectedTo ? `: redirected to ${redirectedTo}` : ''}`;
    super(
      `${method} ${apiUrl}${path} → ${status} (${detail}); is API_URL the API's root, e.g. http://host:3000?`,
    );
    this.name = 'ApiUrlError';
  }
}

/** Pure: a redirect target as it may be printed: origin and path, without query or fragment. */
export function redirectTarget(url: string): string | undefined {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return undefined;
  }
}

/** Pure: whether a body is a JSON object, as every route of the API answers (never an array or text). */
export function isJsonObject(body: unknown): body is Record<string, unknown> {
  return typeof body === 'object' && body !== null && !Array.isArray(body);
}

function isApiErrorBody(body: unknown): body is { error: string; message?: unknown } {
  return typeof body === 'object' && body !== null && typeof (body as { error?: unknown }).error === 'string';
}

/**
 * Pure: whether a 404's body is the API's own resource not-found (`{"error":"not_found"}` from a
 * route that exists) rather than its unknown-route 404, whose message starts with "no route ".
 */
export function isResourceNotFound(body: unknown): boolean {
  if (!isApiErrorBody(body) || body.error !== 'not_found') return false;
  return !(typeof body.message === 'string' && body.message.startsWith('no route '));
}

/** Pure: the exit code an HTTP status stands for (see EXIT in args.ts). */
export function exitCodeForStatus(status: number): ExitCode {
  if (status >= 200 && status < 300) return EXIT.ok;
  if (status === 400 || status === 413 || status === 415) return EXIT.validation;
  if (status === 404) return EXIT.notFound;
  // 422 is an Idempotency-Key already used for another config: the config is fine, the key clashes.
  if (status === 401 || status === 403 || status === 409 || status === 422) return EXIT.refused;
  return EXIT.server;
}

export function exitCodeForError(err: unknown): ExitCode {
  if (err instanceof ApiError) return err.tokenRefused ? EXIT.refused : exitCodeForStatus(err.status);
  if (err instanceof InterruptedError) return EXIT.interrupted;
  return EXIT.server;
}

export interface ApiClientOptions {
  apiUrl: string;
  token: string;
  timeoutMs?: number;
  fetchImpl?: typeof fetch;
  /** The user's Ctrl-C: aborts a request in flight with InterruptedError. */
  signal?: AbortSignal;
  /** Where `token` came from, carried by an ApiError so that a 401 can name it. */
  tokenSource?: TokenSource;
}

export interface ApiResponse<T> {
  status: number;
  body: T;
  /** e.g. `idempotent-replayed`, which tells a replayed launch from a new one. */
  headers: Headers;
}

/**
 * How long the client waits for an answer. Longer than the API's own deadline (15 s with the default
 * CXONE_TIMEOUT_MS; request-guard.ts), so that a stalled Redis or CXone reaches the operator as the
 * API's 503 — naming the launch or command and whether a retry is safe — not as "cannot reach the API".
 */
export const CLIENT_TIMEOUT_MS = 30_000;

/**
 * A request body that is already JSON text, sent byte for byte: a config file goes to the API as its
 * author wrote it, not as JSON.parse and JSON.stringify re-encode it (a number beyond a double's range
 * would arrive as `null`, and a deeply nested one would not arrive at all).
 */
export class JsonText {
  constructor(readonly text: string) {}
}

/** A thin JSON client for the producer API, used by the CLI and the demo. */
export class ApiClient {
  private readonly fetchImpl: typeof fetch;
  private readonly timeoutMs: number;

  constructor(private readonly opts: ApiClientOptions) {
    this.fetchImpl = opts.fetchImpl ?? fetch;
    this.timeoutMs = opts.timeoutMs ?? CLIENT_TIMEOUT_MS;
  }

  /**
   * Sends the request; resolves for a 2xx with a JSON object. Rejects with ApiError for the API's own
   * errors, ApiUrlError for a 404 that did not come from one of its routes or a 2xx that is not the
   * API's JSON, NetworkError when unreachable or too slow,
   * and InterruptedError when the caller's signal aborted it.
   */
  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
    /** This request's own deadline, when shorter than the client's (a wait near its --timeout). */
    timeoutMs = this.timeoutMs,
  ): Promise<ApiResponse<T>> {
    // Nothing is sent after Ctrl-C: a paging loop stops at its next request.
    if (this.opts.signal?.aborted) throw new InterruptedError(method, path);
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = this.opts.signal ? AbortSignal.any([this.opts.signal, timeout]) : timeout;
    // Encoded before the try: a body that cannot be encoded is a bug here, not an unreachable API.
    const payload =
      body === undefined ? undefined : body instanceof JsonText ? body.text : JSON.stringify(body);
    const failure = (err: unknown) =>
      this.opts.signal?.aborted
        ? new InterruptedError(method, path)
        : new NetworkError(this.opts.apiUrl, { cause: err }, timeoutMs);
    let res: Response;
    let text: string;
    try {
      res = await this.fetchImpl(`${this.opts.apiUrl}${path}`, {
        method,
        headers: {
          accept: 'application/json',
          authorization: `Bearer ${this.opts.token}`,
          ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        ...(payload === undefined ? {} : { body: payload }),
        signal,
      });
      // The body is read under the same signal: a server that sends headers and then stalls is as
      // stuck as one that never answers.
      text = await res.text();
    } catch (err) {
      throw failure(err);
    }
    let parsed: unknown = text;
    if (text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        // Not JSON (a proxy's error page, say): keep the text for the error message.
      }
    }
    if (res.status === 404 && !isResourceNotFound(parsed)) {
      throw new ApiUrlError(this.opts.apiUrl, method, path, parsed);
    }
    // fetch follows redirects: a proxy that sends an unauthenticated request to its login page ends
    // in a 200 HTML page, which read as the API's answer made `cxo pause` report "accepted" (exit 0).
    if (res.ok && !isJsonObject(parsed)) {
      const to = res.redirected ? redirectTarget(res.url) : undefined;
      throw new ApiUrlError(this.opts.apiUrl, method, path, parsed, res.status, to);
    }
    if (!res.ok) {
      const retryAfter = res.headers.get('retry-after');
      throw new ApiError(res.status, method, path, parsed, this.opts.tokenSource, retryAfter);
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  get<T>(path: string, timeoutMs?: number): Promise<ApiResponse<T>> {
    return this.request<T>('GET', path, undefined, {}, timeoutMs);
  }

  post<T>(path: string, body: unknown, headers?: Record<string, string>): Promise<ApiResponse<T>> {
    return this.request<T>('POST', path, body, headers);
  }
}
