import { describe, expect, it } from 'vitest';
import { parseRetryAfter } from '../../src/shared/retry-after.js';

const NOW = Date.parse('2026-11-28T10:00:00Z');

describe('parseRetryAfter', () => {
  it('reads delta-seconds as milliseconds', () => {
    expect(parseRetryAfter('120', NOW)).toBe(120_000);
    expect(parseRetryAfter(' 3 ', NOW)).toBe(3_000);
    expect(parseRetryAfter('0', NOW)).toBe(0);
  });

  it('tolerates fractional seconds and rounds up to whole milliseconds', () => {
    expect(parseRetryAfter('1.5', NOW)).toBe(1_500);
    expect(parseRetryAfter('0.0004', NOW)).toBe(1);
  });

  it('reads an HTTP-date relative to the clock', () => {
    expect(parseRetryAfter('Sat, 28 Nov 2026 10:00:30 GMT', NOW)).toBe(30_000);
  });

  it('treats a date in the past as "now"', () => {
    expect(parseRetryAfter('Sat, 28 Nov 2026 09:59:00 GMT', NOW)).toBe(0);
  });

  it('takes the first value of a repeated header and accepts numbers', () => {
    expect(parseRetryAfter(['7', '9'], NOW)).toBe(7_000);
    expect(parseRetryAfter(2, NOW)).toBe(2_000);
  });

  it('reads the obsolete rfc850 and asctime dates, asctime as GMT whatever the host zone', () => {
    expect(parseRetryAfter('Saturday, 28-Nov-26 10:00:30 GMT', NOW)).toBe(30_000);
    expect(parseRetryAfter('Sat Nov 28 10:00:30 2026', NOW)).toBe(30_000);
  });

  it('takes text Date.parse would read as some past date for unusable, not for "retry now"', () => {
    for (const garbled of ['soon 5', 'a 1', 'Mon, 99', '2026-11-28T10:00:30Z', 'tomorrow 10:00 GMT']) {
      expect(parseRetryAfter(garbled, NOW)).toBeUndefined();
    }
  });

  it('returns undefined for anything unusable instead of guessing', () => {
    for (const bad of [undefined, null, '', '   ', 'soon', '-5', '1e3', 'NaN', [], Number.NaN, -1]) {
      expect(parseRetryAfter(bad as never, NOW)).toBeUndefined();
    }
  });
});
