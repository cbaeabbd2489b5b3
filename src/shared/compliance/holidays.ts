/**
 * Holiday calendars the state table's rows point at (state-rules.ts `holidays`), as dates. Pure: the
 * dates of a year are computed from the statutes' own rules (a fixed date, the nth weekday of a month),
 * never read from a clock or a network.
 *
 * Where a statute moves a holiday that falls on a weekend (federal employees keep a Saturday holiday
 * on the Friday before and a Sunday one on the Monday after; Rhode Island's state employees keep some
 * on the following Monday), both the day itself and the day it is kept on are in the calendar: which
 * of the two a telemarketing statute's "holiday" means is not settled, so the calendar errs towards
 * not dialing, as the window rules do on daylight-saving days.
 */

export interface Holiday {
  /** Local date, YYYY-MM-DD. */
  date: string;
  name: string;
}

/** Weekday numbers as Date.getUTCDay() gives them. */
const SUN = 0;
const MON = 1;
const THU = 4;
const SAT = 6;

const pad = (n: number) => String(n).padStart(2, '0');
const isoOf = (year: number, month: number, day: number) => `${year}-${pad(month)}-${pad(day)}`;
const weekdayOf = (year: number, month: number, day: number) =>
  new Date(Date.UTC(year, month - 1, day)).getUTCDay();

/** The date `days` after `year-month-day` (negative: before), as YYYY-MM-DD. */
function shifted(year: number, month: number, day: number, days: number): string {
  return new Date(Date.UTC(year, month - 1, day + days)).toISOString().slice(0, 10);
}

/** Day of the month of the `n`th `weekday` of `month` (n = 1 … 4). */
function nthWeekday(year: number, month: number, weekday: number, n: number): number {
  const first = weekdayOf(year, month, 1);
  return 1 + ((weekday - first + 7) % 7) + (n - 1) * 7;
}

/** Day of the month of the last `weekday` of `month`. */
function lastWeekday(year: number, month: number, weekday: number): number {
  const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const last = weekdayOf(year, month, days);
  return days - ((last - weekday + 7) % 7);
}

/** A holiday on the `n`th Monday of `month`. */
function nthMonday(year: number, month: number, n: number, name: string): Holiday {
  return { date: isoOf(year, month, nthWeekday(year, month, MON, n)), name };
}

/** A fixed-date holiday, with the days a weekend moves it to under `moves` (if any). */
function fixed(
  year: number,
  month: number,
  day: number,
  name: string,
  moves: (weekday: number) => number[],
): Holiday[] {
  const out: Holiday[] = [{ date: isoOf(year, month, day), name }];
  for (const by of moves(weekdayOf(year, month, day))) {
    out.push({ date: shifted(year, month, day, by), name: `${name} (observed)` });
  }
  return out;
}

/** 5 U.S.C. § 6103(b): a Saturday holiday is kept on the Friday before, a Sunday one on the Monday after. */
const federalMove = (weekday: number) => (weekday === SAT ? [-1] : weekday === SUN ? [1] : []);

/** The legal public holidays of 5 U.S.C. § 6103(a), with the days § 6103(b) keeps them on. */
export function federalHolidays(year: number): Holiday[] {
  return [
    ...fixed(year, 1, 1, "New Year's Day", federalMove),
    nthMonday(year, 1, 3, 'Birthday of Martin Luther King, Jr.'),
    nthMonday(year, 2, 3, "Washington's Birthday"),
    { date: isoOf(year, 5, lastWeekday(year, 5, MON)), name: 'Memorial Day' },
    ...fixed(year, 6, 19, 'Juneteenth National Independence Day', federalMove),
    ...fixed(year, 7, 4, 'Independence Day', federalMove),
    nthMonday(year, 9, 1, 'Labor Day'),
    nthMonday(year, 10, 2, 'Columbus Day'),
    ...fixed(year, 11, 11, 'Veterans Day', federalMove),
    { date: isoOf(year, 11, nthWeekday(year, 11, THU, 4)), name: 'Thanksgiving Day' },
    ...fixed(year, 12, 25, 'Christmas Day', federalMove),
    // New Year's Day of the next year on a Saturday is kept on this year's 31 December.
    ...(weekdayOf(year + 1, 1, 1) === SAT
      ? [{ date: isoOf(year, 12, 31), name: "New Year's Day (observed)" }]
      : []),
  ];
}

