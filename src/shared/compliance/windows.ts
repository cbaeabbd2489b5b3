import { DateTime, FixedOffsetZone, IANAZone } from 'luxon';
import {
  minutesOfDay,
  WEEKDAYS,
  type CallWindow,
  type CampaignConfig,
  type Weekday,
} from '../campaign-config.js';
import { ComplianceError } from './errors.js';
import { hasHolidayCalendar, holidayOn } from './holidays.js';
import { hhmm, legalHoursOn } from './legal-hours.js';

/**
 * Calling windows as instants. Pure: every function takes the instant it reasons about, never the
 * wall clock, and all zone arithmetic is Luxon's (IANA tz database through Intl).
 *
 * A campaign may dial exactly while the instant lies inside one of the windows its
 * `allowedCallTimes` define for the local date in `complianceTimeZone`. Window bounds are resolved
 * so that every dialing instant has a local wall-clock time inside [start, end) — the law counts in
 * local time, so on daylight-saving days the rule errs towards not dialing:
 *   - a bound that does not exist that day (spring forward: 02:30 in New York on 2026-03-08)
 *     resolves to the first valid instant after it, i.e. the transition itself (03:00 EDT);
 *   - an ambiguous start (fall back: 01:30 happens twice) resolves to its LAST occurrence, so the
 *     repeated half hour before the start is never dialed;
 *   - an ambiguous end resolves to its FIRST occurrence, so the repeated half hour after the end is
 *     never dialed.
 * Overlapping or touching windows of one day are merged, so a 09:00–12:00 + 12:00–17:00 day has a
 * single close at 17:00. A local date listed in `blackoutDates`, or a holiday of a declared state's
 * calendar (holidays.ts), has no window at all.
 */
export type WindowConfig = Pick<CampaignConfig, 'complianceTimeZone' | 'allowedCallTimes'> &
  Partial<Pick<CampaignConfig, 'recipientStates' | 'blackoutDates'>>;

export interface WindowInterval {
  /** First instant (epoch ms) dialing is allowed. */
  openMs: number;
  /** First instant (epoch ms) dialing is no longer allowed. */
  closeMs: number;
}

const DAY_MS = 86_400_000;
/** Beyond any UTC offset in use today (−12:00 … +14:00); windows are only ever resolved near now. */
const MAX_ZONE_OFFSET_MS = 15 * 3_600_000;
const utcMidnight = (ms: number) => Math.floor(ms / DAY_MS) * DAY_MS;
/** Far enough to cover any legal configuration (every window recurs weekly) plus a DST-emptied day. */
const SEARCH_DAYS = 15;

function zoneOf(name: string): IANAZone {
  const zone = IANAZone.create(name);
  if (!zone.isValid) {
    throw new ComplianceError(`unknown time zone "${name}"; use an IANA zone such as America/New_York`, {
      rule: 'time-zone',
    });
  }
  return zone;
}

export function weekdayOf(dt: DateTime): Weekday {
  return WEEKDAYS[dt.weekday - 1] as Weekday;
}

interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
}

function wallOf(hhmm: string, date: DateTime): WallTime {
  return {
    year: date.year,
    month: date.month,
    day: date.day,
    hour: Number(hhmm.slice(0, 2)),
    minute: Number(hhmm.slice(3, 5)),
  };
}

const sameWall = (dt: DateTime, w: WallTime) =>
  dt.year === w.year &&
  dt.month === w.month &&
  dt.day === w.day &&
  dt.hour === w.hour &&
  dt.minute === w.minute &&
  dt.second === 0;

/** The wall-clock reading of `ms` in `zone`, as a comparable number (the same reading in UTC). */
function wallReading(ms: number, zone: IANAZone): number {
  return DateTime.fromMillis(ms, { zone }).setZone('utc', { keepLocalTime: true }).toMillis();
}

/**
 * Every instant whose local reading in `zone` is `wall`: none (spring-forward gap), one, or two
 * (fall-back overlap), ascending.
 */
