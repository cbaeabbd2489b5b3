import type { CampaignAction } from '../lifecycle/state-machine.js';
import type { AppConfig } from '../config.js';
import { DateTime } from 'luxon';
import { minutesOfDay } from '../campaign-config.js';
import { describeProblems, FEDERAL_WINDOW, floorSource, type ComplianceInput } from './config-rules.js';
import { holidayOn } from './holidays.js';
import { hhmm, legalHoursOn } from './legal-hours.js';
import { STATE_RULES, stateHoursFor } from './state-rules.js';
import { STATE_ZONES } from './state-zones.js';
import { runtimeComplianceProblems, STRICT_POLICY } from './deployment-policy.js';
import {
  isWithinWindow,
  localIso,
  nextWindowOpen,
  nextWindowTransition,
  START_CLOSE_MARGIN_MS,
  weekdayOf,
} from './windows.js';

/**
 * A resume is refused this close to a window's close: the least lead with which the window's job
 * fires ahead of a close (enforcement.ts, CLOSE_MARGIN_MS), known without reading the fleet's queue.
 */
export const RESUME_CLOSE_MARGIN_MS = START_CLOSE_MARGIN_MS;

export interface CommandGuardInput {
  action?: CampaignAction | undefined;
  /** The command's reason: "operator", "pacing", "compliance-window", "abandonment-guard", … */
  reason: string;
  /**
   * With `recipientStates` when declared: their hours narrow the windows (legal-hours.ts); with
   * `startDateTime` the declared states' zones are checked too.
   */
  config: ComplianceInput;
  /** When the command would take effect (the API: now; the adjust worker: when it applies it). */
  atMs: number;
  /** This deployment's policy (ALLOW_DNC_DISABLED); without it, the strict default (not allowed). */
  policy?: Pick<AppConfig, 'allowDncDisabled'>;
  /**
   * The close the calling window paused the campaign ahead of (WindowState.closingAt), if any: from
   * that firing until the close the window counts as closed (enforcement.ts, closeLeadMs).
   */
  closingAt?: number | undefined;
}

/**
 * Why compliance forbids this command now, or null when it may proceed. Pure. The API answers 409
 * with the string; the adjust worker checks again when it applies the command, because a resume
 * queued at 20:59 may only run after the window closed.
 *   - resume outside the calling window, less than RESUME_CLOSE_MARGIN_MS before a close, or in
 *     the last stretch before a close the window paused the campaign ahead of (`closingAt`):
 *     refused, naming the local time, the close and the next open;
 *   - resume asked by pacing: refused always — pacing steers the rate; lifting a pause (the
 *     compliance worker's or an operator's) is never its call.
 */
export function complianceRefusal(input: CommandGuardInput): string | null {
  if (input.action !== 'resume') return null;
  if (input.reason === 'pacing') {
    return 'pacing may not resume a campaign; a paused campaign is resumed by an operator or, after a calling-window pause, by the compliance worker';
  }
  const { config, atMs } = input;
  // Settings changed outside the orchestrator (CXone's console) may break a rule ours never do; the
  // campaign was paused for it (outside-change.ts) and stays so until they are fixed.
  const problems = describeProblems(runtimeComplianceProblems(config, input.policy ?? STRICT_POLICY));
  if (problems.length > 0) {
    return (
      `cannot resume: the campaign's settings as CXone holds them break compliance rules (` +
      problems.map((p) => `${p.path}: ${p.message}`).join('; ') +
      '); fix them first (PATCH, or a patch in the resume command)'
    );
  }
  if (isWithinWindow(config, atMs)) {
    const upcoming = nextWindowTransition(config, atMs);
    if (upcoming?.kind === 'close' && upcoming.atMs - atMs < RESUME_CLOSE_MARGIN_MS) {
      // The window's job pauses an active campaign a lead ahead of its close, so that the pause lands
      // by it. A resume inside the last stretch (of a campaign someone else paused, which the job left
      // alone when it fired) is paused again at once, behind every other close's pause in the fleet's
      // budget: that pause could land after the close.
      const reopens = nextWindowOpen(config, upcoming.atMs);
      return (
        `cannot resume at ${localIso(config.complianceTimeZone, atMs)} (${config.complianceTimeZone}): the calling ` +
        `window closes at ${localIso(config.complianceTimeZone, upcoming.atMs)}, less than ` +
        `${RESUME_CLOSE_MARGIN_MS / 1000} s away, too late for the pause that must follow to land by it ` +
        `(${closedBy(config, upcoming.atMs)}); ` +
        (reopens === null
          ? 'no window opens in the next 15 days'
          : `the next window opens at ${localIso(config.complianceTimeZone, reopens)}; resume it then`)
      );
    }
    if (input.closingAt === undefined || upcoming?.kind !== 'close' || upcoming.atMs !== input.closingAt) {
      return null;
    }
    // Paused ahead of this close so that every campaign closing then is paused by it: a resume now
    // would dial until the window's job paused it again, moments later.
    const reopens = nextWindowOpen(config, upcoming.atMs);
    return (
      `cannot resume at ${localIso(config.complianceTimeZone, atMs)} (${config.complianceTimeZone}): the calling ` +
      `window closes at ${localIso(config.complianceTimeZone, upcoming.atMs)}, and the campaign was paused ahead of ` +
      'that close so that every campaign closing then is paused by it; ' +
      (reopens === null
        ? 'no window opens in the next 15 days'
        : `the next window opens at ${localIso(config.complianceTimeZone, reopens)}, when the compliance worker resumes it`)
    );
  }
  const next = nextWindowOpen(config, atMs);
  return (
    `cannot resume at ${localIso(config.complianceTimeZone, atMs)} (${config.complianceTimeZone}): outside the campaign's calling windows ` +
    `(${closedBy(config, atMs)}); ` +
    (next === null
      ? 'no window opens in the next 15 days'
      : `the next window opens at ${localIso(config.complianceTimeZone, next)}; resume it then ` +
        '(a campaign the window itself paused is resumed by the compliance worker at that time)')
  );
}

