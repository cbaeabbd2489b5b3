import type { z } from 'zod';
import {
  callWindowSchema,
  campaignConfigBaseSchema,
  complianceOptionsSchema,
  minutesOfDay,
  regimeOf,
  usStateCodeSchema,
  type CampaignConfig,
  type RegulatoryRegime,
  type Weekday,
} from '../campaign-config.js';
import { STATE_RULES, USPS_CODES, stateHoursFor } from './state-rules.js';
import { legalHoursOn, hhmm } from './legal-hours.js';
import { offsetDifferences, STATE_ZONES, zoneMismatch, zonesKeepSameClock } from './state-zones.js';
import { placelessZoneProblem } from './placeless-zones.js';

/**
 * Compliance rules applied to a campaign config at submit time and on every change. Pure.
 * Each problem names the field, the rule and its source.
 */
export interface ComplianceProblem {
  path: (string | number)[];
  message: string;
}

import { FEDERAL_WINDOW } from './federal-window.js';

export { FEDERAL_WINDOW };

/**
 * The floor applied under the OFCOM regime too: UK law sets no statutory calling hours, so the
 * orchestrator keeps the same 08:00–21:00 as its own policy rather than allowing night calls.
 */
export const floorSource = (config: RegimeInput) =>
  regimeOf(config) === 'OFCOM'
    ? 'orchestrator policy for the OFCOM regime (same hours as TCPA 47 CFR 64.1200(c)(1))'
    : FEDERAL_WINDOW.source;

/** What the regime-dependent rules read of `compliance`: the regime alone. */
export interface RegimeInput {
  compliance?: { regime?: RegulatoryRegime } | undefined;
}

export function checkCallingWindows(
  config: Pick<CampaignConfig, 'allowedCallTimes'> & RegimeInput,
): ComplianceProblem[] {
  const problems: ComplianceProblem[] = [];
  const source = floorSource(config);
  // Windows of one day that overlap across entries (mon–fri 09:00–17:00 beside mon 12:00–19:00, or
  // the same window twice) are accepted: every reader takes their union — windows.ts merges
  // overlapping and touching windows into one interval with one close, and the sandbox dials inside
  // any of them — so an overlap never widens the hours past what one of the windows says, and each
  // window is still held to every rule on its own. Refusing them would refuse configs that mean
  // exactly what they say (a weekday window plus a longer Monday), and CXone's console may hold them.
  config.allowedCallTimes.forEach((window, i) => {
    // A repeated day is a typo for another one (mon, mon for mon, tue): the day meant gets no calls.
    window.days.forEach((day, j) => {
      if (window.days.indexOf(day) !== j) {
        problems.push({ path: ['allowedCallTimes', i, 'days', j], message: `${day} is listed twice` });
      }
    });
    const start = minutesOfDay(window.start);
    const end = minutesOfDay(window.end);
    if (end === start) {
      problems.push({
        path: ['allowedCallTimes', i, 'end'],
        message: `must be after start (${window.start}): a window from ${window.start} to ${window.end} is empty`,
      });
    } else if (end < start) {
      problems.push({
        path: ['allowedCallTimes', i, 'end'],
        message: `must be after start (${window.start}); a window may not end before it starts or cross midnight`,
      });
    }
    if (start < minutesOfDay(FEDERAL_WINDOW.start)) {
      problems.push({
        path: ['allowedCallTimes', i, 'start'],
        message: `${window.start} is before ${FEDERAL_WINDOW.start} local time (calling hours, ${source})`,
      });
    }
    if (end > minutesOfDay(FEDERAL_WINDOW.end)) {
      problems.push({
        path: ['allowedCallTimes', i, 'end'],
        message: `${window.end} is after ${FEDERAL_WINDOW.end} local time (calling hours, ${source})`,
      });
    }
  });
  return problems;
}

/**
 * A window's failing days grouped by what fails, so a Mon–Fri window gets one problem naming its
 * days rather than five.
 */
function dayFailures() {
  const failures = new Map<string, { field: 'days' | 'start' | 'end'; text: string; days: Weekday[] }>();
  return {
    fail(field: 'days' | 'start' | 'end', text: string, day: Weekday): void {
      const key = `${field}|${text}`;
      const entry = failures.get(key) ?? { field, text, days: [] };
      entry.days.push(day);
      failures.set(key, entry);
    },
    grouped: () => failures.values(),
  };
}

