import type { ComplianceActionEntry } from './state-store.js';

/** A window action this much later than planned still counts as on time (queue and poll latency). */
export const ON_TIME_TOLERANCE_MS = 60_000;

type Judged = Pick<ComplianceActionEntry, 'kind' | 'details'>;

/** How late an action was, in ms (its `lateByMs`; 0 when it says none). */
export function lateByMs(entry: Judged): number {
  return Number(entry.details.lateByMs ?? 0);
}

/** A calling-window pause the window issued (`window_pause`; a re-issue of one is not another). */
export function isWindowPause(entry: Judged): boolean {
  return entry.kind === 'window_pause' && entry.details.reissued !== true;
}

/** A calling-window pause issued later than its close allows. */
export function isLatePause(entry: Judged): boolean {
  return isWindowPause(entry) && lateByMs(entry) > ON_TIME_TOLERANCE_MS;
}

/** A calling-window pause that went through on CXone after the close it was due by: dialing after it. */
export function isLateLanding(entry: Judged): boolean {
  return entry.kind === 'window_pause_landed' && lateByMs(entry) > 0;
}

/**
 * Someone else's pause or stop (an operator's, queued ahead of the window's pause) that stopped the
 * campaign after the close the window's pause was due by: the window's pause found it in place (or the
 * campaign ended), and the campaign dialed past the close until it landed (`window_pause_released`
 * with `lateByMs`).
 */
export function isLateStop(entry: Judged): boolean {
  return entry.kind === 'window_pause_released' && lateByMs(entry) > 0;
}

/**
 * Whether an action is one the compliance report's `adherent` turns on (a late pause, a late landing,
 * a late stop by someone else's pause):
 * such an action is kept apart from the capped log, so that it never drops out of the report however
 * long the campaign runs. Pure.
 */
export function countsAgainstAdherence(entry: Judged): boolean {
  return isLatePause(entry) || isLateLanding(entry) || isLateStop(entry);
}
