import { describe, expect, it } from 'vitest';
import { ApiError, ApiUrlError, InterruptedError, NetworkError } from '../../src/cli/api-client.js';
import {
  delayText,
  isTransient,
  RETRY_AFTER_CAP_MS,
  RETRY_BACKOFF_CAP_MS,
  retryDelayMs,
} from '../../src/cli/retry.js';

const now = Date.parse('2026-11-30T08:00:00.000Z');
const answered = (status: number, retryAfter?: string) =>
  new ApiError(status, 'GET', '/v1/launches/L-1', { error: 'x' }, undefined, retryAfter);

describe("cxo's retry policy (pure): watch and the waits of launch and pause|resume|stop", () => {
  it('retries what may come right by waiting, and nothing else', () => {
    expect(isTransient(new NetworkError('http://a', { cause: new Error('ECONNRESET') }))).toBe(true);
    for (const status of [500, 502, 503, 504, 408, 429]) expect(isTransient(answered(status))).toBe(true);
    for (const status of [400, 401, 403, 404, 409, 422]) expect(isTransient(answered(status))).toBe(false);
    expect(isTransient(new ApiUrlError('http://a', 'GET', '/v1/x', '<html>', 200))).toBe(false);
    expect(isTransient(new InterruptedError('GET', '/v1/x'))).toBe(false);
    expect(isTransient(new Error('a bug'))).toBe(false);
    // The API's failed-authentication limit answers a wrong token 429: waiting does not cure the token.
    const throttled = new ApiError(
      429,
      'GET',
      '/v1/launches/L-1',
      { error: 'too_many_failed_auth' },
      'API_TOKEN',
      '30',
    );
    expect(isTransient(throttled)).toBe(false);
  });

  it('reads Retry-After as the rest of the product does: seconds (a fraction too) or an HTTP date', () => {
    const asked = (retryAfter: string) => retryDelayMs(answered(429, retryAfter), 1, 500, now);
    expect(asked('3')).toBe(3000);
    // Some gateways send a fraction; it is honoured (rounded up), not ignored.
    expect(asked('1.5')).toBe(1500);
    expect(asked('Mon, 30 Nov 2026 08:00:05 GMT')).toBe(5000);
    // A date already past or a header that is neither form: the backoff alone.
    for (const junk of ['Mon, 30 Nov 2026 07:00:00 GMT', '', '-1', 'soon', 'soon 5', '5 s'])
      expect(asked(junk)).toBe(500);
  });

  it('backs off from the period, doubling up to a cap, never sooner than Retry-After (itself capped)', () => {
    const err = answered(503);
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => retryDelayMs(err, n, 500, now))).toEqual([
      500,
      1000,
      2000,
      4000,
      8000,
      RETRY_BACKOFF_CAP_MS,
      RETRY_BACKOFF_CAP_MS,
    ]);
    // A watch at --interval 60 retries at its interval, not sooner.
    expect(retryDelayMs(err, 1, 60_000, now)).toBe(60_000);
    expect(retryDelayMs(err, 9, 60_000, now)).toBe(60_000);
    // Thousands of failures in a row do not overflow.
    expect(retryDelayMs(err, 5000, 10, now)).toBe(RETRY_BACKOFF_CAP_MS);
    expect(retryDelayMs(answered(429, '3'), 1, 500, now)).toBe(3000);
    expect(retryDelayMs(answered(429, '0'), 3, 500, now)).toBe(2000);
    expect(retryDelayMs(answered(503, '86400'), 1, 500, now)).toBe(RETRY_AFTER_CAP_MS);
  });

  it('says a delay as a person reads it', () => {
    expect(delayText(10)).toBe('10 ms');
    expect(delayText(1000)).toBe('1 s');
    expect(delayText(1500)).toBe('1.5 s');
    expect(delayText(30_000)).toBe('30 s');
  });
});