/**
 * R.I. Gen. Laws § 25-1-1: New Year's Day, Independence Day, Veterans' Day and Christmas Day on a
 * Saturday or Sunday are kept by state employees on the following Monday; any of its days on a Sunday
 * makes the day after it a holiday too.
 */
const rhodeIslandMove = (weekday: number) => (weekday === SAT ? [2] : weekday === SUN ? [1] : []);
const sundayMove = (weekday: number) => (weekday === SUN ? [1] : []);

/**
 * Rhode Island's general holidays (R.I. Gen. Laws § 25-1-1) and the federal ones (5 U.S.C. § 6103),
 * for its Telephone Sales Solicitation Act's "except a state or federal holiday" (§ 5-61-2). Election
 * day — the Tuesday after the first Monday in November "in each year in which a general election of
 * state officers is held" — is counted in every even year: the General Assembly is elected every two
 * years and the general officers every four, and the calendar errs towards not dialing. Sundays are
 * § 25-1-1 holidays too; the state's row forbids them already. Days the governor, the General
 * Assembly, the President or Congress appoint are not in it (the row's notEncoded: blackoutDates).
 */
export function rhodeIslandHolidays(year: number): Holiday[] {
  const state: Holiday[] = [
    ...fixed(year, 1, 1, "New Year's Day", rhodeIslandMove),
    nthMonday(year, 1, 3, "Dr. Martin Luther King, Jr.'s Birthday"),
    nthMonday(year, 2, 3, "Washington's Birthday"),
    ...fixed(year, 5, 4, 'Rhode Island Independence Day', sundayMove),
    { date: isoOf(year, 5, lastWeekday(year, 5, MON)), name: 'Memorial Day' },
    ...fixed(year, 7, 4, 'Independence Day', rhodeIslandMove),
    nthMonday(year, 8, 2, 'Victory Day'),
    nthMonday(year, 9, 1, 'Labor Day'),
    nthMonday(year, 10, 2, 'Columbus Day'),
    ...fixed(year, 11, 11, "Veterans' Day", rhodeIslandMove),
    ...fixed(year, 12, 25, 'Christmas Day', rhodeIslandMove),
    ...(year % 2 === 0
      ? [{ date: isoOf(year, 11, nthWeekday(year, 11, MON, 1) + 1), name: 'Election Day' }]
      : []),
  ];
  // One entry a day: where both calendars have it (Veterans' Day), the state's name.
  const seen = new Set<string>();
  return [...state, ...federalHolidays(year)].filter(({ date }) => !seen.has(date) && seen.add(date));
}

/**
 * The calendars by state code (the row's `holidays` names their sources): only states whose statute
 * forbids calls on holidays it or another statute enumerates.
 */
const CALENDARS: Readonly<Record<string, (year: number) => Holiday[]>> = {
  RI: rhodeIslandHolidays,
};

/** Whether `code` has a holiday calendar here. */
export const hasHolidayCalendar = (code: string): boolean => Object.hasOwn(CALENDARS, code);

const byYear = new Map<string, ReadonlyMap<string, string>>();

/** The holidays of `code`'s calendar in `year`, date → name. */
function calendarOf(code: string, year: number): ReadonlyMap<string, string> {
  const key = `${code}:${year}`;
  const cached = byYear.get(key);
  if (cached) return cached;
  const dates = new Map<string, string>();
  for (const { date, name } of CALENDARS[code]?.(year) ?? []) if (!dates.has(date)) dates.set(date, name);
  byYear.set(key, dates);
  return dates;
}

/**
 * The holiday `date` (YYYY-MM-DD) is in `code`'s calendar, by name; undefined when it is none or the
 * state has no calendar.
 */
export function holidayOn(code: string, date: string): string | undefined {
  if (!hasHolidayCalendar(code)) return undefined;
  return calendarOf(code, Number(date.slice(0, 4))).get(date);
}

/** The dates of `code`'s calendar from `fromDate` on, ascending, at most `limit`. */
export function holidaysFrom(code: string, fromDate: string, limit: number): Holiday[] {
  if (!hasHolidayCalendar(code)) return [];
  const year = Number(fromDate.slice(0, 4));
  const all = new Map<string, string>([...calendarOf(code, year), ...calendarOf(code, year + 1)]);
  return [...all]
    .filter(([date]) => date >= fromDate)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .slice(0, limit)
    .map(([date, name]) => ({ date, name }));
}
