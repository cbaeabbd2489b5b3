import { EXIT, type ExitCode } from './args.js';

/** A non-2xx answer from the producer API, with its JSON error body when it sent one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly method: string,
    readonly path: string,
    readonly body: unknown,
  ) {
    const b = body as { error?: unknown; message?: unknown } | null;
    const detail = typeof b?.message === 'string' ? b.message : typeof b?.error === 'string' ? b.error : '';
    super(`${method} ${path} → ${status}${detail ? `: ${detail}` : ''}`);
    this.name = 'ApiError';
  }
}

/** The API could not be reached or did not answer in time. */
export class NetworkError extends Error {
  constructor(
    readonly apiUrl: string,
    options: { cause: unknown },
  ) {
    const cause = options.cause as { message?: string; cause?: { code?: string } } | undefined;
    const code = cause?.cause?.code ?? cause?.message ?? 'no answer';
    super(`cannot reach the API at ${apiUrl} (${code}); is it running? (set API_URL or --api-url)`, options);
    this.name = 'NetworkError';
  }
}

/** Pure: the exit code an HTTP status stands for (see EXIT in args.ts). */
export function exitCodeForStatus(status: number): ExitCode {
  if (status >= 200 && status < 300) return EXIT.ok;
  if (status === 400 || status === 413 || status === 422) return EXIT.validation;
  if (status === 404) return EXIT.notFound;
  if (status === 401 || status === 403 || status === 409) return EXIT.refused;
  return EXIT.server;
}

export function exitCodeForError(err: unknown): ExitCode {
  if (err instanceof ApiError) return exitCodeForStatus(err.status);
  return EXIT.server;
}

export interface ApiClientOptions {
  apiUrl: string;
  token: string;
  timeoutMs?: number;
  fetchImpl?: typeof fetch;
}

export interface ApiResponse<T> {
  status: number;
  body: T;
}

/** A thin JSON client for the producer API, used by the CLI and the demo. */
export class ApiClient {
  private readonly fetchImpl: typeof fetch;
  private readonly timeoutMs: number;

  constructor(private readonly opts: ApiClientOptions) {
    this.fetchImpl = opts.fetchImpl ?? fetch;
    this.timeoutMs = opts.timeoutMs ?? 15_000;
  }

  /** Sends the request; resolves for 2xx, rejects with ApiError otherwise or NetworkError when unreachable. */
  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<ApiResponse<T>> {
    let res: Response;
    try {
      res = await this.fetchImpl(`${this.opts.apiUrl}${path}`, {
        method,
        headers: {
          accept: 'application/json',
          authorization: `Bearer ${this.opts.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new NetworkError(this.opts.apiUrl, { cause: err });
    }
    const text = await res.text();
    let parsed: unknown = text;
    if (text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        // Not JSON (a proxy's error page, say): keep the text for the error message.
      }
    }
    if (!res.ok) throw new ApiError(res.status, method, path, parsed);
    return { status: res.status, body: parsed as T };
  }

  get<T>(path: string): Promise<ApiResponse<T>> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body: unknown, headers?: Record<string, string>): Promise<ApiResponse<T>> {
    return this.request<T>('POST', path, body, headers);
  }
}
