import { z } from 'zod';
import { canonicalTimeZone, isValidTimeZone, timeZoneNameProblem } from './time-zone.js';
import type { validationIssueSchema } from './responses/common.js';

/**
 * The campaign configuration accepted by the producer API (the seed's shape). This file is the one
 * source of truth: the API validates with it, the workers trust its inferred types, the OpenAPI
 * document is generated from it. Run-time compliance rules (calling-window law, state tables) are
 * layered on top in `compliance/` through `campaignConfigSchema`'s refinement.
 */
export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const DAY_NAMES = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];

/**
 * Why a value is no day name, saying what to write instead. Days are the lower-case three-letter
 * names, as CXone's contract spells them: "Mon" or "monday" is refused, not read as "mon" — the
 * config is stored and sent to CXone as written, and a reader of it (or of the audit trail) should
 * not have to know which spellings the orchestrator folds. The message names what is wrong with a day
 * it recognises: the spaces around " mon" (its case is right), the case or length of "Mon" or
 * "monday", or both for " Monday". Pure.
 */
export function weekdayProblem(input: unknown): string {
  const days = `${WEEKDAYS.slice(0, -1).join(', ')} or ${WEEKDAYS[WEEKDAYS.length - 1]}`;
  if (typeof input !== 'string') return `must be a day name: ${days}`;
  const trimmed = input.trim();
  const folded = trimmed.toLowerCase();
  const meant = WEEKDAYS.find((day, i) => folded === day || folded === DAY_NAMES[i]);
  const shown = JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}…` : input);
  if (!meant) return `${shown} is not a day name: use ${days}`;
  const problems = [
    ...(trimmed !== input ? ['a day name has no spaces around it'] : []),
    ...(trimmed !== meant ? [`days are ${days}, in lower case`] : []),
  ];
  return `${shown} must be written "${meant}": ${problems.join(', and ')}`;
}

export const weekdaySchema = z.enum(WEEKDAYS, { error: (issue) => weekdayProblem(issue.input) });
export type Weekday = z.infer<typeof weekdaySchema>;

/** A 24-hour local time "HH:MM"; the sandbox checks raw bodies against it too. */
export const CLOCK_TIME = /^([01]\d|2[0-3]):[0-5]\d$/;

/**
 * 00:00–23:59 only. "24:00" is no time of day: a window ends at or before 23:59 of its own day
 * (windows cannot reach or cross midnight; split them), and calling hours end by 21:00 anyway.
 */
export const clockTimeSchema = z.string().regex(CLOCK_TIME, {
  error: (issue) =>
    issue.input === '24:00'
      ? 'must be a 24-hour local time HH:MM from 00:00 to 23:59: "24:00" is not one (a window cannot reach or cross midnight)'
      : 'must be a 24-hour local time HH:MM, e.g. "09:00"',
});

/** Minutes since local midnight of an "HH:MM" time (one that clockTimeSchema accepts). */
export const minutesOfDay = (hhmm: string): number =>
  Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

export const callWindowSchema = z
  .object({
    days: z.array(weekdaySchema).min(1, 'must name at least one day').max(7),
    start: clockTimeSchema,
    end: clockTimeSchema,
  })
  .strict();
export type CallWindow = z.infer<typeof callWindowSchema>;

export const timeZoneSchema = z
  .string()
  .min(1)
  .max(64)
  .refine(isValidTimeZone, { error: (issue) => timeZoneNameProblem(String(issue.input)) })
  // `Japan` is kept as Asia/Tokyo: one name for the place in the record, CXone, reports and the trail.
  .overwrite(canonicalTimeZone)
  // The rule on a fixed offset is input-only (compliance/config-rules.ts checkWrittenTimeZone): stored
  // campaigns and queued jobs read with this schema keep a zone accepted before it.
  .describe(
    "The called party's IANA time zone, e.g. America/New_York; calling windows are local time in it. " +
      "An old name of a country's zone without a `/` is kept as that zone (Japan as Asia/Tokyo, GB as " +
      'Europe/London). A zone that names no place is refused at launch and by a change that sets it: a ' +
      'fixed offset (Etc/GMT+5, Etc/UTC, UTC, GMT, EST, MST, HST) or a daylight-saving rule (CET, EST5EDT); ' +
      'name the place, e.g. America/Bogota for UTC-05:00 all year, America/New_York for EST5EDT.',
  );

export const DIALER_STRATEGIES = ['predictive', 'progressive', 'preview'] as const;

export const dialerStrategySchema = z
  .object({
    strategy: z.enum(DIALER_STRATEGIES),
    agentCapacity: z.number().int('must be a whole number').min(1).max(500),
    callRate: z.number().min(0.1).max(1.0),
    answerRate: z.number().min(0).max(1),
  })
  .strict();
export type DialerStrategy = z.infer<typeof dialerStrategySchema>;

export const PACING_STRATEGIES = ['abandonment-target', 'threshold', 'off'] as const;
export type PacingStrategy = (typeof PACING_STRATEGIES)[number];
export const DEFAULT_PACING_STRATEGY: PacingStrategy = 'abandonment-target';
export const ABANDONMENT_CAP = 0.03;
/** What pacing aims for when a config names no target: half a point of headroom under the cap. */
export const DEFAULT_TARGET_ABANDONMENT = 0.025;
/** How often a campaign's statistics are polled when its config names no interval. */
export const DEFAULT_POLL_INTERVAL_MS = 15_000;

/**
 * The `threshold` strategy's bounds (the seed's adjustment config): below `lowerAnswerRate` the call
 * rate is cut by `step`, above `upperAnswerRate` raised by it, never outside `minCallRate`..
 * `maxCallRate`. Omitted fields keep the defaults (the seed's 0.25/0.65, ±15 %, 0.1..1.0).
 */
export const DEFAULT_THRESHOLDS = {
  lowerAnswerRate: 0.25,
  upperAnswerRate: 0.65,
  minCallRate: 0.1,
  maxCallRate: 1,
  step: 0.15,
} as const;

export const thresholdsSchema = z
  .object({
    lowerAnswerRate: z.number().min(0).max(1).default(DEFAULT_THRESHOLDS.lowerAnswerRate),
    upperAnswerRate: z.number().min(0).max(1).default(DEFAULT_THRESHOLDS.upperAnswerRate),
    // CXone's own bounds for callRate.
    minCallRate: z.number().min(0.1).max(1).default(DEFAULT_THRESHOLDS.minCallRate),
    maxCallRate: z.number().min(0.1).max(1).default(DEFAULT_THRESHOLDS.maxCallRate),
    step: z.number().min(0.01).max(0.5).default(DEFAULT_THRESHOLDS.step),
  })
  .strict()
  .refine((t) => t.lowerAnswerRate < t.upperAnswerRate, {
    message: 'lowerAnswerRate must be below upperAnswerRate',
    path: ['upperAnswerRate'],
  })
  .refine((t) => t.minCallRate <= t.maxCallRate, {
    message: 'minCallRate must not be above maxCallRate',
    path: ['maxCallRate'],
  });
export type Thresholds = z.output<typeof thresholdsSchema>;

export const pacingSchema = z
  .object({
    strategy: z.enum(PACING_STRATEGIES).default(DEFAULT_PACING_STRATEGY),
    /** Abandonment the controller aims for; never above the legal 3% cap. */
    targetAbandonment: z.number().min(0.001).max(ABANDONMENT_CAP).default(DEFAULT_TARGET_ABANDONMENT),
    /** Desired statistics poll interval; stretched when the fleet's budget cannot afford it. */
    pollIntervalMs: z.number().int().min(1000).max(3_600_000).default(DEFAULT_POLL_INTERVAL_MS),
    /** The `threshold` strategy's bounds (no other strategy reads them). */
    thresholds: thresholdsSchema.optional(),
  })
  .strict();
export type PacingConfig = z.infer<typeof pacingSchema>;

export const REGULATORY_REGIMES = ['TCPA', 'OFCOM'] as const;
export type RegulatoryRegime = (typeof REGULATORY_REGIMES)[number];
export const DEFAULT_REGIME: RegulatoryRegime = 'TCPA';

/**
 * What a config is held to where it may not say: a parsed config always has every field (the
 * schema's defaults); configs rebuilt from a CXone resource or stored before a field existed may not.
 */
export const regimeOf = (config: { compliance?: { regime?: RegulatoryRegime } | undefined }) =>
  config.compliance?.regime ?? DEFAULT_REGIME;
export const targetAbandonmentOf = (config: { pacing?: { targetAbandonment?: number } | undefined }) =>
  config.pacing?.targetAbandonment ?? DEFAULT_TARGET_ABANDONMENT;
export const pacingStrategyOf = (config: { pacing?: { strategy?: PacingStrategy } | undefined }) =>
  config.pacing?.strategy ?? DEFAULT_PACING_STRATEGY;
export const doNotCallCheckOf = (config: { compliance?: { doNotCallCheck?: boolean } | undefined }) =>
  config.compliance?.doNotCallCheck ?? true;

export const complianceOptionsSchema = z
  .object({
    regime: z.enum(REGULATORY_REGIMES).default(DEFAULT_REGIME),
    /** The launch asserts the target list was scrubbed against the do-not-call registries. */
    doNotCallCheck: z.boolean().default(true),
  })
  .strict();

/**
 * How far ahead a launch may start. An outbound campaign is planned weeks ahead, not years: a later
 * start is a typo (2207 for 2027) that would otherwise sit unnoticed as a scheduled launch.
 */
export const MAX_START_AHEAD_DAYS = 366;
const MAX_START_AHEAD_MS = MAX_START_AHEAD_DAYS * 24 * 3600 * 1000;

export const usStateCodeSchema = z
  .string()
  .regex(/^[A-Z]{2}$/, 'must be a two-letter USPS state code such as "FL"');

// Unicode's line and paragraph separators break a log line or a CSV export as a newline does.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// Spaces and format characters (zero-width space, joiners, direction marks) alone show nothing.
const INVISIBLE_ONLY = /^[\p{White_Space}\p{Cf}]*$/u;
// Embeddings, overrides and isolates reorder the text after them wherever the name is shown (a
// console, a report, the log), so it reads other than it is; the marks U+200E/U+200F do not.
const BIDI_CONTROL = /[\u202a-\u202e\u2066-\u2069]/;

/**
 * What is wrong with a campaign name's text, or null: the API's schema and the sandbox's create judge
 * a name by this one rule. CXone refuses a name with control characters (422), so one accepted here
 * would fail its launch after the 202; a lone surrogate has no UTF-8 form and would reach CXone and
 * the trail as U+FFFD; a name of invisible characters names nothing an operator can find, and one
 * with bidirectional controls shows as another name.
 */
export function campaignNameTextProblem(name: string): string | null {
  if (INVISIBLE_ONLY.test(name)) return 'must not be blank';
  if (CONTROL_CHARACTER.test(name)) return 'must not contain control characters (tabs, line breaks, NUL)';
  if (LONE_SURROGATE.test(name)) return 'must be valid Unicode text (it holds a lone surrogate)';
  if (BIDI_CONTROL.test(name)) {
    return 'must not contain bidirectional embedding, override or isolate characters (U+202A–U+202E, U+2066–U+2069): they change how the name reads';
  }
  return null;
}

export const campaignNameSchema = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(200, 'must be at most 200 characters')
  .superRefine((name, ctx) => {
    // An empty name has its issue from `min` already.
    const problem = name.length === 0 ? null : campaignNameTextProblem(name);
    if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
  });

/**
 * Local dates (in `complianceTimeZone`) on which the campaign must not dial at all, whatever its
 * windows say: holidays a state forbids by date that no calendar of holidays.ts holds (Louisiana's,
 * a holiday a governor declares; state-rules.ts `notEncoded`), or the operator's own. The orchestrator's,
 * like `recipientStates`: kept in its campaign record, never sent to CXone, honoured by window
 * enforcement (windows.ts), the launch's start and every resume check.
 */
export const MAX_BLACKOUT_DATES = 366;

/**
 * A list whose entries mean something once (a state, a date): a repeat is a slip in whatever built
 * it — a merge, a copy — and named at its index rather than kept silently.
 */
function eachOnce(what: string) {
  return (items: readonly string[], ctx: z.RefinementCtx) => {
    items.forEach((item, i) => {
      if (items.indexOf(item) !== i) {
        ctx.addIssue({ code: 'custom', path: [i], message: `repeats ${item}: list each ${what} once` });
      }
    });
  };
}

export const blackoutDatesSchema = z
  .array(z.iso.date({ message: 'must be a calendar date as YYYY-MM-DD, e.g. 2026-12-25' }))
  .max(MAX_BLACKOUT_DATES, `must list at most ${MAX_BLACKOUT_DATES} dates`)
  .superRefine(eachOnce('date'))
  .describe(
    "Local dates (YYYY-MM-DD in complianceTimeZone) on which the campaign does not dial: state holidays, the operator's own days off",
  );

export const campaignConfigBaseSchema = z
  .object({
    name: campaignNameSchema,
    description: z.string().max(2000).optional(),
    startDateTime: z.iso
      .datetime({
        offset: true,
        local: false,
        message: 'must be an ISO 8601 date-time with an offset, e.g. 2026-12-01T09:00:00-05:00',
      })
      // Checked against the time of the request, so an accepted start only ever gets nearer.
      // A value the format check refused (NaN here) gets that message alone.
      .refine((value) => !(Date.parse(value) > Date.now() + MAX_START_AHEAD_MS), {
        message: `must be at most ${MAX_START_AHEAD_DAYS} days ahead; a start further out is almost always a mistyped year`,
      }),
    targetListId: z.uuid('must be a UUID'),
    skillGroupId: z.uuid('must be a UUID'),
    complianceTimeZone: timeZoneSchema,
    allowedCallTimes: z.array(callWindowSchema).min(1, 'must contain at least one calling window').max(28),
    dialerStrategy: dialerStrategySchema,
    /**
     * The US states the campaign calls. The orchestrator's own, like `pacing` and `description`: kept
     * in its campaign record, never sent to CXone (whose v2 contract has no such field).
     */
    recipientStates: z.array(usStateCodeSchema).max(60).superRefine(eachOnce('state')).optional(),
    blackoutDates: blackoutDatesSchema.optional(),
    pacing: pacingSchema.optional(),
    compliance: complianceOptionsSchema.optional(),
  })
  .strict();

export type CampaignConfigInput = z.input<typeof campaignConfigBaseSchema>;
export type CampaignConfig = z.output<typeof campaignConfigBaseSchema>;

/** One validation problem as the API reports it (its documented schema's type). */
export type ValidationIssue = z.output<typeof validationIssueSchema>;

/** The value at `path` inside `input`; undefined when any step of the way is missing. */
function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/**
 * Turns zod issues into `{path, message}` pairs with dotted paths (`dialerStrategy.callRate`,
 * `allowedCallTimes.0.end`). Unknown keys are named one by one (`dialerStrategy.speed`: "unknown
 * field"), so a client knows exactly what to drop. Given the input that was parsed, a field that is
 * missing altogether is reported as `required` instead of as a wrong value (zod says "expected string,
 * received undefined", or a schema's own message such as "must be a UUID", which reads as if a value
 * had been sent).
 */
export function toValidationIssues(error: z.ZodError, input?: unknown): ValidationIssue[] {
  return error.issues.flatMap((issue): ValidationIssue[] => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({
        path: [...issue.path, key].map(String).join('.'),
        message: 'unknown field',
      }));
    }
    // zod 4 reports a missing enum or literal as `invalid_value` ("expected one of …"), not as a type.
    const missing =
      input !== undefined &&
      (issue.code === 'invalid_type' || issue.code === 'invalid_value') &&
      valueAt(input, issue.path) === undefined;
    return [
      { path: issue.path.map(String).join('.') || '(body)', message: missing ? 'required' : issue.message },
    ];
  });
}
