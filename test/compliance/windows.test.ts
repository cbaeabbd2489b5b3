import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import type { CallWindow, Weekday } from '../../src/shared/campaign-config.js';
import {
  currentWindowClose,
  isWithinWindow,
  nextAllowedStart,
  START_CLOSE_MARGIN_MS,
  nextWindowOpen,
  nextWindowTransition,
  resolveBound,
  windowIntervals,
  type WindowConfig,
} from '../../src/shared/compliance/windows.js';

const ALL_DAYS: Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const cfg = (zone: string, windows: CallWindow[]): WindowConfig => ({
  complianceTimeZone: zone,
  allowedCallTimes: windows,
});
const daily = (zone: string, start = '09:00', end = '17:00') => cfg(zone, [{ days: ALL_DAYS, start, end }]);
const t = (iso: string) => Date.parse(iso);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The day's [open, close] as UTC ISO strings for a daily window. */
function dayWindow(config: WindowConfig, middayUtc: string): [string, string] {
  const mid = t(middayUtc);
  const hit = windowIntervals(config, mid - 12 * 3_600_000, mid + 12 * 3_600_000).find(
    (i) => i.openMs <= mid + 12 * 3_600_000 && i.closeMs >= mid - 12 * 3_600_000,
  );
  if (!hit) throw new Error(`no window around ${middayUtc}`);
  return [iso(hit.openMs) as string, iso(hit.closeMs) as string];
}

/*
 * Expected instants are written out by hand from the published rules of each zone, not computed
 * with the library under test:
 *   New York  EST −05:00 / EDT −04:00; 2026: Mar 8, Nov 1; 2027: Mar 14, Nov 7 (02:00 local)
 *   London    GMT +00:00 / BST +01:00; 2026: Mar 29, Oct 25; 2027: Mar 28, Oct 31 (01:00 UTC)
 *   Lord Howe +10:30 / +11:00 (a 30-minute shift); DST ends Apr 5 2026 / Apr 4 2027, starts
 *             Oct 4 2026 / Oct 3 2027 (02:00 local)
 *   Phoenix   MST −07:00 all year; Kolkata IST +05:30 all year.
 */
