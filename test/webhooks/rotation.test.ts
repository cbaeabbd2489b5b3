import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/shared/config.js';
import { signWebhook, verifyWebhook, type WebhookSignatureError } from '../../src/shared/webhooks/sign.js';
import { Receiver, SECRET, startHarness, waitFor, cleanupsAfterEach } from './harness.js';

/**
 * Rotating WEBHOOK_SECRET without losing events: while WEBHOOK_SECRET_PREVIOUS holds the old secret,
 * every attempt carries one signature per secret (Standard Webhooks' space-separated list), so a
 * receiver still on the old secret and one already on the new both verify it, and neither side has
 * to switch at the same instant as the other.
 */

const cleanups = cleanupsAfterEach();

const OLD = SECRET;
const NEW = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
const ID = 'evt_rotation';
const TS = 1_800_000_000;
const BODY = '{"n":1}';

function reason(fn: () => void): string {
  try {
    fn();
  } catch (err) {
    return (err as WebhookSignatureError).reason;
  }
  return 'accepted';
}

describe('webhook secret rotation', () => {
  it('signs with every secret given, newest first, each verifiable on its own', () => {
    const headers = signWebhook({ secret: [NEW, OLD], id: ID, timestampSeconds: TS, body: BODY });
    const single = (secret: string) =>
      signWebhook({ secret, id: ID, timestampSeconds: TS, body: BODY })['webhook-signature'];
    expect(headers['webhook-signature']).toBe(`${single(NEW)} ${single(OLD)}`);
    for (const secret of [NEW, OLD]) {
      expect(reason(() => verifyWebhook({ secret, headers, body: BODY, nowSeconds: TS }))).toBe('accepted');
    }
    const other = `whsec_${Buffer.alloc(32, 1).toString('base64')}`;
    expect(reason(() => verifyWebhook({ secret: other, headers, body: BODY, nowSeconds: TS }))).toBe(
      'no_match',
    );
  });

  it('lets a receiver rotating on its side accept either of its secrets', () => {
    const signedOld = signWebhook({ secret: OLD, id: ID, timestampSeconds: TS, body: BODY });
    const signedNew = signWebhook({ secret: NEW, id: ID, timestampSeconds: TS, body: BODY });
    for (const headers of [signedOld, signedNew]) {
      expect(reason(() => verifyWebhook({ secret: [NEW, OLD], headers, body: BODY, nowSeconds: TS }))).toBe(
        'accepted',
      );
    }
    expect(reason(() => verifyWebhook({ secret: [], headers: signedOld, body: BODY, nowSeconds: TS }))).toBe(
      'bad_secret',
    );
  });

  it('reads WEBHOOK_SECRET_PREVIOUS, checked like WEBHOOK_SECRET and named when wrong', () => {
    const base = { WEBHOOK_URL: 'https://receiver.example.test/in', WEBHOOK_SECRET: NEW };
    expect(loadConfig({ ...base, WEBHOOK_SECRET_PREVIOUS: OLD }).webhook).toEqual({
      url: base.WEBHOOK_URL,
      secret: NEW,
      previousSecret: OLD,
    });
    expect(loadConfig(base).webhook).toEqual({ url: base.WEBHOOK_URL, secret: NEW });
    // Empty counts as unset: compose passes `${WEBHOOK_SECRET_PREVIOUS:-}` once the rotation is over.
    expect(loadConfig({ ...base, WEBHOOK_SECRET_PREVIOUS: '' }).webhook).toEqual({
      url: base.WEBHOOK_URL,
      secret: NEW,
    });
    expect(() => loadConfig({ ...base, WEBHOOK_SECRET_PREVIOUS: 'whsec_short' })).toThrow(
      /WEBHOOK_SECRET_PREVIOUS: must look like whsec_/,
    );
    expect(() => loadConfig({ ...base, WEBHOOK_SECRET_PREVIOUS: OLD, WEBHOOK_SECRET: undefined })).toThrow(
      /WEBHOOK_SECRET/,
    );
  });

  it('delivers to a receiver still on the old secret after the sender moved to the new one', async () => {
    // The harness's receiver verifies with SECRET (the old one).
    const receiver = await new Receiver().start();
    const h = await startHarness(receiver.url, {}, { WEBHOOK_SECRET: NEW, WEBHOOK_SECRET_PREVIOUS: OLD });
    cleanups.push(
      () => receiver.stop(),
      () => h.close(),
    );
    const event = await h.events.publish('campaign.state.changed', 'camp-rotate', { to: 'paused' });
    await waitFor(() => receiver.received.length > 0, 10_000, 'the delivery');
    const got = receiver.received[0]!;
    expect(got.id).toBe(event.id);
    expect(got.signatureValid).toBe(true);
    const headers = {
      'webhook-id': got.id,
      'webhook-timestamp': got.timestamp,
      'webhook-signature': got.signature,
    };
    expect(() => verifyWebhook({ secret: NEW, headers, body: got.body })).not.toThrow();
    expect(got.signature.split(' ')).toHaveLength(2);
  });
});
