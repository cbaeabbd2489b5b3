import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): HMAC-SHA256 over
 * `${id}.${timestamp}.${body}` keyed with the base64-decoded part of a `whsec_…` secret, sent as
 * `webhook-signature: v1,<base64>`. Pure functions; the worker signs the exact bytes it sends.
 */

const SECRET_PREFIX = 'whsec_';
/** Receivers should reject timestamps further than this from their clock (replay protection). */
export const DEFAULT_TOLERANCE_SECONDS = 5 * 60;

export class WebhookSignatureError extends Error {
  constructor(
    message: string,
    readonly reason:
      'bad_secret' | 'missing_headers' | 'bad_timestamp' | 'timestamp_out_of_tolerance' | 'no_match',
  ) {
    super(message);
    this.name = 'WebhookSignatureError';
  }
}

export function decodeSecret(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  const key = Buffer.from(encoded, 'base64');
  if (key.length === 0)
    throw new WebhookSignatureError('webhook secret decodes to an empty key', 'bad_secret');
  return key;
}

/** The bare base64 signature (without the `v1,` prefix). */
export function computeSignature(
  secret: string,
  id: string,
  timestampSeconds: number,
  body: string | Buffer,
): string {
  return createHmac('sha256', decodeSecret(secret))
    .update(`${id}.${timestampSeconds}.`)
    .update(body)
    .digest('base64');
}

export type SignedHeaders = {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
};

/**
 * One secret, or several while one is being rotated: the newest first, then the one it replaces.
 * Each gets its own `v1,` signature, so a receiver holding either secret verifies the message.
 */
export type WebhookSecrets = string | readonly string[];

function secretList(secret: WebhookSecrets): readonly string[] {
  return typeof secret === 'string' ? [secret] : secret;
}

export function signWebhook(input: {
  secret: WebhookSecrets;
  id: string;
  timestampSeconds: number;
  body: string | Buffer;
}): SignedHeaders {
  const secrets = secretList(input.secret);
  if (secrets.length === 0) throw new WebhookSignatureError('no webhook secret to sign with', 'bad_secret');
  return {
    'webhook-id': input.id,
    'webhook-timestamp': String(input.timestampSeconds),
    'webhook-signature': secrets
      .map((secret) => `v1,${computeSignature(secret, input.id, input.timestampSeconds, input.body)}`)
      .join(' '),
  };
}

/**
 * What a receiver does: check the timestamp is recent and that one of the space-separated `v1,`
 * signatures matches one of its secrets. Several signatures appear while the sender rotates its
 * secret; several secrets, while the receiver does. Throws WebhookSignatureError.
 */
export function verifyWebhook(input: {
  secret: WebhookSecrets;
  headers: Record<string, string | string[] | undefined>;
  body: string | Buffer;
  nowSeconds?: number;
  toleranceSeconds?: number;
}): void {
  const secrets = secretList(input.secret);
  if (secrets.length === 0) throw new WebhookSignatureError('no webhook secret to verify with', 'bad_secret');
  // Header names are case-insensitive (RFC 9110): Node lowercases them, but a receiver behind a
  // proxy that re-cases them (Go's canonical `Webhook-Id`) or on a platform that passes them as sent
  // must not be refused as missing_headers. The Standard Webhooks libraries lowercase them too.
  const header = (name: string): string | undefined => {
    const key =
      name in input.headers ? name : Object.keys(input.headers).find((k) => k.toLowerCase() === name);
    const v = key === undefined ? undefined : input.headers[key];
    return Array.isArray(v) ? v[0] : v;
  };
  const id = header('webhook-id');
  const ts = header('webhook-timestamp');
  const signatures = header('webhook-signature');
  if (!id || !ts || !signatures) {
    throw new WebhookSignatureError(
      'missing webhook-id, webhook-timestamp or webhook-signature',
      'missing_headers',
    );
  }
  if (!/^\d+$/.test(ts))
    throw new WebhookSignatureError('webhook-timestamp is not unix seconds', 'bad_timestamp');
  const timestamp = Number(ts);
  const now = input.nowSeconds ?? Math.floor(Date.now() / 1000);
  const tolerance = input.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (Math.abs(now - timestamp) > tolerance) {
    throw new WebhookSignatureError(
      'webhook-timestamp is outside the tolerance',
      'timestamp_out_of_tolerance',
    );
  }
  const expected = secrets.map((secret) =>
    Buffer.from(computeSignature(secret, id, timestamp, input.body), 'base64'),
  );
  for (const candidate of signatures.split(' ')) {
    const [version, sig] = candidate.split(',', 2);
    if (version !== 'v1' || !sig) continue;
    const given = Buffer.from(sig, 'base64');
    if (expected.some((want) => given.length === want.length && timingSafeEqual(given, want))) return;
  }
  throw new WebhookSignatureError('no webhook signature matches', 'no_match');
}