/**
 * Declared recipient states: each must be a USPS code, and every window must fit the stricter hours
 * of every declared state on each of its days (STATE_RULES, each with its statute).
 */
export function checkRecipientStates(
  config: Pick<CampaignConfig, 'allowedCallTimes' | 'recipientStates'>,
): ComplianceProblem[] {
  const problems: ComplianceProblem[] = [];
  const states = config.recipientStates ?? [];
  states.forEach((code, i) => {
    if (!USPS_CODES.has(code)) {
      problems.push({
        path: ['recipientStates', i],
        message: `"${code}" is not a US state, district or territory USPS code; recipient-state rules cannot be applied`,
      });
    }
  });
  for (const code of new Set(states)) {
    const rule = STATE_RULES[code];
    if (!rule) continue;
    config.allowedCallTimes.forEach((window, i) => {
      const { fail, grouped } = dayFailures();
      for (const day of window.days as Weekday[]) {
        const hours = stateHoursFor(rule, day);
        if (hours === null) {
          fail('days', 'calls are forbidden', day);
          continue;
        }
        if (minutesOfDay(window.start) < minutesOfDay(hours.start)) {
          fail('start', `${window.start} is before ${hours.start}`, day);
        }
        if (minutesOfDay(window.end) > minutesOfDay(hours.end)) {
          fail('end', `${window.end} is after ${hours.end}`, day);
        }
      }
      for (const { field, text, days } of grouped()) {
        problems.push({
          path: ['allowedCallTimes', i, field],
          message: `${text} on ${days.join(', ')} for ${rule.name} (${code}) recipients (${rule.source})`,
        });
      }
    });
  }
  return problems;
}

/**
 * The regime against the declared recipients: US recipients are protected by the TCPA and the FTC
 * TSR wherever the campaign is run from, so a campaign declaring US states is measured under them (3%
 * per 30-day period), not under Ofcom's UK rule (3% per 24 hours). Without it, a console switch to
 * OFCOM re-anchors the abandonment measurement and drops the 30-day history.
 */
export function checkRegime(
  config: Pick<CampaignConfig, 'recipientStates'> & RegimeInput,
): ComplianceProblem[] {
  const states = config.recipientStates ?? [];
  if (config.compliance?.regime !== 'OFCOM' || states.length === 0) return [];
  return [
    {
      path: ['compliance', 'regime'],
      message:
        `${states.join(', ')} recipients are called under the TCPA and the FTC TSR (abandonment ≤ 3% per ` +
        '30-day period, 16 CFR 310.4(b)(4)(i)); OFCOM measures UK campaigns: use TCPA',
    },
  ];
}

/**
 * From when the campaign dials, for the zone rules below to compare clocks over the year from it: its
 * start, or `nowMs` once the start is past (a campaign whose start has passed starts, or goes on
 * dialing, now). A year from a past start compares clocks the campaign never dials on: zones whose
 * rules changed since agree with a state's there and not today (America/Whitehorse kept Los Angeles's
 * clock until 2020 and keeps UTC-07:00 all year now: California recipients called from 07:00 PST all
 * winter), and a campaign dialing past its start's year is checked on none of its current days. NaN
 * without a (valid) start. Pure.
 */
export function dialingFromMs(startDateTime: string | undefined, nowMs: number): number {
  const startMs = Date.parse(startDateTime ?? '');
  return Number.isNaN(startMs) ? NaN : Math.max(startMs, nowMs);
}

/**
 * Declared recipient states against the campaign's clock: windows are read in `complianceTimeZone`,
 * and calling hours are the called party's local time, so the zone must keep the clock of one of
 * each declared state's zones (STATE_ZONES) over the year it dials from (dialingFromMs). Otherwise every
 * hour check above is made on the wrong clock: Florida recipients on Los Angeles time are dialed
 * until 23:00 their time. A campaign reaching several zones is split into one campaign per zone.
 */