function instantsOf(wall: WallTime, zone: IANAZone): number[] {
  const guess = DateTime.fromObject(wall, { zone }).toMillis();
  const offsets = new Set([zone.offset(guess - DAY_MS), zone.offset(guess), zone.offset(guess + DAY_MS)]);
  const found = new Set<number>();
  for (const offset of offsets) {
    const candidate = DateTime.fromObject(wall, { zone: FixedOffsetZone.instance(offset) }).toMillis();
    if (sameWall(DateTime.fromMillis(candidate, { zone }), wall)) found.add(candidate);
  }
  return [...found].sort((a, b) => a - b);
}

/** First instant whose local reading is at or after `wall` — the end of a spring-forward gap. */
function firstInstantAtOrAfter(wall: WallTime, zone: IANAZone): number {
  const target = DateTime.fromObject(wall, { zone: 'utc' }).toMillis();
  // Every UTC offset in use lies within ±18 h, so the answer is inside this bracket.
  let lo = target - 18 * 3_600_000;
  let hi = target + 18 * 3_600_000;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (wallReading(mid, zone) >= target) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** Resolves one window bound on one local date to an instant, by the DST rule documented above. */
export function resolveBound(zoneName: string, date: DateTime, hhmm: string, bound: 'start' | 'end'): number {
  const zone = zoneOf(zoneName);
  const wall = wallOf(hhmm, date);
  const instants = instantsOf(wall, zone);
  if (instants.length === 0) return firstInstantAtOrAfter(wall, zone);
  return (bound === 'start' ? instants[instants.length - 1] : instants[0]) as number;
}

/**
 * Resolved intervals by zone, windows and local date. Resolving bounds is pure but costly (each one
 * asks Intl for several zone offsets), and every launch and enforcement tick resolves the same few
 * dates of the same few configurations again; the tz database does not change while we run.
 */
const DAY_CACHE_MAX = 10_000;
/** zone + windows → local date (as midnight UTC) → that day's intervals; never mutated once stored. */
const dayCache = new Map<string, Map<number, readonly WindowInterval[]>>();
let dayCacheSize = 0;

/** `utcDayMs` is the local calendar date as midnight UTC of the same year/month/day. */
function dayIntervals(config: WindowConfig, utcDayMs: number, windowsKey: string): readonly WindowInterval[] {
  const configKey = `${config.complianceTimeZone}\u0000${windowsKey}`;
  let days = dayCache.get(configKey);
  const cached = days?.get(utcDayMs);
  if (cached) return cached;
  // Luxon only on a miss: the cached path is every launch's and every enforcement tick's.
  const computed = resolveDayIntervals(config, DateTime.fromMillis(utcDayMs, { zone: 'utc' }));
  if (dayCacheSize >= DAY_CACHE_MAX) {
    dayCache.clear();
    dayCacheSize = 0;
    days = undefined;
  }
  if (!days) {
    days = new Map();
    dayCache.set(configKey, days);
  }
  days.set(utcDayMs, computed);
  dayCacheSize++;
  return computed;
}

function resolveDayIntervals(config: WindowConfig, date: DateTime): WindowInterval[] {
  const iso = date.toISODate() ?? '';
  if (config.blackoutDates?.includes(iso)) return [];
  if (config.recipientStates?.some((code) => holidayOn(code, iso) !== undefined)) return [];
  const day = weekdayOf(date);
  const legal = legalHoursOn(day, config.recipientStates);
  const out: WindowInterval[] = [];
  if (legal === null) return out;
  for (const window of config.allowedCallTimes as CallWindow[]) {
    if (!window.days.includes(day)) continue;
    // Never outside the law's hours, whatever the window says (legal-hours.ts).
    const start = hhmm(Math.max(minutesOfDay(window.start), legal.startMin));
    const end = hhmm(Math.min(minutesOfDay(window.end), legal.endMin));
    const openMs = resolveBound(config.complianceTimeZone, date, start, 'start');
    const closeMs = resolveBound(config.complianceTimeZone, date, end, 'end');
    if (closeMs > openMs) out.push({ openMs, closeMs });
  }
  return out;
}

/** Merged copies (the inputs, shared with the day cache, are never modified). */
function merge(intervals: readonly WindowInterval[]): WindowInterval[] {
  const sorted = [...intervals].sort((a, b) => a.openMs - b.openMs);
  const merged: WindowInterval[] = [];
  for (const next of sorted) {
    const last = merged[merged.length - 1];
    if (last && next.openMs <= last.closeMs) last.closeMs = Math.max(last.closeMs, next.closeMs);
    else merged.push({ ...next });
  }
  return merged;
}

/**
 * The merged dialing intervals that overlap [fromMs, toMs), ascending. Looks one local day either side
 * so an interval that started the previous local day is included.
 */
export function windowIntervals(config: WindowConfig, fromMs: number, toMs: number): WindowInterval[] {
  zoneOf(config.complianceTimeZone); // an unknown zone is refused, whatever the cache holds
  // Only the local calendar dates matter from here on (a bound is resolved from date + wall time).
  // Every zone's offset lies within ±MAX_ZONE_OFFSET_MS, so the local dates of [fromMs, toMs) lie
  // among the UTC dates of [fromMs − max, toMs + max]; one more day either side covers an interval
  // that began the previous local day. Stepping through dates in UTC (where every day is 24 h) gives
  // the year/month/day/weekday sequence without asking Intl for an offset: the cached path (every
  // launch, every enforcement tick) never calls Luxon. Extra dates only add intervals the filter
  // drops: no window reaches midnight (ends are at most 23:59), so days never merge.
  const first = utcMidnight(fromMs - MAX_ZONE_OFFSET_MS) - DAY_MS;
  const last = utcMidnight(toMs + MAX_ZONE_OFFSET_MS) + DAY_MS;
  const all: WindowInterval[] = [];
  // The declared states narrow the hours (legal-hours.ts) and blackout dates empty days, so both are
  // part of the cache key.
  const windowsKey = JSON.stringify([
    config.allowedCallTimes,
    config.recipientStates ?? [],
    config.blackoutDates ?? [],
  ]);
  for (let day = first; day <= last; day += DAY_MS) {
    all.push(...dayIntervals(config, day, windowsKey));
  }
  return merge(all).filter((i) => i.closeMs > fromMs && i.openMs < toMs);
}

/**
 * Two weeks: a Monday-only campaign to Rhode Island loses Christmas and New Year's Day in a row, the
 * most holidays on one weekday in a row of any calendar in holidays.ts.
 */
const HOLIDAY_SEARCH_DAYS = 14;

const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * How many days ahead of `atMs` to look for a window first: SEARCH_DAYS, plus HOLIDAY_SEARCH_DAYS when
 * a declared state has a holiday calendar, plus one for every blackout date inside the range so far
 * (each one can pull in the next), so that a run of blackout dates is looked past. Dates outside the
 * range (past ones, or a year's list far ahead) do not stretch it: every day searched is a day
 * resolved. Dates compared in UTC from the day before `atMs`: a local date differs by at most a day.
 */
function searchDays(config: WindowConfig, atMs: number): number {
  const base = SEARCH_DAYS + (config.recipientStates?.some(hasHolidayCalendar) ? HOLIDAY_SEARCH_DAYS : 0);
  const dates = config.blackoutDates;
  if (!dates?.length) return base;
  const from = isoDay(atMs - DAY_MS);
  let days = base;
  for (;;) {
    const to = isoDay(atMs + days * DAY_MS);
    const wanted = base + dates.filter((date) => date >= from && date <= to).length;
    if (wanted <= days) return days;
    days = wanted;
  }
}

/**
 * How far to look when the first search found no open although blackout dates lie ahead: to the last
 * of them, and the usual search beyond it, after which the weekly windows open as they would without
 * any. Blackout dates spread out (every Monday of a month, for a Monday-only campaign) can
 * hide opens further than one day per date; this finds the first one they leave. Undefined when no
 * blackout date lies ahead.
 */
function fallbackSearchDays(config: WindowConfig, atMs: number, searched: number): number | undefined {
  const from = isoDay(atMs - DAY_MS);
  const last = (config.blackoutDates ?? []).reduce<string | undefined>(
    (latest, date) => (date >= from && (latest === undefined || date > latest) ? date : latest),
    undefined,
  );
  if (last === undefined) return undefined;
  const lastMs = Date.parse(`${last}T00:00:00Z`);
  const days = Math.ceil((lastMs - atMs) / DAY_MS) + 1 + searchDays(config, lastMs);
  return days > searched ? days : undefined;
}

/** The window holding `atMs` (open at it, closed after it) and the first one opening after it. */
function windowsAt(
  config: WindowConfig,
  atMs: number,
): { current: WindowInterval | undefined; next: WindowInterval | undefined; searched: number } {
  const intervalsFor = (days: number) => windowIntervals(config, atMs - DAY_MS, atMs + days * DAY_MS);
  let searched = searchDays(config, atMs);
  let intervals = intervalsFor(searched);
  let next = intervals.find((i) => i.openMs > atMs);
  const further = next === undefined ? fallbackSearchDays(config, atMs, searched) : undefined;
  if (further !== undefined) {
    searched = further;
    intervals = intervalsFor(searched);
    next = intervals.find((i) => i.openMs > atMs);
  }
  return { current: intervals.find((i) => i.openMs <= atMs && atMs < i.closeMs), next, searched };
}

/** True while the campaign may dial at `atMs`. */
export function isWithinWindow(config: WindowConfig, atMs: number): boolean {
  return windowsAt(config, atMs).current !== undefined;
}

/**
 * The first instant strictly after `atMs` at which a window opens; null when none opens within 15 days
 * (longer with a declared state's holidays or blackout dates ahead, searchDays).
 */
export function nextWindowOpen(config: WindowConfig, atMs: number): number | null {
  return windowsAt(config, atMs).next?.openMs ?? null;
}

/** When the window the campaign is in now closes; null when it is outside every window. */
export function currentWindowClose(config: WindowConfig, atMs: number): number | null {
  return windowsAt(config, atMs).current?.closeMs ?? null;
}

/**
 * How close to a window's close a campaign may no longer start dialing: the least lead the window's
 * job fires a close with (enforcement.ts). A campaign started (or resumed, command-guard.ts) inside
 * it is paused again at once, behind every other close's pause in the fleet's budget, and that pause
 * could land after the close.
 */
export const START_CLOSE_MARGIN_MS = 30_000;

/**
 * When a campaign asked to start at `atMs` may actually start: `atMs` itself inside a window and at
 * least START_CLOSE_MARGIN_MS before its close (as a resume, command-guard.ts), otherwise the next open. Throws ComplianceError when
 * no window opens within 15 days, which a config that passed validation cannot produce.
 */
export function nextAllowedStart(config: WindowConfig, atMs: number): number {
  const { current, next, searched } = windowsAt(config, atMs);
  if (current && current.closeMs - atMs >= START_CLOSE_MARGIN_MS) return atMs;
  if (next === undefined) {
    throw new ComplianceError(
      `no calling window opens within ${searched} days of ${new Date(atMs).toISOString()}`,
      { rule: 'calling-window' },
    );
  }
  return next.openMs;
}

/** The next instant the window state flips (a close while inside, an open while outside). */
export function nextWindowTransition(
  config: WindowConfig,
  atMs: number,
): { kind: 'close' | 'open'; atMs: number } | null {
  const { current, next } = windowsAt(config, atMs);
  if (current) return { kind: 'close', atMs: current.closeMs };
  return next === undefined ? null : { kind: 'open', atMs: next.openMs };
}

/** `atMs` as an ISO string in the campaign's zone, for messages, audit and reports. */
export function localIso(zoneName: string, atMs: number): string {
  return DateTime.fromMillis(atMs, { zone: zoneOf(zoneName) }).toISO({ suppressMilliseconds: true }) ?? '';
}
