import { describe, expect, it } from 'vitest';
import { signWebhook, verifyWebhook, WebhookSignatureError } from '../../src/shared/webhooks/sign.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
const TS = 1614265330;
const BODY = '{"test": 2432232314}';
const SIG = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';

const reasonOf = (fn: () => void) => {
  try {
    fn();
    return 'ok';
  } catch (err) {
    return err instanceof WebhookSignatureError ? err.reason : String(err);
  }
};
const headers = (over: Record<string, string> = {}) => ({
  'webhook-id': ID,
  'webhook-timestamp': String(TS),
  'webhook-signature': SIG,
  ...over,
});

describe('QA: verifyWebhook edges', () => {
  it('the reference vector verifies, signed the same', () => {
    expect(
      signWebhook({ secret: SECRET, id: ID, timestampSeconds: TS, body: BODY })['webhook-signature'],
    ).toBe(SIG);
    expect(
      reasonOf(() => verifyWebhook({ secret: SECRET, headers: headers(), body: BODY, nowSeconds: TS })),
    ).toBe('ok');
  });
  it('the tolerance is inclusive at 300 s either way and refuses 301 s', () => {
    for (const now of [TS - 300, TS + 300]) {
      expect(
        reasonOf(() => verifyWebhook({ secret: SECRET, headers: headers(), body: BODY, nowSeconds: now })),
      ).toBe('ok');
    }
    for (const now of [TS - 301, TS + 301]) {
      expect(
        reasonOf(() => verifyWebhook({ secret: SECRET, headers: headers(), body: BODY, nowSeconds: now })),
      ).toBe('timestamp_out_of_tolerance');
    }
  });
  it('one tampered byte, another id or another secret does not verify', () => {
    expect(
      reasonOf(() => verifyWebhook({ secret: SECRET, headers: headers(), body: BODY + ' ', nowSeconds: TS })),
    ).toBe('no_match');
    expect(
      reasonOf(() =>
        verifyWebhook({
          secret: SECRET,
          headers: headers({ 'webhook-id': `${ID}x` }),
          body: BODY,
          nowSeconds: TS,
        }),
      ),
    ).toBe('no_match');
    expect(
      reasonOf(() =>
        verifyWebhook({
          secret: 'whsec_' + Buffer.alloc(24, 1).toString('base64'),
          headers: headers(),
          body: BODY,
          nowSeconds: TS,
        }),
      ),
    ).toBe('no_match');
  });
  it('a v2 or unversioned entry is ignored; a valid v1 among them verifies', () => {
    const sig = SIG.slice(3);
    expect(
      reasonOf(() =>
        verifyWebhook({
          secret: SECRET,
          headers: headers({ 'webhook-signature': `v2,${sig} ${sig}` }),
          body: BODY,
          nowSeconds: TS,
        }),
      ),
    ).toBe('no_match');
    expect(
      reasonOf(() =>
        verifyWebhook({
          secret: SECRET,
          headers: headers({ 'webhook-signature': `v1a,${sig} ${SIG}` }),
          body: BODY,
          nowSeconds: TS,
        }),
      ),
    ).toBe('ok');
  });
  it('a non-digit timestamp is refused as malformed', () => {
    for (const ts of ['1614265330.5', '-1614265330', '1e9', ' 1614265330', '']) {
      expect(
        reasonOf(() =>
          verifyWebhook({
            secret: SECRET,
            headers: headers({ 'webhook-timestamp': ts }),
            body: BODY,
            nowSeconds: TS,
          }),
        ),
      ).toMatch(/bad_timestamp|missing_headers/);
    }
  });
});
