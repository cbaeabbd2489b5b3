import type { Readable } from 'node:stream';
import { TLSSocket } from 'node:tls';
import axios from 'axios';
import { getProxyForUrl } from 'proxy-from-env';
import { environmentNamesProxy } from '../cxone/http.js';
import { signWebhook, type WebhookSecrets } from './sign.js';
import type { AttemptResult } from './outcome.js';
import { hideDestinationIn, labelUrlsIn } from './shown-destination.js';

export const DEFAULT_DELIVERY_TIMEOUT_MS = 10_000;
const EXCERPT_BYTES = 1024;
/**
 * How long the response body is read for its excerpt once the status is in. The status alone decides
 * the outcome, so a receiver trickling its body must not hold the delivery slot until the timeout.
 */
export const EXCERPT_WAIT_MS = 1_000;
const USER_AGENT = 'cxone-orchestrator-webhooks/1';

export interface DeliveryAttempt extends AttemptResult {
  /**
   * Up to 1 KiB of the response body, for dead-letter records, with the destination's path and query
   * hidden (hideDestinationIn): receivers often quote the URL they refuse.
   */
  bodyExcerpt?: string;
  /** Why no response arrived (network error or timeout). */
  error?: string;
  durationMs: number;
}

/**
 * One signed POST of an event's stored bytes. Signed at send time (a fresh `webhook-timestamp` per
 * attempt, so receivers' replay windows accept retries) over exactly the bytes sent. Never throws:
 * network failures come back as a result without a status. The timeout covers the whole exchange,
 * so a slow receiver holds one worker slot for at most `timeoutMs`; once the status is in, the body
 * is read for at most EXCERPT_WAIT_MS more.
 */
export async function deliverOnce(input: {
  url: string;
  /** Two while a rotation is under way (newest first): each gets its own signature. */
  secret: WebhookSecrets;
  eventId: string;
  body: string;
  nowMs: number;
  timeoutMs?: number;
}): Promise<DeliveryAttempt> {
  const started = Date.now();
  try {
    // Inside the try: a secret that cannot sign (config validation should have refused it) is a failed
    // attempt like any other, never an exception the worker did not expect.
    const headers = signWebhook({
      secret: input.secret,
      id: input.eventId,
      timestampSeconds: Math.floor(input.nowMs / 1000),
      body: input.body,
    });
    const timeoutMs = input.timeoutMs ?? DEFAULT_DELIVERY_TIMEOUT_MS;
    const request = {
      url: input.url,
      headers: { ...headers, 'content-type': 'application/json', 'user-agent': USER_AGENT },
      body: input.body,
      signal: AbortSignal.timeout(timeoutMs),
      deadline: started + timeoutMs,
    };
    const answer = proxyFor(input.url) ? await postViaProxy(request) : await postDirect(request);
    return { ...answer, durationMs: Date.now() - started };
  } catch (err) {
    return { error: describeNetworkError(err), durationMs: Date.now() - started };
  }
}

interface Post {
  url: string;
  headers: Record<string, string>;
  body: string;
  signal: AbortSignal;
  /** When `signal` fires (Date.now() clock), so the excerpt's wait never outlasts the attempt's. */
  deadline: number;
}

/**
 * The body is still read, briefly: a short answer read to its end leaves the connection reusable for
 * the next delivery, where one cut off mid-body costs a new connection (and TLS handshake).
 */
function excerptWaitMs(req: Post): number {
  return Math.min(EXCERPT_WAIT_MS, Math.max(0, req.deadline - Date.now()));
}

type Answer = Pick<DeliveryAttempt, 'status' | 'retryAfter' | 'bodyExcerpt'>;

/**
 * The proxy a delivery to `url` goes through: the one the CXone client would use, from
 * HTTPS_PROXY / HTTP_PROXY / ALL_PROXY and NO_PROXY (src/shared/cxone/http.ts), or '' for none.
 */
export function proxyFor(url: string): string {
  return environmentNamesProxy() ? getProxyForUrl(url) : '';
}

async function postDirect(req: Post): Promise<Answer> {
  const res = await fetch(req.url, {
    method: 'POST',
    headers: req.headers,
    body: req.body,
    // A redirect is a misconfigured URL; following it would send signed events somewhere unvetted.
    redirect: 'manual',
    signal: req.signal,
  });
  return {
    status: res.status,
    retryAfter: res.headers.get('retry-after'),
    bodyExcerpt: excerptOf(await readExcerpt(res, excerptWaitMs(req)), req.url),
  };
}