export function checkStateZones(
  config: Pick<CampaignConfig, 'recipientStates' | 'complianceTimeZone'> &
    Partial<Pick<CampaignConfig, 'startDateTime'>>,
  nowMs: number = Date.now(),
): ComplianceProblem[] {
  const problems: ComplianceProblem[] = [];
  // Without a start (a command's view of the settings) there is no year to compare over: no check.
  const fromMs = dialingFromMs(config.startDateTime, nowMs);
  if (Number.isNaN(fromMs)) return problems;
  (config.recipientStates ?? []).forEach((code, i) => {
    const zones = zoneMismatch(code, config.complianceTimeZone, fromMs);
    if (zones === null) return;
    problems.push({
      path: ['recipientStates', i],
      message:
        `${code} recipients keep ${zones.join(' or ')} time, not ${config.complianceTimeZone}; calling hours are ` +
        `the called party's local time (${FEDERAL_WINDOW.source}): use one of those zones, one campaign per zone`,
    });
  });
  return problems;
}

/**
 * Declared states whose recipients keep other clocks too (the Florida panhandle on Central time,
 * El Paso on Mountain time): calling hours are each called party's local time, so a window must be
 * lawful in every zone of every declared state, not only in the one the campaign keeps. A Florida
 * campaign on New York time may not start before 09:00 (08:00 in Pensacola); on Chicago time it must
 * end by 19:00 (20:00 in Miami). Checked over the year it dials from (dialingFromMs), daylight saving included.
 * Only once the campaign's zone keeps one of the state's clocks (checkStateZones says otherwise).
 */
export function checkOtherZonesOfStates(
  config: Pick<CampaignConfig, 'allowedCallTimes' | 'recipientStates' | 'complianceTimeZone'> &
    Partial<Pick<CampaignConfig, 'startDateTime'>>,
  nowMs: number = Date.now(),
): ComplianceProblem[] {
  const fromMs = dialingFromMs(config.startDateTime, nowMs);
  if (Number.isNaN(fromMs)) return [];
  const zone = config.complianceTimeZone;
  const problems: ComplianceProblem[] = [];
  for (const state of new Set(config.recipientStates ?? [])) {
    const zones = STATE_ZONES[state] ?? [];
    if (zones.length < 2 || zoneMismatch(state, zone, fromMs) !== null) continue;
    for (const other of zones) {
      if (zonesKeepSameClock(zone, other, fromMs)) continue;
      const diffs = offsetDifferences(zone, other, fromMs);
      if (diffs.length === 0) continue;
      const earliest = Math.min(...diffs);
      const latest = Math.max(...diffs);
      const source = STATE_RULES[state]?.source ?? FEDERAL_WINDOW.source;
      config.allowedCallTimes.forEach((window, i) => {
        const start = minutesOfDay(window.start);
        const end = minutesOfDay(window.end);
        // One problem per bound broken, in the campaign's clock.
        const { fail, grouped } = dayFailures();
        for (const day of window.days as Weekday[]) {
          const legal = legalHoursOn(day, [state]);
          if (legal === null) continue; // a forbidden day is checkRecipientStates' finding
          if (start + earliest < legal.startMin) {
            fail(
              'start',
              `would be called from ${clockAt(start + earliest)} there: start at ${hhmm(legal.startMin - earliest)} ${zone} time or later`,
              day,
            );
          }
          if (end + latest > legal.endMin) {
            fail(
              'end',
              `would be called until ${clockAt(end + latest)} there: end by ${hhmm(legal.endMin - latest)} ${zone} time`,
              day,
            );
          }
        }
        for (const { field, text, days } of grouped()) {
          problems.push({
            path: ['allowedCallTimes', i, field],
            message: `${state} recipients on ${other} time ${text} on ${days.join(', ')}, or run one campaign per zone (${source})`,
          });
        }
      });
    }
  }
  return problems;
}

/** A local time minutes after the campaign day's midnight, in another zone: it may fall on another day. */
function clockAt(minutes: number): string {
  const day = 24 * 60;
  const time = hhmm(((minutes % day) + day) % day);
  return minutes < 0 ? `${time} the day before` : minutes >= day ? `${time} the next day` : time;
}

/**
 * Every config-only compliance rule, in a stable order: the one rules function, for a parsed config
 * (the schema's refinement, the guard, the report) and for what is usable of one that did not parse
 * (checkUsableCompliance). (An unknown `complianceTimeZone` is refused by the base schema itself,
 * campaign-config.ts; a zone that keeps no place's clock, such as `Etc/GMT+5`, by checkWrittenTimeZone
 * where a zone is written and in runtimeComplianceProblems — not here, as these rules also re-check a
 * stored config on every change, which must not refuse a change to another field of a campaign on
 * one.) Without a `complianceTimeZone` or a `startDateTime`, the state-zone rules are not run.
 * `unusable`: dotted paths of fields already refused as malformed; findings that only restate them, or
 * that were computed from them, are left out, so one mistake gets one message (a zone written as
 * "Eastern" is not also three recipient-state findings).
 */
