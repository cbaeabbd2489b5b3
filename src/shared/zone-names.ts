/**
 * The tz database's zone names without a `/`, sorted by what they are. DATA, not code: from the tz
 * database's `backward` file and its rule zones (2025b; the rule zones and EST, MST, HST became links
 * in 2024b), by the names' lower-case spelling (Intl matches zone names without regard to case).
 * Intl also takes other names without a `/` (ICU's legacy IDs: `BST` is Asia/Dhaka to it, `AST`
 * America/Anchorage, `IST` Asia/Kolkata): they are no tz database names, and none of them is here.
 */

/**
 * Old names of a country's or a place's zone, and that zone: the tz database's link target, except
 * `Iceland`, which it links to Africa/Abidjan (same clock, zones merged in 2022b), kept on Iceland's
 * own zone as ICU and zone.tab have it. A campaign written on one is stored on the place's zone.
 */
const PLACE_LINKS: Readonly<Record<string, string>> = {
  Cuba: 'America/Havana',
  Egypt: 'Africa/Cairo',
  Eire: 'Europe/Dublin',
  GB: 'Europe/London',
  'GB-Eire': 'Europe/London',
  Hongkong: 'Asia/Hong_Kong',
  Iceland: 'Atlantic/Reykjavik',
  Iran: 'Asia/Tehran',
  Israel: 'Asia/Jerusalem',
  Jamaica: 'America/Jamaica',
  Japan: 'Asia/Tokyo',
  Kwajalein: 'Pacific/Kwajalein',
  Libya: 'Africa/Tripoli',
  NZ: 'Pacific/Auckland',
  'NZ-CHAT': 'Pacific/Chatham',
  Navajo: 'America/Denver',
  PRC: 'Asia/Shanghai',
  Poland: 'Europe/Warsaw',
  Portugal: 'Europe/Lisbon',
  ROC: 'Asia/Taipei',
  ROK: 'Asia/Seoul',
  Singapore: 'Asia/Singapore',
  Turkey: 'Europe/Istanbul',
  'W-SU': 'Europe/Moscow',
};

/**
 * Fixed offsets: UTC and its aliases, and the US standard-time abbreviations, which the tz database
 * kept as zones on one offset all year (since 2024b links to America/Panama, America/Phoenix and
 * Pacific/Honolulu). Someone writing `EST` for New York would dial until 22:00 EDT all summer.
 */
const FIXED_OFFSET_NAMES = [
  'UTC',
  'UCT',
  'Universal',
  'Zulu',
  'GMT',
  'GMT0',
  'GMT+0',
  'GMT-0',
  'Greenwich',
  'EST',
  'MST',
  'HST',
] as const;

/**
 * Daylight-saving rules that name no place (`EST5EDT`: UTC-05:00 with US daylight saving), each with
 * the place's zone the tz database has linked it to since 2024b, which keeps the same clock.
 */
const RULE_ZONES: Readonly<Record<string, string>> = {
  CET: 'Europe/Brussels',
  MET: 'Europe/Brussels',
  EET: 'Europe/Athens',
  WET: 'Europe/Lisbon',
  EST5EDT: 'America/New_York',
  CST6CDT: 'America/Chicago',
  MST7MDT: 'America/Denver',
  PST8PDT: 'America/Los_Angeles',
};

/** What a tz database name without a `/` is. */
export type SlashlessKind = 'place-link' | 'fixed-offset' | 'rule';

export interface SlashlessZone {
  /** The name as the tz database spells it (`Japan` for `JAPAN`). */
  name: string;
  kind: SlashlessKind;
  /** The place's zone: the one a place link stands for, or the one keeping a rule's clock. */
  place?: string;
}

const byLowerCase = new Map<string, SlashlessZone>([
  ...Object.entries(PLACE_LINKS).map(
    ([name, place]) => [name.toLowerCase(), { name, kind: 'place-link', place }] as const,
  ),
  ...FIXED_OFFSET_NAMES.map((name) => [name.toLowerCase(), { name, kind: 'fixed-offset' }] as const),
  ...Object.entries(RULE_ZONES).map(
    ([name, place]) => [name.toLowerCase(), { name, kind: 'rule', place }] as const,
  ),
]);

/** The tz database's name without a `/` that `zone` spells (in any case); undefined for any other name. Pure. */
export function slashlessZone(zone: string): SlashlessZone | undefined {
  return byLowerCase.get(zone.toLowerCase());
}

/** Every tz database name without a `/` (for spelling look-ups and tests). */
export function slashlessZoneNames(): string[] {
  return [...byLowerCase.values()].map((z) => z.name);
}
