/** True when `zone` is an IANA zone this runtime knows (ICU data), e.g. America/New_York; false for Mars/Olympus. */
export function isValidTimeZone(zone: string): boolean {
  if (!zone.includes('/') && zone !== 'UTC') return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
