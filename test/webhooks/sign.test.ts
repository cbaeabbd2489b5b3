import { describe, expect, it } from 'vitest';
import type { WebhookSignatureError } from '../../src/shared/webhooks/sign.js';
import { computeSignature, signWebhook, verifyWebhook } from '../../src/shared/webhooks/sign.js';

// The Standard Webhooks reference test vector (see /work/shared/reference/README.md).
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
const TS = 1614265330;
const PAYLOAD = '{"test": 2432232314}';
const EXPECTED = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';

describe('Standard Webhooks signing', () => {
  it('equals the reference test vector exactly', () => {
    const headers = signWebhook({ secret: SECRET, id: ID, timestampSeconds: TS, body: PAYLOAD });
    expect(headers).toEqual({
      'webhook-id': ID,
      'webhook-timestamp': String(TS),
      'webhook-signature': EXPECTED,
    });
    expect(computeSignature(SECRET, ID, TS, Buffer.from(PAYLOAD))).toBe(EXPECTED.slice(3));
  });

  it('verifies its own signature and any of several rotated signatures', () => {
    const headers = signWebhook({ secret: SECRET, id: ID, timestampSeconds: TS, body: PAYLOAD });
    expect(() =>
      verifyWebhook({ secret: SECRET, headers, body: PAYLOAD, nowSeconds: TS + 10 }),
    ).not.toThrow();
    const rotated = { ...headers, 'webhook-signature': `v1,AAAA ${headers['webhook-signature']}` };
    expect(() =>
      verifyWebhook({ secret: SECRET, headers: rotated, body: PAYLOAD, nowSeconds: TS }),
    ).not.toThrow();
  });

  it('reads the headers whatever their case, as HTTP header names are case-insensitive', () => {
    const headers = signWebhook({ secret: SECRET, id: ID, timestampSeconds: TS, body: PAYLOAD });
    const recased = {
      'Webhook-Id': headers['webhook-id'],
      'Webhook-Timestamp': headers['webhook-timestamp'],
      'WEBHOOK-SIGNATURE': headers['webhook-signature'],
    };
    expect(() =>
      verifyWebhook({ secret: SECRET, headers: recased, body: PAYLOAD, nowSeconds: TS }),
    ).not.toThrow();
    const tampered = { ...recased, 'Webhook-Id': 'msg_other' };
    expect(() => verifyWebhook({ secret: SECRET, headers: tampered, body: PAYLOAD, nowSeconds: TS })).toThrow(
      'no webhook signature matches',
    );
  });

  it('rejects a changed body, a wrong secret, a stale timestamp and missing headers', () => {
    const headers = signWebhook({ secret: SECRET, id: ID, timestampSeconds: TS, body: PAYLOAD });
    const reason = (fn: () => void) => {
      try {
        fn();
      } catch (err) {
        return (err as WebhookSignatureError).reason;
      }
      return 'accepted';
    };
    expect(
      reason(() => verifyWebhook({ secret: SECRET, headers, body: '{"test": 2432232315}', nowSeconds: TS })),
    ).toBe('no_match');
    expect(
      reason(() =>
        verifyWebhook({ secret: 'whsec_c2VjcmV0LWtleS0xMjM0NTY=', headers, body: PAYLOAD, nowSeconds: TS }),
      ),
    ).toBe('no_match');
    expect(
      reason(() => verifyWebhook({ secret: SECRET, headers, body: PAYLOAD, nowSeconds: TS + 3600 })),
    ).toBe('timestamp_out_of_tolerance');
    expect(reason(() => verifyWebhook({ secret: SECRET, headers: {}, body: PAYLOAD, nowSeconds: TS }))).toBe(
      'missing_headers',
    );
  });
});