/** An axios instance on its own `http` adapter, which resolves the proxy per request as CXone calls do. */
const proxied = axios.create({
  adapter: 'http',
  maxRedirects: 0,
  validateStatus: () => true,
  responseType: 'stream',
  decompress: true,
});

/**
 * Behind an egress proxy, through axios's HTTP adapter: the same proxy resolution (NO_PROXY included)
 * and the same CONNECT tunnel for https:// receivers as the CXone client's calls. Node's fetch reads
 * no proxy variables.
 */
async function postViaProxy(req: Post): Promise<Answer> {
  const res = await proxied.request<Readable>({
    url: req.url,
    method: 'POST',
    headers: req.headers,
    data: req.body,
    signal: req.signal,
  });
  const refusal = proxyRefusal(req.url, res.status, res.request as { socket?: unknown } | undefined);
  if (refusal) {
    res.data.destroy();
    throw new ProxyRefusedError(refusal);
  }
  const retryAfter: unknown = res.headers['retry-after'];
  return {
    status: res.status,
    retryAfter: typeof retryAfter === 'string' ? retryAfter : null,
    bodyExcerpt: excerptOf(await readStreamExcerpt(res.data, excerptWaitMs(req)), req.url),
  };
}

/** The proxy, not the receiver, answered: a network error (retried), never the receiver's verdict. */
export class ProxyRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProxyRefusedError';
  }
}

/**
 * Whether the answer is the proxy's own refusal rather than the receiver's reply. For an `https://`
 * receiver the tunnel's CONNECT failed when the answer came over a plain socket: the agent hands the
 * proxy's reply (407, 403, 502...) to the request as if it were the receiver's, but the receiver only
 * ever answers through TLS. For an `http://` receiver the proxy forwards the request, so only a 407
 * (proxy authentication required) is surely the proxy's. Returns the error text, or '' for the receiver's.
 */
function proxyRefusal(url: string, status: number, request: { socket?: unknown } | undefined): string {
  if (new URL(url).protocol === 'https:') {
    const socket = request?.socket;
    if (socket && !(socket instanceof TLSSocket)) return `proxy refused CONNECT: ${status}`;
    return '';
  }
  return status === 407 ? `proxy refused request: ${status}` : '';
}

/**
 * The stored excerpt of what was read of a body: the destination hidden in all of it first, so that a
 * URL or token cut by the 1 KiB limit is still recognised whole, then cut to EXCERPT_BYTES.
 */
function excerptOf(read: Buffer, url: string): string {
  return Buffer.from(hideDestinationIn(read.toString('utf8'), url))
    .subarray(0, EXCERPT_BYTES)
    .toString('utf8');
}

/** The body's first EXCERPT_BYTES or more (whole chunks), as read within `waitMs`. */
async function readStreamExcerpt(stream: Readable, waitMs: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  // Ends the loop below early (premature close), keeping the chunks already read.
  const timer = setTimeout(() => stream.destroy(), waitMs);
  try {
    for await (const chunk of stream) {
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
      chunks.push(buf);
      size += buf.byteLength;
      if (size >= EXCERPT_BYTES) break;
    }
  } catch {
    // As with fetch: a body cut short still leaves the status.
  } finally {
    clearTimeout(timer);
    stream.destroy();
  }
  return Buffer.concat(chunks);
}

/** As readStreamExcerpt, for a fetch response. */
async function readExcerpt(res: Response, waitMs: number): Promise<Buffer> {
  if (!res.body) return Buffer.alloc(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  // A read pending when the reader is cancelled resolves as done, keeping the chunks already read.
  const timer = setTimeout(() => void reader.cancel().catch(() => undefined), waitMs);
  try {
    while (size < EXCERPT_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // A body cut short still leaves the status, which is what decides the outcome.
  } finally {
    clearTimeout(timer);
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks);
}

/**
 * Why no response arrived, short and safe to store: this text lands in the event's `lastError`, the
 * dead letter, log lines, the API's answers and the hash-chained audit trail, so any URL it quotes is
 * shown as its label only (labelUrlsIn): no credentials, path or query, where receivers keep tokens.
 */
export function describeNetworkError(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError' || err.name === 'AbortError' || err.name === 'CanceledError') {
      return 'timeout';
    }
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    // fetch puts the system error in `cause`; axios (the proxy path) on the error itself.
    const code = (err as { code?: unknown }).code;
    return labelUrlsIn(
      cause?.code ??
        (typeof code === 'string' && code.startsWith('E') ? code : undefined) ??
        cause?.message ??
        err.message,
    );
  }
  return labelUrlsIn(String(err));
}
