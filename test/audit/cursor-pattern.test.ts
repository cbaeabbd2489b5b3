import { describe, expect, it } from 'vitest';
import { decimalAtMostPattern } from '../../src/shared/audit/trail.js';

/** The value rule the pattern stands for: at most `max`'s digits, and no more than `max`. */
const atMost = (text: string, max: string) => text.length <= max.length && BigInt(text) <= BigInt(max);

describe('decimalAtMostPattern (pure)', () => {
  it('matches a decimal exactly when it has no more digits than max and is no larger', () => {
    for (const max of ['18446744073709551615', '9', '10', '100', '250', '1009', '7']) {
      const pattern = new RegExp(`^${decimalAtMostPattern(max)}$`);
      const m = BigInt(max);
      const candidates = new Set<string>([
        '0',
        max,
        (m + 1n).toString(),
        (m - 1n < 0n ? 0n : m - 1n).toString(),
      ]);
      // Every number that differs from max in one digit, and with leading zeros up to max's length.
      for (let i = 0; i < max.length; i++) {
        for (let d = 0; d <= 9; d++) candidates.add(`${max.slice(0, i)}${d}${max.slice(i + 1)}`);
      }
      for (const c of [...candidates]) {
        candidates.add(c.padStart(max.length, '0'));
        candidates.add(`0${c}`);
      }
      for (const c of candidates) expect(pattern.test(c), `${c} against ${max}`).toBe(atMost(c, max));
    }
  });
});
