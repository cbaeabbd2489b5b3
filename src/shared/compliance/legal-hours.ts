import { minutesOfDay, type Weekday } from '../campaign-config.js';
import { FEDERAL_WINDOW } from './federal-window.js';
import { STATE_RULES, stateHoursFor } from './state-rules.js';

/**
 * The hours the law allows on a weekday, in the called party's local time: the federal 08:00–21:00
 * (also the orchestrator's policy under OFCOM) narrowed by every declared recipient state's rule (the
 * campaign's `recipientStates`: the orchestrator's own list, which CXone never holds or changes).
 * Pure. Run-time window enforcement dials only inside these, whatever the campaign's windows say:
 * submit-time validation keeps our own configs inside them, but CXone's console can widen a running
 * campaign's window, and the orchestrator adopts CXone's settings.
 */
export interface LegalHours {
  /** Minutes after local midnight. */
  startMin: number;
  endMin: number;
}

const FEDERAL: LegalHours = {
  startMin: minutesOfDay(FEDERAL_WINDOW.start),
  endMin: minutesOfDay(FEDERAL_WINDOW.end),
};

/** null when no call is allowed that day (a declared state forbids it). */
export function legalHoursOn(day: Weekday, recipientStates: readonly string[] = []): LegalHours | null {
  let { startMin, endMin } = FEDERAL;
  for (const code of recipientStates) {
    const rule = STATE_RULES[code];
    if (!rule) continue;
    const hours = stateHoursFor(rule, day);
    if (hours === null) return null;
    startMin = Math.max(startMin, minutesOfDay(hours.start));
    endMin = Math.min(endMin, minutesOfDay(hours.end));
  }
  return endMin > startMin ? { startMin, endMin } : null;
}

/** `hh:mm` of minutes after midnight. */
export const hhmm = (minutes: number): string =>
  `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
