import { describe, expect, it } from 'vitest';
import { isValidTimeZone, knownValidTimeZoneCount, tzDatabaseSpelling } from '../../src/shared/time-zone.js';

/** The `n`th spelling of `name` whose letters are upper- or lower-case by the bits of `n`. */
function casing(name: string, n: number): string {
  let bit = 0;
  return [...name]
    .map((c) => {
      if (!/[a-z]/i.test(c)) return c;
      const upper = ((n >> bit++) & 1) === 1;
      return upper ? c.toUpperCase() : c.toLowerCase();
    })
    .join('');
}

describe('isValidTimeZone', () => {
  it('remembers one entry per zone however many spellings of it callers send', () => {
    const before = knownValidTimeZoneCount();
    const spellings = new Set(
      Array.from({ length: 3000 }, (_, n) => casing('America/Argentina/Buenos_Aires', n)),
    );
    expect(spellings.size).toBe(3000);
    for (const zone of spellings) expect(isValidTimeZone(zone)).toBe(true);
    // Keyed by the name as written, this grew by 3000 — for the life of the process, one entry per
    // casing a caller ever sent.
    expect(knownValidTimeZoneCount() - before).toBeLessThanOrEqual(1);
    expect(tzDatabaseSpelling(casing('America/New_York', 77))).toBe('America/New_York');
  });

  it('never stores invalid names, and answers as before around the cache', () => {
    const before = knownValidTimeZoneCount();
    for (let n = 0; n < 500; n++) expect(isValidTimeZone(`Mars/Olympus_${n}`)).toBe(false);
    expect(knownValidTimeZoneCount()).toBe(before);
    // A name without a slash is the tz database's only if zone-names.ts lists it, in any case;
    // ICU's legacy abbreviations are refused before the cache, whatever zone they stand for was seen.
    expect(isValidTimeZone('UTC')).toBe(true);
    expect(isValidTimeZone('utc')).toBe(true);
    expect(isValidTimeZone('EST5EDT')).toBe(true);
    expect(isValidTimeZone('Asia/Dhaka')).toBe(true);
    expect(isValidTimeZone('BST')).toBe(false);
    expect(isValidTimeZone('bst')).toBe(false);
    expect(isValidTimeZone('europe/london')).toBe(true);
    expect(isValidTimeZone('Europe/London')).toBe(true);
    expect(isValidTimeZone('Europe/Londres')).toBe(false);
  });
});