export function checkCampaignCompliance(
  config: UsableComplianceInput,
  unusable: ReadonlySet<string> = new Set(),
): ComplianceProblem[] {
  const zone =
    unusable.has('complianceTimeZone') || unusable.has('startDateTime')
      ? undefined
      : config.complianceTimeZone;
  const zoned = zone === undefined ? undefined : { ...config, complianceTimeZone: zone };
  return [
    ...checkCallingWindows(config),
    ...checkRecipientStates(config),
    ...(zoned ? checkStateZones(zoned) : []),
    ...(zoned ? checkOtherZonesOfStates(zoned) : []),
    ...checkRegime(config),
  ].filter((problem) => !restatesUnusable(problem.path, unusable));
}

/**
 * Whether a finding at `path` is about a field already refused as malformed: the same field, or a
 * calling window one of whose own fields (days, start, end) is malformed. Pure.
 */
export function restatesUnusable(path: readonly (string | number)[], unusable: ReadonlySet<string>): boolean {
  if (unusable.size === 0) return false;
  if (unusable.has(path.join('.'))) return true;
  if (path[0] !== 'allowedCallTimes' || path.length < 2) return false;
  const window = `allowedCallTimes.${String(path[1])}`;
  return [...unusable].some((p) => p === window || p.startsWith(`${window}.`));
}

/** What the rules read of a config; without `startDateTime` the state zones are not checked. */
export type ComplianceInput = Pick<CampaignConfig, 'allowedCallTimes' | 'complianceTimeZone'> &
  Partial<Pick<CampaignConfig, 'recipientStates' | 'blackoutDates' | 'compliance' | 'startDateTime'>>;

/**
 * What the rules can read of a config as far as it is usable (a ComplianceInput is one): without a
 * zone, no state-zone rule; of `compliance`, the regime alone.
 */
export type UsableComplianceInput = Pick<CampaignConfig, 'allowedCallTimes'> &
  Partial<Pick<CampaignConfig, 'complianceTimeZone' | 'recipientStates' | 'startDateTime'>> &
  RegimeInput;

/** A field of `value` when it is an object (not an array), else undefined. */
function fieldOf(value: unknown, key: string): unknown {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)[key]
    : undefined;
}

/** The value `schema` makes of `input`, or undefined when it refuses it. */
function usable<T>(schema: z.ZodType<T>, input: unknown): T | undefined {
  const parsed = schema.safeParse(input);
  return parsed.success ? parsed.data : undefined;
}

/** The elements of `list` that `schema` accepts, each on its own, with their indexes in `list`. */
function usableElements<T>(schema: z.ZodType<T>, list: unknown): { items: T[]; at: number[] } {
  const items: T[] = [];
  const at: number[] = [];
  if (Array.isArray(list)) {
    list.forEach((element: unknown, i) => {
      const parsed = schema.safeParse(element);
      if (parsed.success) {
        items.push(parsed.data);
        at.push(i);
      }
    });
  }
  return { items, at };
}

const shape = campaignConfigBaseSchema.shape;

/**
 * The best-effort view of a config that did not parse as a whole, for the rules: each field they read
 * parsed on its own with its own schema (the base schema's), kept when it parses and left out when it
 * does not; calling windows and recipient states element by element, with `windowAt`/`stateAt` the
 * index in the input of each one kept. A field left out skips what needs it: no window, no finding
 * about it; no zone or start, no state-zone rule; no regime, the default's (whose hours are the same).
 * Nothing is made up for a broken field. Pure.
 */
export function usableComplianceView(value: unknown): {
  config: UsableComplianceInput;
  windowAt: number[];
  stateAt: number[];
} {
  const windows = usableElements(callWindowSchema, fieldOf(value, 'allowedCallTimes'));
  const statesSent = fieldOf(value, 'recipientStates');
  const states = usableElements(usStateCodeSchema, statesSent);
  const complianceSent = fieldOf(value, 'compliance');
  const compliance =
    usable(shape.compliance, complianceSent) ??
    // A group refused for another field (doNotCallCheck: "no") still says which regime is meant.
    (complianceSent === undefined
      ? undefined
      : { regime: usable(complianceOptionsSchema.shape.regime, fieldOf(complianceSent, 'regime')) });
  return {
    config: {
      allowedCallTimes: windows.items,
      recipientStates: Array.isArray(statesSent) ? states.items : undefined,
      complianceTimeZone: usable(shape.complianceTimeZone, fieldOf(value, 'complianceTimeZone')),
      startDateTime: usable(shape.startDateTime, fieldOf(value, 'startDateTime')),
      compliance,
    },
    windowAt: windows.at,
    stateAt: states.at,
  };
}

