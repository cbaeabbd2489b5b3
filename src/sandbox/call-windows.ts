import { DateTime } from 'luxon';
import { minutesOfDay, type CallWindow, type Weekday } from '../shared/campaign-config.js';

const LUXON_WEEKDAY: Record<number, Weekday> = {
  1: 'mon',
  2: 'tue',
  3: 'wed',
  4: 'thu',
  5: 'fri',
  6: 'sat',
  7: 'sun',
};

/**
 * Whether dialing is allowed at `atMs` under a campaign's calling windows, read as wall-clock time
 * in `timeZone` (so daylight-saving shifts move the window with the local clock). A window covers
 * [start, end) on each listed day. Pure; the sandbox uses it to count compliance violations.
 */
export function isWithinCallTimes(windows: readonly CallWindow[], timeZone: string, atMs: number): boolean {
  const local = DateTime.fromMillis(atMs, { zone: timeZone });
  if (!local.isValid) return false;
  const day = LUXON_WEEKDAY[local.weekday];
  const minute = local.hour * 60 + local.minute;
  return windows.some((w) => {
    if (!day || !w.days.includes(day)) return false;
    return minute >= minutesOfDay(w.start) && minute < minutesOfDay(w.end);
  });
}
