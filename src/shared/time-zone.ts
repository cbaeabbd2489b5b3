/**
 * Zones already found valid, by their lower-case spelling. Building an Intl.DateTimeFormat is costly
 * and every campaign config is checked on each parse. Intl matches zone names without regard to case,
 * so one entry stands for every spelling of a zone: keyed by the name as written, the set grew by one
 * entry per casing a caller sent (`europe/london`, `EUROPE/London`, … — 2^n of them for a name of n
 * letters) for the life of the process. Keyed this way it is bounded by the tz database (a few
 * hundred names); invalid names, which callers choose freely, are never stored.
 */
const knownValid = new Set<string>();

/** True when `zone` is an IANA zone this runtime knows (ICU data), e.g. America/New_York; false for Mars/Olympus. */
export function isValidTimeZone(zone: string): boolean {
  // Before the cache: `utc` and other names without a slash stay refused whatever was seen before.
  if (!zone.includes('/') && zone !== 'UTC') return false;
  const key = zone.toLowerCase();
  if (knownValid.has(key)) return true;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    knownValid.add(key);
    return true;
  } catch {
    return false;
  }
}

/** How many zones isValidTimeZone remembers as valid (a diagnostic; tests check it stays bounded). */
export function knownValidTimeZoneCount(): number {
  return knownValid.size;
}

let spellingByLowerCase: Map<string, string> | undefined;

/**
 * The tz database's spelling of a zone Intl matched case-insensitively (`america/new_york` →
 * `America/New_York`), so the same zone is stored, sent to CXone and fingerprinted one way. Only the
 * case changes: a name is never swapped for another one (ICU would turn `Asia/Kolkata` into
 * `Asia/Calcutta`), and a name outside ICU's canonical list (links such as `US/Eastern`) is kept
 * as written.
 */
export function tzDatabaseSpelling(zone: string): string {
  spellingByLowerCase ??= new Map(
    [...Intl.supportedValuesOf('timeZone'), 'UTC'].map((name) => [name.toLowerCase(), name]),
  );
  return spellingByLowerCase.get(zone.toLowerCase()) ?? zone;
}