/**
 * The compliance problems of what is usable of a config that did not parse as a whole (a day spelt
 * "Mon" in one window does not hide a window past 21:00 in another): checkCampaignCompliance on
 * usableComplianceView, with each finding's path pointing back into the input. Findings about fields
 * in `unusable` are left out (restatesUnusable). Pure.
 */
export function checkUsableCompliance(
  value: unknown,
  unusable: ReadonlySet<string> = new Set(),
): ComplianceProblem[] {
  const view = usableComplianceView(value);
  const { windowAt, stateAt } = view;
  // A zone refused though it parses (checkWrittenTimeZone) skips the rules computed from it.
  const config = unusable.has('complianceTimeZone')
    ? { ...view.config, complianceTimeZone: undefined }
    : view.config;
  const inInput = (path: (string | number)[]): (string | number)[] => {
    const [field, index, ...rest] = path;
    const at = field === 'allowedCallTimes' ? windowAt : field === 'recipientStates' ? stateAt : undefined;
    return at && typeof index === 'number' ? [field as string, at[index] ?? index, ...rest] : path;
  };
  return checkCampaignCompliance(config)
    .map((problem) => ({ ...problem, path: inInput(problem.path) }))
    .filter((problem) => !restatesUnusable(problem.path, unusable));
}

/**
 * The input-only rule on `complianceTimeZone`: the zone must be a place's (America/Bogota), not a
 * fixed offset that no called party's clock keeps (`Etc/GMT+5`, `Etc/UTC`, `UTC`; placeless-zones.ts),
 * whose calling hours are off by the daylight-saving hour half the year. Run on a zone as someone
 * writes it — a launch, /validate and `cxo validate` (campaign-check.ts checkCampaignConfig), a change
 * that sets the zone (lifecycle/config-view.ts validateChange) — and on the zone CXone holds while a
 * campaign runs (deployment-policy.ts runtimeComplianceProblems: a console move to `Etc/GMT+5` is a
 * breach the poll pauses, whatever the recipient states). Never where a stored config is re-checked
 * for a change, so that campaigns and queued jobs accepted before the rule keep loading and taking
 * changes to their other fields. Nothing for a zone the schema refuses (it names that). Pure.
 */
export function checkWrittenTimeZone(value: unknown): ComplianceProblem[] {
  const zone = usable(shape.complianceTimeZone, fieldOf(value, 'complianceTimeZone'));
  const message = zone === undefined ? undefined : placelessZoneProblem(zone);
  return message === undefined ? [] : [{ path: ['complianceTimeZone'], message }];
}

/** Problems as the API, the audit trail and the report show them: dotted paths. */
export function describeProblems(
  problems: readonly ComplianceProblem[],
): { path: string; message: string }[] {
  return problems.map((p) => ({ path: p.path.join('.'), message: p.message }));
}

/**
 * zod refinement hook used by `campaignConfigSchema`, which runs it even when other fields failed
 * (`when`): on a config that parsed, the rules on it; otherwise the rules on what is usable of it
 * (checkUsableCompliance), so that one answer names every problem. A finding that repeats an issue
 * already raised (same path and message) is not added again.
 */
export function refineCampaignCompliance(config: CampaignConfig, ctx: z.RefinementCtx): void {
  const pathOf = (path: readonly PropertyKey[] | undefined) => (path ?? []).map(String).join('.');
  const problems =
    ctx.issues.length === 0
      ? checkCampaignCompliance(config)
      : // zod hands the values as far as they parsed, broken fields as given (or not an object at all).
        checkUsableCompliance(config as unknown, new Set(ctx.issues.map((issue) => pathOf(issue.path))));
  const raised = new Set(ctx.issues.map((issue) => `${pathOf(issue.path)}\n${issue.message}`));
  for (const problem of problems) {
    const key = `${pathOf(problem.path)}\n${problem.message}`;
    if (raised.has(key)) continue;
    raised.add(key);
    ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
  }
}