/**
 * The rule that keeps the campaign from dialing at `atMs`, for a refusal to name: the calling hours
 * (federal, or the orchestrator's policy under OFCOM), a declared state's hours that day, a declared
 * state's holiday (holidays.ts), the hours in another zone a declared state's recipients keep
 * (Florida's panhandle on Central time), or — when the law allows the hour everywhere the recipients
 * are — one of its blackout dates, or the campaign's own windows. Pure. The hours are read in the
 * campaign's zone first, as enforcement reads them (legal-hours.ts).
 */
export function closedBy(config: ComplianceInput, atMs: number): string {
  const local = DateTime.fromMillis(atMs, { zone: config.complianceTimeZone });
  const minute = local.hour * 60 + local.minute;
  const outside = (start: string, end: string) => minute < minutesOfDay(start) || minute >= minutesOfDay(end);
  if (outside(FEDERAL_WINDOW.start, FEDERAL_WINDOW.end)) {
    return `calling hours ${FEDERAL_WINDOW.start}–${FEDERAL_WINDOW.end} local, ${floorSource(config)}`;
  }
  const day = weekdayOf(local);
  const date = local.toISODate() ?? '';
  for (const code of config.recipientStates ?? []) {
    const rule = STATE_RULES[code];
    if (!rule) continue;
    const hours = stateHoursFor(rule, day);
    if (hours === null) return `${rule.name} (${code}) allows no calls on ${day}, ${rule.source}`;
    const holiday = holidayOn(code, date);
    if (holiday !== undefined) {
      return `${rule.name} (${code}) allows no calls on ${rule.holidays ?? 'holidays'}, and ${date} is ${holiday}`;
    }
    if (outside(hours.start, hours.end)) {
      return `${rule.name} (${code}) calling hours ${hours.start}–${hours.end} on ${day}, ${rule.source}`;
    }
  }
  // A declared state's recipients on another clock (Florida's panhandle, Indiana's border counties):
  // the hours there bind too (config-rules.ts checkOtherZonesOfStates), 08:30 in New York being 07:30
  // in Pensacola.
  for (const code of new Set(config.recipientStates ?? [])) {
    for (const other of STATE_ZONES[code] ?? []) {
      const there = DateTime.fromMillis(atMs, { zone: other });
      if (!there.isValid || there.offset === local.offset) continue;
      const thereDay = weekdayOf(there);
      const legal = legalHoursOn(thereDay, [code]);
      const minuteThere = there.hour * 60 + there.minute;
      if (legal !== null && minuteThere >= legal.startMin && minuteThere < legal.endMin) continue;
      const at = `${other} (${hhmm(minuteThere)} there)`;
      const rule = STATE_RULES[code];
      if (!rule) {
        return `${code} recipients in ${at}: calling hours ${FEDERAL_WINDOW.start}–${FEDERAL_WINDOW.end} local, ${floorSource(config)}`;
      }
      const hours = stateHoursFor(rule, thereDay);
      return hours === null
        ? `${rule.name} (${code}) allows no calls on ${thereDay} in ${at}, ${rule.source}`
        : `${rule.name} (${code}) calling hours ${hours.start}–${hours.end} on ${thereDay} in ${at}, ${rule.source}`;
    }
  }
  if (config.blackoutDates?.includes(date)) {
    return `${date} is one of its blackoutDates; the law allows calls at this hour`;
  }
  return 'its own allowedCallTimes; the law allows calls at this hour';
}
