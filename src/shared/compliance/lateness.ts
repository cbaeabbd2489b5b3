import type { ComplianceActionEntry } from './state-store.js';

/** A window action this much later than planned still counts as on time (queue and poll latency). */
export const ON_TIME_TOLERANCE_MS = 60_000;

/** A calling-window pause issued later than its close allows (`window_pause`; a re-issue is not one). */
export function isLatePause(entry: Pick<ComplianceActionEntry, 'kind' | 'details'>): boolean {
  return (
    entry.kind === 'window_pause' &&
    entry.details.reissued !== true &&
    Number(entry.details.lateByMs ?? 0) > ON_TIME_TOLERANCE_MS
  );
}

/** A calling-window pause that went through on CXone after the close it was due by: dialing after it. */
export function isLateLanding(entry: Pick<ComplianceActionEntry, 'kind' | 'details'>): boolean {
  return entry.kind === 'window_pause_landed' && Number(entry.details.lateByMs ?? 0) > 0;
}

/**
 * Whether an action is one the compliance report's `adherent` turns on (a late pause, a late landing):
 * such an action is kept apart from the capped log, so that it never drops out of the report however
 * long the campaign runs. Pure.
 */
export function countsAgainstAdherence(entry: Pick<ComplianceActionEntry, 'kind' | 'details'>): boolean {
  return isLatePause(entry) || isLateLanding(entry);
}
