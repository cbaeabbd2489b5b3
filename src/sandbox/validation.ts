import type { z } from 'zod';
import {
  CLOCK_TIME,
  campaignNameTextProblem,
  minutesOfDay,
  toValidationIssues,
} from '../shared/campaign-config.js';
import { isValidTimeZone, tzDatabaseSpelling } from '../shared/time-zone.js';
import type { FieldProblem } from './errors.js';

/**
 * One `{field, message}` per invalid field, with dotted paths; unknown keys are named one by one
 * (`dialerSettings.colour`), because CXone rejects them and a client needs to know exactly which ones
 * to drop.
 */
export function zodProblems(error: z.ZodError, input: unknown): FieldProblem[] {
  // With the input, a field left out altogether reads "required", not "expected string, received undefined".
  return toValidationIssues(error, input).map(({ path, message }) => ({ field: path, message }));
}

/**
 * Checks the wire schema cannot express: the zone must be a real IANA zone, spelt as the tz database
 * spells it, and every calling window must end after it starts. Works on the raw body so its findings join the schema's in one 422.
 */
export function complianceSettingsProblems(settings: unknown, prefix = 'complianceSettings'): FieldProblem[] {
  if (settings === null || typeof settings !== 'object') return [];
  const problems: FieldProblem[] = [];
  const { timeZone, allowedCallTimes } = settings as { timeZone?: unknown; allowedCallTimes?: unknown };
  if (typeof timeZone === 'string' && timeZone.length > 0 && !isValidTimeZone(timeZone)) {
    problems.push({
      field: `${prefix}.timeZone`,
      message: `unknown time zone "${timeZone}"; use an IANA zone such as America/New_York`,
    });
  } else if (typeof timeZone === 'string' && tzDatabaseSpelling(timeZone) !== timeZone) {
    // Intl (and so Luxon, here) matches zone names case-insensitively, but tz names are
    // case-sensitive identifiers elsewhere (zoneinfo file names, Java's ZoneId): a stand-in that
    // stored `america/new_york` would hide a client whose zone a real platform cannot look up.
    problems.push({
      field: `${prefix}.timeZone`,
      message: `write the zone as the tz database spells it: "${tzDatabaseSpelling(timeZone)}", not "${timeZone}"`,
    });
  }
  if (Array.isArray(allowedCallTimes)) {
    allowedCallTimes.forEach((window: unknown, i) => {
      if (window === null || typeof window !== 'object') return;
      const { start, end } = window as { start?: unknown; end?: unknown };
      if (
        typeof start === 'string' &&
        typeof end === 'string' &&
        CLOCK_TIME.test(start) &&
        CLOCK_TIME.test(end)
      ) {
        if (minutesOfDay(end) <= minutesOfDay(start)) {
          problems.push({
            field: `${prefix}.allowedCallTimes.${i}.end`,
            message: `must be after start (${start})`,
          });
        }
      }
    });
  }
  return problems;
}

/**
 * A campaign name is what operators pick it by in the console and reports: the schema's `min(1)`
 * lets `"   "` or a name carrying control characters through, which a real platform's required
 * display-name field refuses. Only names the schema accepted are looked at, so one field gets one
 * problem.
 */
export function nameProblems(name: unknown): FieldProblem[] {
  if (typeof name !== 'string' || name.length === 0 || name.length > 200) return [];
  const problem = campaignNameTextProblem(name);
  return problem === null ? [] : [{ field: 'name', message: problem }];
}

/** Merges problem lists, dropping exact duplicates. */
export function mergeProblems(...lists: FieldProblem[][]): FieldProblem[] {
  const seen = new Set<string>();
  const out: FieldProblem[] = [];
  for (const p of lists.flat()) {
    const key = `${p.field}\u0000${p.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(p);
  }
  return out;
}
