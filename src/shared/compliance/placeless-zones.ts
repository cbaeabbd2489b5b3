import { IANAZone } from 'luxon';
import { slashlessZone } from '../zone-names.js';

/**
 * Zones that keep no place's clock. A campaign's `complianceTimeZone` is the called party's local
 * clock, and calling hours (08:00–21:00) are applied in it; but no called party lives on a fixed
 * offset: every place has a tz database zone, daylight saving included (America/Bogota for UTC-05:00
 * all year, America/New_York for UTC-05:00 with daylight saving). A US campaign on `Etc/GMT+5` or
 * `EST` is dialed until 22:00 EDT in summer. The tz database's `Etc/` zones (`Etc/GMT+5`, `Etc/UTC`,
 * `Etc/Universal`, …), `UTC` and its aliases (`GMT`, `Zulu`, …), the standard-time abbreviations `EST`,
 * `MST` and `HST` (zone-names.ts), the withdrawn `SystemV/` zones (`SystemV/EST5`) and the
 * daylight-saving rules without a place (`CET`, `EST5EDT`) are such names. Refused where a zone is
 * written (a launch, `cxo validate`, a change that sets it); held by CXone (a console move, or a
 * launch before the rule) it is a breach the poll pauses and a resume is refused for. Never refused
 * where a stored config is read: campaigns and jobs accepted before keep loading.
 */

/** What a placeless zone is: a fixed offset (Etc/…, UTC, EST), a withdrawn System V rule, or a rule of no place (CET). */
export type PlacelessKind = 'fixed-offset' | 'system-v' | 'rule';

/**
 * The kind a lower-cased zone name says by itself; null for a name that may be a place's. By name,
 * not by what Intl resolves it to: since tzdata 2024b `EST` resolves to America/Panama and `CET` to
 * Europe/Brussels, but whoever writes `EST` means a standard time, not Panama's.
 */
function kindOfName(lower: string): PlacelessKind | null {
  if (lower.startsWith('systemv/')) return 'system-v';
  if (lower.startsWith('etc/')) return 'fixed-offset';
  const slashless = slashlessZone(lower);
  if (slashless?.kind === 'fixed-offset' || slashless?.kind === 'rule') return slashless.kind;
  return null;
}

/**
 * Whether a valid zone names no place, and what it is instead; undefined for a place's zone. By name,
 * case-insensitively (Intl accepts `etc/gmt+5`), and by what Intl resolves it to (an alias of UTC
 * or of an `Etc/` zone). Pure.
 */
export function placelessKind(zone: string): PlacelessKind | undefined {
  const lower = zone.toLowerCase();
  const named = kindOfName(lower);
  if (named !== null) return named;
  const known = resolvedKinds.get(lower);
  if (known !== undefined) return known ?? undefined;
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    return undefined; // not a zone at all: the schema's own refusal (never remembered)
  }
  const kind = kindOfName(resolved.toLowerCase());
  resolvedKinds.set(lower, kind);
  return kind ?? undefined;
}

/**
 * What Intl resolved each zone to, by its lower-case spelling (null: a place's zone). Every launch
 * checks its zone, and building an Intl.DateTimeFormat costs about as much as the rest of the launch's
 * validation; only zones Intl knows are kept, so the map is bounded by the tz database whatever
 * callers send (as isValidTimeZone's set is).
 */
const resolvedKinds = new Map<string, PlacelessKind | null>();

/**
 * Zones of places, one with each offset all year and one keeping daylight saving from it where there
 * is one: what a placeless zone's refusal offers instead, picked by offset (offsetsOf).
 */
