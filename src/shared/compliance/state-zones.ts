import { IANAZone } from 'luxon';

/**
 * The time zones each US state, district and territory keeps, as IANA zones. DATA, not code: from the
 * tz database's zone1970.tab / zone.tab for US, PR, VI, GU, MP and AS, plus the states whose parts
 * keep another zone's clock (the Florida panhandle and most of Indiana's border counties on Central
 * time, western Kansas, Nebraska, the Dakotas and Texas's El Paso on Mountain time, northern Idaho
 * and Malheur County, Oregon, on Pacific and Mountain time, West Wendover, Nevada, on Mountain time,
 * the Navajo Nation in Arizona on Mountain time with DST).
 *
 * Calling hours are the called party's local time, and a campaign's windows are read in its
 * `complianceTimeZone`: a campaign declaring Florida recipients but keeping Los Angeles time would
 * dial Florida until 23:00. A zone is accepted for a state when it keeps the same clock as one of the
 * state's zones (so `US/Eastern` or `America/Detroit` serve for `America/New_York`).
 */
export const STATE_ZONES: Readonly<Record<string, readonly string[]>> = {
  AL: ['America/Chicago'],
  AK: ['America/Anchorage', 'America/Adak'],
  AZ: ['America/Phoenix', 'America/Denver'],
  AR: ['America/Chicago'],
  CA: ['America/Los_Angeles'],
  CO: ['America/Denver'],
  CT: ['America/New_York'],
  DE: ['America/New_York'],
  FL: ['America/New_York', 'America/Chicago'],
  GA: ['America/New_York'],
  HI: ['Pacific/Honolulu'],
  ID: ['America/Boise', 'America/Los_Angeles'],
  IL: ['America/Chicago'],
  IN: ['America/New_York', 'America/Chicago'],
  IA: ['America/Chicago'],
  KS: ['America/Chicago', 'America/Denver'],
  KY: ['America/New_York', 'America/Chicago'],
  LA: ['America/Chicago'],
  ME: ['America/New_York'],
  MD: ['America/New_York'],
  MA: ['America/New_York'],
  MI: ['America/New_York', 'America/Chicago'],
  MN: ['America/Chicago'],
  MS: ['America/Chicago'],
  MO: ['America/Chicago'],
  MT: ['America/Denver'],
  NE: ['America/Chicago', 'America/Denver'],
  NV: ['America/Los_Angeles', 'America/Denver'],
  NH: ['America/New_York'],
  NJ: ['America/New_York'],
  NM: ['America/Denver'],
  NY: ['America/New_York'],
  NC: ['America/New_York'],
  ND: ['America/Chicago', 'America/Denver'],
  OH: ['America/New_York'],
  OK: ['America/Chicago'],
  OR: ['America/Los_Angeles', 'America/Denver'],
  PA: ['America/New_York'],
  RI: ['America/New_York'],
  SC: ['America/New_York'],
  SD: ['America/Chicago', 'America/Denver'],
  TN: ['America/New_York', 'America/Chicago'],
  TX: ['America/Chicago', 'America/Denver'],
  UT: ['America/Denver'],
  VT: ['America/New_York'],
  VA: ['America/New_York'],
  WA: ['America/Los_Angeles'],
  WV: ['America/New_York'],
  WI: ['America/Chicago'],
  WY: ['America/Denver'],
  DC: ['America/New_York'],
  PR: ['America/Puerto_Rico'],
  VI: ['America/Puerto_Rico'],
  GU: ['Pacific/Guam'],
  MP: ['Pacific/Guam'],
  AS: ['Pacific/Pago_Pago'],
};

const DAY_MS = 86_400_000;
/** How far ahead two zones must keep the same clock: a year covers both DST changes. */
const HORIZON_DAYS = 366;
/** Six-hourly samples catch every DST change, which shifts a clock for months, not hours. */
const STEP_MS = DAY_MS / 4;

/**
 * Answers already worked out: one costs about 1 500 offset look-ups (~20 ms). Keyed by the start day,
 * which callers choose with every config the API validates, so the memo is capped, not kept forever.
 */
const agreement = new Map<string, boolean>();
const AGREEMENT_MEMO_MAX = 10_000;

/**
 * Pure (given the tz data): whether two zones keep the same UTC offset at every sample over the year
 * from the start of `fromMs`'s UTC day. Memoised per pair and day; the tz database does not change
 * while we run.
 */
export function zonesKeepSameClock(a: string, b: string, fromMs: number): boolean {
  if (a === b) return true;
  const day = Math.floor(fromMs / DAY_MS);
  const key = `${a}|${b}|${day}`;
  const known = agreement.get(key);
  if (known !== undefined) return known;
  const za = IANAZone.create(a);
  const zb = IANAZone.create(b);
  let same = za.isValid && zb.isValid;
  for (let t = day * DAY_MS; same && t < (day + HORIZON_DAYS) * DAY_MS; t += STEP_MS) {
    same = za.offset(t) === zb.offset(t);
  }
  if (agreement.size >= AGREEMENT_MEMO_MAX) agreement.clear();
  agreement.set(key, same);
  return same;
}

/** The state's zones when `zone` keeps none of their clocks; null when it does (or the state is not in the table). */
export function zoneMismatch(state: string, zone: string, fromMs: number): readonly string[] | null {
  const zones = STATE_ZONES[state];
  if (!zones) return null;
  return zones.some((z) => zonesKeepSameClock(zone, z, fromMs)) ? null : zones;
}

const differences = new Map<string, readonly number[]>();
const DAYTIME_SAMPLE_MS = 17 * 3_600_000;

/**
 * Pure (given the tz data): the distinct differences, in minutes, between `other`'s UTC offset and
 * `zone`'s during the day over the year from the start of `fromMs`'s UTC day (the clock in `other`
 * reads that much later than in `zone`): one value for zones that change to DST together, two when
 * only one of them does (Phoenix and Denver). Memoised like zonesKeepSameClock.
 */
export function offsetDifferences(zone: string, other: string, fromMs: number): readonly number[] {
  const day = Math.floor(fromMs / DAY_MS);
  const key = `${zone}|${other}|${day}`;
  const known = differences.get(key);
  if (known) return known;
  const za = IANAZone.create(zone);
  const zb = IANAZone.create(other);
  const seen = new Set<number>();
  if (za.isValid && zb.isValid) {
    // Daily at 17:00 UTC, daytime in every US zone: the hour around 02:00 local when one zone has
    // changed to or from DST and its neighbour not yet is no calling hour, and must not count.
    for (let t = day * DAY_MS + DAYTIME_SAMPLE_MS; t < (day + HORIZON_DAYS) * DAY_MS; t += DAY_MS) {
      seen.add(zb.offset(t) - za.offset(t));
    }
  }
  if (differences.size >= AGREEMENT_MEMO_MAX) differences.clear();
  const found = [...seen].sort((a, b) => a - b);
  differences.set(key, found);
  return found;
}