describe('09:00–17:00 windows across daylight-saving transitions', () => {
  const cases: Array<[zone: string, middayUtc: string, open: string, close: string]> = [
    // New York, 2026 spring forward (Sun Mar 8) and the days around it
    ['America/New_York', '2026-03-07T17:00:00Z', '2026-03-07T14:00:00.000Z', '2026-03-07T22:00:00.000Z'],
    ['America/New_York', '2026-03-08T17:00:00Z', '2026-03-08T13:00:00.000Z', '2026-03-08T21:00:00.000Z'],
    // New York, 2026 fall back (Sun Nov 1)
    ['America/New_York', '2026-10-31T17:00:00Z', '2026-10-31T13:00:00.000Z', '2026-10-31T21:00:00.000Z'],
    ['America/New_York', '2026-11-01T17:00:00Z', '2026-11-01T14:00:00.000Z', '2026-11-01T22:00:00.000Z'],
    // New York 2027
    ['America/New_York', '2027-03-13T17:00:00Z', '2027-03-13T14:00:00.000Z', '2027-03-13T22:00:00.000Z'],
    ['America/New_York', '2027-03-14T17:00:00Z', '2027-03-14T13:00:00.000Z', '2027-03-14T21:00:00.000Z'],
    ['America/New_York', '2027-11-06T17:00:00Z', '2027-11-06T13:00:00.000Z', '2027-11-06T21:00:00.000Z'],
    ['America/New_York', '2027-11-07T17:00:00Z', '2027-11-07T14:00:00.000Z', '2027-11-07T22:00:00.000Z'],
    // Phoenix does not move when New York does
    ['America/Phoenix', '2026-03-08T19:00:00Z', '2026-03-08T16:00:00.000Z', '2026-03-09T00:00:00.000Z'],
    ['America/Phoenix', '2026-11-01T19:00:00Z', '2026-11-01T16:00:00.000Z', '2026-11-02T00:00:00.000Z'],
    ['America/Phoenix', '2027-03-14T19:00:00Z', '2027-03-14T16:00:00.000Z', '2027-03-15T00:00:00.000Z'],
    ['America/Phoenix', '2027-11-07T19:00:00Z', '2027-11-07T16:00:00.000Z', '2027-11-08T00:00:00.000Z'],
    // London 2026 and 2027
    ['Europe/London', '2026-03-28T12:00:00Z', '2026-03-28T09:00:00.000Z', '2026-03-28T17:00:00.000Z'],
    ['Europe/London', '2026-03-29T12:00:00Z', '2026-03-29T08:00:00.000Z', '2026-03-29T16:00:00.000Z'],
    ['Europe/London', '2026-10-24T12:00:00Z', '2026-10-24T08:00:00.000Z', '2026-10-24T16:00:00.000Z'],
    ['Europe/London', '2026-10-25T12:00:00Z', '2026-10-25T09:00:00.000Z', '2026-10-25T17:00:00.000Z'],
    ['Europe/London', '2027-03-28T12:00:00Z', '2027-03-28T08:00:00.000Z', '2027-03-28T16:00:00.000Z'],
    ['Europe/London', '2027-10-31T12:00:00Z', '2027-10-31T09:00:00.000Z', '2027-10-31T17:00:00.000Z'],
    // Lord Howe: DST ends (Apr) — +11:00 on Saturday, +10:30 on Sunday
    ['Australia/Lord_Howe', '2026-04-04T02:00:00Z', '2026-04-03T22:00:00.000Z', '2026-04-04T06:00:00.000Z'],
    ['Australia/Lord_Howe', '2026-04-05T02:00:00Z', '2026-04-04T22:30:00.000Z', '2026-04-05T06:30:00.000Z'],
    // Lord Howe: DST starts (Oct) — +10:30 on Saturday, +11:00 on Sunday
    ['Australia/Lord_Howe', '2026-10-03T02:00:00Z', '2026-10-02T22:30:00.000Z', '2026-10-03T06:30:00.000Z'],
    ['Australia/Lord_Howe', '2026-10-04T02:00:00Z', '2026-10-03T22:00:00.000Z', '2026-10-04T06:00:00.000Z'],
    ['Australia/Lord_Howe', '2027-04-04T02:00:00Z', '2027-04-03T22:30:00.000Z', '2027-04-04T06:30:00.000Z'],
    ['Australia/Lord_Howe', '2027-10-03T02:00:00Z', '2027-10-02T22:00:00.000Z', '2027-10-03T06:00:00.000Z'],
    // Kolkata never moves
    ['Asia/Kolkata', '2026-03-08T08:00:00Z', '2026-03-08T03:30:00.000Z', '2026-03-08T11:30:00.000Z'],
    ['Asia/Kolkata', '2026-10-25T08:00:00Z', '2026-10-25T03:30:00.000Z', '2026-10-25T11:30:00.000Z'],
    ['Asia/Kolkata', '2027-04-04T08:00:00Z', '2027-04-04T03:30:00.000Z', '2027-04-04T11:30:00.000Z'],
  ];

  it.each(cases)('%s on the day of %s opens %s and closes %s', (zone, midday, open, close) => {
    expect(dayWindow(daily(zone), midday)).toEqual([open, close]);
  });

  it('Friday close → Monday open across New York spring forward', () => {
    const config = cfg('America/New_York', [
      { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00' },
    ]);
    const friday = t('2026-03-06T21:59:59Z');
    expect(isWithinWindow(config, friday)).toBe(true);
    expect(iso(currentWindowClose(config, friday))).toBe('2026-03-06T22:00:00.000Z');
    expect(isWithinWindow(config, t('2026-03-06T22:00:00Z'))).toBe(false);
    // The weekend is skipped; Monday is already on EDT.
    expect(iso(nextWindowOpen(config, t('2026-03-06T22:00:00Z')))).toBe('2026-03-09T13:00:00.000Z');
    expect(nextWindowTransition(config, friday)).toEqual({ kind: 'close', atMs: t('2026-03-06T22:00:00Z') });
  });
});

/*
 * DST happens at night, outside the legal calling hours every window is held to (next describe), so
 * the rule for bounds that do not exist or happen twice is checked on resolveBound, which resolves
 * every window bound.
 */
describe('the daylight-saving rule for bounds that do not exist or happen twice', () => {
  const on = (date: string) => DateTime.fromISO(date, { zone: 'utc' });
  const bound = (zone: string, date: string, hhmm: string, which: 'start' | 'end') =>
    iso(resolveBound(zone, on(date), hhmm, which));

  it('a 02:30 start that does not exist (New York, 2026-03-08) opens at the transition, 03:00 EDT', () => {
    expect(bound('America/New_York', '2026-03-08', '02:30', 'start')).toBe('2026-03-08T07:00:00.000Z');
    expect(bound('America/New_York', '2026-03-08', '05:00', 'end')).toBe('2026-03-08T09:00:00.000Z');
  });

  it('an end that does not exist closes at the transition', () => {
    expect(bound('America/New_York', '2026-03-08', '02:30', 'end')).toBe('2026-03-08T07:00:00.000Z');
  });

  it('an ambiguous 01:30 start (New York, 2026-11-01) opens at its second occurrence, 01:30 EST', () => {
    // 01:30 EDT = 05:30Z happens first; the repeated hour before 01:30 EST is not dialed.
    expect(bound('America/New_York', '2026-11-01', '01:30', 'start')).toBe('2026-11-01T06:30:00.000Z');
  });

  it('an ambiguous 01:30 end closes at its first occurrence, 01:30 EDT', () => {
    expect(bound('America/New_York', '2026-11-01', '01:30', 'end')).toBe('2026-11-01T05:30:00.000Z');
  });

  it('London: 01:30 missing on 2026-03-29 opens at 01:00Z; 01:30 twice on 2026-10-25 → start 01:30Z, end 00:30Z', () => {
    expect(bound('Europe/London', '2026-03-29', '01:30', 'start')).toBe('2026-03-29T01:00:00.000Z');
    expect(bound('Europe/London', '2026-10-25', '01:30', 'start')).toBe('2026-10-25T01:30:00.000Z');
    expect(bound('Europe/London', '2026-10-25', '01:30', 'end')).toBe('2026-10-25T00:30:00.000Z');
  });

  it('Lord Howe: the 30-minute gap and overlap follow the same rule', () => {
    // 2026-10-04 02:00 LHST (+10:30) jumps to 02:30 LHDT (+11:00): 02:15 does not exist.
    expect(bound('Australia/Lord_Howe', '2026-10-04', '02:15', 'start')).toBe('2026-10-03T15:30:00.000Z');
    // 2026-04-05 02:00 LHDT falls back to 01:30 LHST: 01:45 happens at 14:45Z and again at 15:15Z.
    expect(bound('Australia/Lord_Howe', '2026-04-05', '01:45', 'start')).toBe('2026-04-04T15:15:00.000Z');
    expect(bound('Australia/Lord_Howe', '2026-04-05', '01:45', 'end')).toBe('2026-04-04T14:45:00.000Z');
  });
});

describe('legal hours: windows are enforced only inside them, whatever a window says', () => {
  // A window CXone's console widened past what the orchestrator would accept (legal-hours.ts).
  const wide = cfg('America/New_York', [{ days: ALL_DAYS, start: '06:00', end: '23:00' }]);

  it('clamps to 08:00–21:00 local, across a DST change too', () => {
    expect(dayWindow(wide, '2026-03-07T17:00:00Z')).toEqual([
      '2026-03-07T13:00:00.000Z',
      '2026-03-08T02:00:00.000Z',
    ]);
    expect(dayWindow(wide, '2026-03-09T17:00:00Z')).toEqual([
      '2026-03-09T12:00:00.000Z',
      '2026-03-10T01:00:00.000Z',
    ]);
    // 21:34 New York: not dialing, though the window runs to 23:00.
    expect(isWithinWindow(wide, t('2026-11-29T02:34:00Z'))).toBe(false);
    expect(iso(nextWindowOpen(wide, t('2026-11-29T02:34:00Z')))).toBe('2026-11-29T13:00:00.000Z');
  });

  it("narrows further to every declared state's hours: Florida to 20:00, Texas to 12:00 on Sundays", () => {
    const florida = { ...wide, recipientStates: ['FL'] };
    expect(dayWindow(florida, '2026-12-02T17:00:00Z')).toEqual([
      '2026-12-02T13:00:00.000Z',
      '2026-12-03T01:00:00.000Z',
    ]);
    const texas = {
      ...cfg('America/Chicago', [{ days: ALL_DAYS, start: '06:00', end: '23:00' }]),
      recipientStates: ['TX'],
    };
    // Sunday 2026-12-06: 12:00–21:00 CST; Monday: 09:00–21:00.
    expect(dayWindow(texas, '2026-12-06T20:00:00Z')).toEqual([
      '2026-12-06T18:00:00.000Z',
      '2026-12-07T03:00:00.000Z',
    ]);
    expect(dayWindow(texas, '2026-12-07T20:00:00Z')).toEqual([
      '2026-12-07T15:00:00.000Z',
      '2026-12-08T03:00:00.000Z',
    ]);
  });

  it('leaves a window already inside the legal hours as it is', () => {
    expect(dayWindow(daily('America/New_York'), '2026-12-02T17:00:00Z')).toEqual([
      '2026-12-02T14:00:00.000Z',
      '2026-12-02T22:00:00.000Z',
    ]);
  });
});

describe('window arithmetic', () => {
  it('merges touching and overlapping windows of a day into one interval', () => {
    const config = cfg('Asia/Kolkata', [
      { days: ['mon'], start: '09:00', end: '12:00' },
      { days: ['mon'], start: '12:00', end: '15:00' },
      { days: ['mon'], start: '14:00', end: '18:00' },
    ]);
    const monday = t('2026-03-09T06:30:00Z'); // 12:00 IST, exactly at the seam
    expect(isWithinWindow(config, monday)).toBe(true);
    expect(iso(currentWindowClose(config, monday))).toBe('2026-03-09T12:30:00.000Z');
  });

  it('nextAllowedStart keeps a start inside a window and moves one outside to the next open', () => {
    const config = daily('America/Phoenix', '09:00', '20:00');
    expect(nextAllowedStart(config, t('2026-06-01T17:00:00Z'))).toBe(t('2026-06-01T17:00:00Z'));
    // 06:30 MST is before the window: moved to 09:00 MST the same day.
    expect(iso(nextAllowedStart(config, t('2026-06-01T13:30:00Z')))).toBe('2026-06-01T16:00:00.000Z');
    // 21:00 MST is after it: moved to 09:00 MST the next day.
    expect(iso(nextAllowedStart(config, t('2026-06-02T04:00:00Z')))).toBe('2026-06-02T16:00:00.000Z');
  });

  it('nextAllowedStart moves a start in the last 30 s before a close to the next open', () => {
    // The pause that follows at once could land after the close (the resume guard's rule, too).
    const config = daily('America/Phoenix', '09:00', '20:00');
    const close = t('2026-06-02T03:00:00Z'); // 20:00 MST
    expect(START_CLOSE_MARGIN_MS).toBe(30_000);
    expect(nextAllowedStart(config, close - 30_000)).toBe(close - 30_000);
    expect(iso(nextAllowedStart(config, close - 29_999))).toBe('2026-06-02T16:00:00.000Z');
    expect(iso(nextAllowedStart(config, close - 1))).toBe('2026-06-02T16:00:00.000Z');
  });

  it('the close instant is outside and the open instant inside (half-open intervals)', () => {
    const config = daily('Europe/London');
    expect(isWithinWindow(config, t('2026-07-01T08:00:00Z'))).toBe(true);
    expect(isWithinWindow(config, t('2026-07-01T16:00:00Z'))).toBe(false);
    expect(isWithinWindow(config, t('2026-07-01T07:59:59.999Z'))).toBe(false);
  });

  it('an unknown zone is an error, not a silent UTC', () => {
    expect(() => isWithinWindow(daily('Mars/Olympus'), Date.now())).toThrow(/unknown time zone/);
  });
});