const PLACE_ZONES = [
  'Pacific/Pago_Pago',
  'Pacific/Honolulu',
  'Pacific/Gambier',
  'America/Anchorage',
  'Pacific/Pitcairn',
  'America/Los_Angeles',
  'America/Phoenix',
  'America/Denver',
  'America/Mexico_City',
  'America/Chicago',
  'America/Bogota',
  'America/New_York',
  'America/Puerto_Rico',
  'America/Halifax',
  'America/Sao_Paulo',
  'America/Noronha',
  'Atlantic/Cape_Verde',
  'Atlantic/Azores',
  'Atlantic/Reykjavik',
  'Europe/London',
  'Africa/Lagos',
  'Europe/Berlin',
  'Africa/Johannesburg',
  'Europe/Athens',
  'Europe/Istanbul',
  'Asia/Dubai',
  'Asia/Karachi',
  'Asia/Dhaka',
  'Asia/Bangkok',
  'Asia/Singapore',
  'Asia/Tokyo',
  'Australia/Brisbane',
  'Australia/Sydney',
  'Pacific/Noumea',
  'Pacific/Tarawa',
  'Pacific/Auckland',
  'Pacific/Tongatapu',
  'Pacific/Kiritimati',
] as const;

/** What the refusal suggests when no place keeps the offset (Etc/GMT+12). */
const FALLBACK = ['America/New_York', 'Europe/London'];

/** `UTC-05:00` for -300. */
export function utcOffsetLabel(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `UTC${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/** The zone's offsets (minutes) in mid-January and mid-July of `atMs`'s year, standard one first. */
function offsetsOf(zone: string, atMs: number): [number, number] {
  const year = new Date(atMs).getUTCFullYear();
  const tz = IANAZone.create(zone);
  const jan = tz.offset(Date.UTC(year, 0, 15, 12));
  const jul = tz.offset(Date.UTC(year, 6, 15, 12));
  return jan <= jul ? [jan, jul] : [jul, jan];
}

/**
 * Zones of places to write instead of a placeless zone: one on its offset all year, then one on it
 * in standard time that keeps daylight saving, each with its offsets (`America/Bogota (UTC-05:00 all
 * year)`). Two well-known zones when no place keeps the offset.
 */
export function placeZonesFor(zone: string, atMs = Date.now()): string[] {
  const [offset] = offsetsOf(zone, atMs);
  const allYear = PLACE_ZONES.find((z) => {
    const [std, dst] = offsetsOf(z, atMs);
    return std === offset && dst === offset;
  });
  const withDst = PLACE_ZONES.find((z) => {
    const [std, dst] = offsetsOf(z, atMs);
    return std === offset && dst !== offset;
  });
  const described = [
    ...(allYear ? [`${allYear} (${utcOffsetLabel(offset)} all year)`] : []),
    ...(withDst
      ? [
          `${withDst} (${utcOffsetLabel(offset)}, ${utcOffsetLabel(offsetsOf(withDst, atMs)[1])} in daylight saving time)`,
        ]
      : []),
  ];
  return described.length > 0 ? described : FALLBACK;
}

/**
 * Why `zone` cannot be a campaign's complianceTimeZone, saying what to write instead; undefined for
 * a place's zone (or a name that is no zone: the schema refuses it). Pure but for the year of `atMs`
 * the suggestions' offsets are read in.
 */
export function placelessZoneProblem(zone: string, atMs = Date.now()): string | undefined {
  const kind = placelessKind(zone);
  if (kind === undefined) return undefined;
  if (kind === 'rule') {
    // Its own place's zone, not one picked by offset: America/New_York, not America/Bogota, for EST5EDT.
    const place = slashlessZone(zone)?.place ?? placeZonesFor(zone, atMs)[0];
    return (
      `${zone} is a daylight-saving rule, not a place: calling hours are the called party's local ` +
      `time; name the called party's zone, e.g. ${place} (the same clock)`
    );
  }
  const instead = `name the called party's zone, e.g. ${placeZonesFor(zone, atMs).join(' or ')}`;
  if (kind === 'system-v') {
    return (
      `${zone} is a withdrawn System V zone that names no place, and no called party's clock keeps ` +
      `it: calling hours are the called party's local time; ${instead}`
    );
  }
  const [offset] = offsetsOf(zone, atMs);
  return (
    `${zone} is a fixed offset (${utcOffsetLabel(offset)} all year, no daylight saving) that no ` +
    `called party's clock keeps: calling hours are the called party's local time; ${instead}`
  );
}
