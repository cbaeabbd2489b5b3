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

export function signWebhook(input: {
  secret: string;
  id: string;
  timestampSeconds: number;
  body: string | Buffer;
}): SignedHeaders {
  return {
    'webhook-id': input.id,
    'webhook-timestamp': String(input.timestampSeconds),
    'webhook-signature': `v1,${computeSignature(input.secret, input.id, input.timestampSeconds, input.body)}`,
  };
}

/**
 * What a receiver does: check the timestamp is recent and that one of the space-separated `v1,`
 * signatures matches (several appear while a secret is being rotated). Throws WebhookSignatureError.
 */
export function verifyWebhook(input: {
  secret: string;
  headers: Record<string, string | string[] | undefined>;
  body: string | Buffer;
  nowSeconds?: number;
  toleranceSeconds?: number;
}): void {
  const header = (name: string): string | undefined => {
    const v = input.headers[name];
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
  const expected = Buffer.from(computeSignature(input.secret, id, timestamp, input.body), 'base64');
  for (const candidate of signatures.split(' ')) {
    const [version, sig] = candidate.split(',', 2);
    if (version !== 'v1' || !sig) continue;
    const given = Buffer.from(sig, 'base64');
    if (given.length === expected.length && timingSafeEqual(given, expected)) return;
  }
  throw new WebhookSignatureError('no webhook signature matches', 'no_match');
}
