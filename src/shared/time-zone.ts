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
