/**
 * Zones already found valid. Building an Intl.DateTimeFormat is costly and every campaign config is
 * checked on each parse; the set is bounded by the tz database (a few hundred names), and invalid
 * names, which callers choose freely, are never stored.
 */
const knownValid = new Set<string>();

/** True when `zone` is an IANA zone this runtime knows (ICU data), e.g. America/New_York; false for Mars/Olympus. */
export function isValidTimeZone(zone: string): boolean {
  if (knownValid.has(zone)) return true;
  if (!zone.includes('/') && zone !== 'UTC') return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    knownValid.add(zone);
    return true;
  } catch {
    return false;
  }
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
