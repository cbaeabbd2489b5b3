import { slashlessZone, slashlessZoneNames } from './zone-names.js';

/**
 * Zones already found valid, by their lower-case spelling. Building an Intl.DateTimeFormat is costly
 * and every campaign config is checked on each parse. Intl matches zone names without regard to case,
 * so one entry stands for every spelling of a zone: keyed by the name as written, the set grew by one
 * entry per casing a caller sent (`europe/london`, `EUROPE/London`, … — 2^n of them for a name of n
 * letters) for the life of the process. Keyed this way it is bounded by the tz database (a few
 * hundred names); invalid names, which callers choose freely, are never stored.
 */
const knownValid = new Set<string>();

/**
 * True when `zone` is a tz database zone this runtime knows (ICU data), e.g. America/New_York, or
 * one without a `/` (Japan, UTC, EST, CET: zone-names.ts); false for Mars/Olympus, and for ICU's
 * legacy abbreviations (`BST`, which Intl reads as Asia/Dhaka). Whether a campaign may use it is
 * another question (placeless-zones.ts: EST and UTC keep no place's clock).
 */
export function isValidTimeZone(zone: string): boolean {
  // Before the cache: a name without a slash is the tz database's only if zone-names.ts lists it.
  if (!zone.includes('/') && slashlessZone(zone) === undefined) return false;
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

/** The schema's refusal of a name that is no tz database zone. */
export const NOT_A_ZONE_MESSAGE = 'must be an IANA time zone such as America/New_York';

/**
 * Why `zone` is no tz database zone (isValidTimeZone false); undefined when it is one. A name Intl
 * takes all the same is one of ICU's legacy abbreviations, and the message says what Intl reads it as:
 * `BST` is Asia/Dhaka to it, not British Summer Time. Refusals only: the Intl call is not remembered.
 */
export function timeZoneNameProblem(zone: string): string | undefined {
  if (isValidTimeZone(zone)) return undefined;
  if (zone.includes('/')) return NOT_A_ZONE_MESSAGE;
  let read: string;
  try {
    read = new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    return NOT_A_ZONE_MESSAGE;
  }
  return (
    `${zone} is an abbreviation, not a tz database zone, and abbreviations are ambiguous (this ` +
    `runtime would read it as ${read}): name the called party's zone as Area/Location, e.g. ` +
    'America/New_York or Europe/London'
  );
}

let spellingByLowerCase: Map<string, string> | undefined;

/**
 * The tz database's spelling of a zone Intl matched case-insensitively (`america/new_york` →
 * `America/New_York`, `japan` → `Japan`), so the same zone is stored, sent to CXone and fingerprinted
 * one way. Only the case changes: a name is never swapped for another one (ICU would turn
 * `Asia/Kolkata` into `Asia/Calcutta`), and a name outside ICU's canonical list (links such as
 * `US/Eastern`) is kept as written.
 */
export function tzDatabaseSpelling(zone: string): string {
  spellingByLowerCase ??= new Map(
    [...Intl.supportedValuesOf('timeZone'), ...slashlessZoneNames()].map((name) => [
      name.toLowerCase(),
      name,
    ]),
  );
  return spellingByLowerCase.get(zone.toLowerCase()) ?? zone;
}

/**
 * The name a campaign keeps for `zone`: an old name of a country's zone without a `/` becomes that
 * zone (`Japan` → `Asia/Tokyo`, `GB` → `Europe/London`), so the config stored, sent to CXone, shown
 * in reports and the audit trail, and checked against a state's zones names the place one way; any
 * other name keeps its tz database spelling (tzDatabaseSpelling). `EST` and `CET` stay as written:
 * they are no place's (placeless-zones.ts refuses them where a zone is written). Pure.
 */
export function canonicalTimeZone(zone: string): string {
  const slashless = slashlessZone(zone);
  return slashless?.kind === 'place-link' && slashless.place ? slashless.place : tzDatabaseSpelling(zone);
}
