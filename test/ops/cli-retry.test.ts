import { describe, expect, it } from 'vitest';
import { ApiError, ApiUrlError, InterruptedError, NetworkError } from '../../src/cli/api-client.js';
import {
  delayText,
  isTransient,
  RETRY_AFTER_CAP_MS,
  RETRY_BACKOFF_CAP_MS,
  retryAfterMs,
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
  });

  it('reads Retry-After as seconds or as an HTTP date, and ignores what is neither', () => {
    expect(retryAfterMs('3', now)).toBe(3000);
    expect(retryAfterMs(' 0 ', now)).toBe(0);
    expect(retryAfterMs('Mon, 30 Nov 2026 08:00:05 GMT', now)).toBe(5000);
    // A date already past: try now, not a negative wait.
    expect(retryAfterMs('Mon, 30 Nov 2026 07:00:00 GMT', now)).toBe(0);
    for (const junk of [null, undefined, '', '1.5', '-1', 'soon'])
      expect(retryAfterMs(junk, now)).toBeUndefined();
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
