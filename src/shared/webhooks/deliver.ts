import { signWebhook } from './sign.js';
import type { AttemptResult } from './outcome.js';

export const DEFAULT_DELIVERY_TIMEOUT_MS = 10_000;
const EXCERPT_BYTES = 1024;
const USER_AGENT = 'cxone-orchestrator-webhooks/1';

export interface DeliveryAttempt extends AttemptResult {
  /** Up to 1 KiB of the response body, for dead-letter records. */
  bodyExcerpt?: string;
  /** Why no response arrived (network error or timeout). */
  error?: string;
  durationMs: number;
}

/**
 * One signed POST of an event's stored bytes. Signed at send time (a fresh `webhook-timestamp` per
 * attempt, so receivers' replay windows accept retries) over exactly the bytes sent. Never throws:
 * network failures come back as a result without a status. The timeout covers the whole exchange,
 * so a slow receiver holds one worker slot for at most `timeoutMs`.
 */
export async function deliverOnce(input: {
  url: string;
  secret: string;
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
    const res = await fetch(input.url, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', 'user-agent': USER_AGENT },
      body: input.body,
      // A redirect is a misconfigured URL; following it would send signed events somewhere unvetted.
      redirect: 'manual',
      signal: AbortSignal.timeout(input.timeoutMs ?? DEFAULT_DELIVERY_TIMEOUT_MS),
    });
    const bodyExcerpt = await readExcerpt(res);
    return {
      status: res.status,
      retryAfter: res.headers.get('retry-after'),
      bodyExcerpt,
      durationMs: Date.now() - started,
    };
  } catch (err) {
    return { error: describeNetworkError(err), durationMs: Date.now() - started };
  }
}

async function readExcerpt(res: Response): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
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
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).subarray(0, EXCERPT_BYTES).toString('utf8');
}

/**
 * Why no response arrived, short and safe to store: this text lands in the event's `lastError`, the
 * dead letter, log lines and the hash-chained audit trail, so any URL credentials in it are masked.
 */
export function describeNetworkError(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'timeout';
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return redactUrlCredentials(cause?.code ?? cause?.message ?? err.message);
  }
  return redactUrlCredentials(String(err));
}

/** `scheme://user:pass@host` anywhere in a text, the user information replaced by `***`. */
export function redactUrlCredentials(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#]*@/gi, '$1***@');
}
