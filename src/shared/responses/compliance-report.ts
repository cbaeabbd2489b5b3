import { z } from 'zod';
import { callWindowSchema, REGULATORY_REGIMES, weekdaySchema } from '../campaign-config.js';
import { COMPLIANCE_ACTION_KINDS } from '../compliance/state-store.js';
import { campaignStatusSchema } from '../cxone/wire.js';
import { validationIssueSchema } from './common.js';

/**
 * GET /v1/campaigns/:campaignId/compliance: the report buildComplianceReport (compliance/report.ts)
 * builds from stored state, typed from this schema.
 */

const complianceActionSchema = z.object({
  at: z.string(),
  kind: z.enum(COMPLIANCE_ACTION_KINDS),
  details: z.record(z.string(), z.unknown()),
});

const dayHoursSchema = z.object({ start: z.string(), end: z.string() });

const stateRuleSchema = z.object({
  code: z.string(),
  encoded: z.literal(true).describe('A rule stricter than the federal one is encoded for this state'),
  name: z.string(),
  hours: dayHoursSchema.describe('Local calling hours on every day `days` does not override'),
  days: z
    .partialRecord(weekdaySchema, dayHoursSchema.nullable())
    .optional()
    .describe('Per-weekday overrides; null forbids calling that day'),
  maxCallsPer24h: z.number().int().optional(),
  notEncoded: z
    .string()
    .optional()
    .describe('A part of the rule the table cannot hold (days forbidden by date: state holidays)'),
  holidays: z
    .string()
    .optional()
    .describe('The holidays on which the state forbids calls, with sources; a calendar of them is computed'),
  upcomingHolidays: z
    .array(z.object({ date: z.string(), name: z.string() }))
    .optional()
    .describe(
      "The calendar's next dates from today in the campaign's zone (up to 10): no window opens on them",
    ),
  source: z.string().describe('The statute or regulation, with section'),
});

const stateNotEncodedSchema = z.object({
  code: z.string(),
  encoded: z.literal(false),
  note: z.string(),
});

const periodSchema = z.object({
  index: z.number().int(),
  start: z.string(),
  end: z.string(),
  answeredCalls: z.number(),
  abandonedCalls: z.number(),
  totalCalls: z.number(),
  complianceViolations: z.number(),
  rate: z.number().nullable().describe('abandoned / answered; null with no live answer'),
  withinCap: z.boolean(),
});

const currentPeriodSchema = periodSchema.omit({ totalCalls: true, complianceViolations: true });

const regimeSchema = z.enum(REGULATORY_REGIMES);

export const complianceReportSchema = z.object({
  campaignId: z.string(),
  generatedAt: z.string(),
  status: campaignStatusSchema,
  regime: regimeSchema,
  timeZone: z.string(),
  rules: z.object({
    callingHours: z.object({ start: z.string(), end: z.string(), source: z.string() }),
    allowedCallTimes: z.array(callWindowSchema),
    blackoutDates: z
      .array(z.string())
      .describe("The campaign's blackoutDates, ascending: local dates on which it does not dial"),
    settingsProblems: z
      .array(validationIssueSchema)
      .describe('The settings as CXone holds them against the rules (not empty after a console change)'),
    recipientStates: z.array(z.discriminatedUnion('encoded', [stateRuleSchema, stateNotEncodedSchema])),
    abandonment: z.object({
      target: z.number(),
      cap: z.number(),
      measurement: z.string(),
      source: z.string(),
    }),
  }),
  window: z.object({
    open: z.boolean(),
    localTime: z.string(),
    currentClose: z.string().nullable(),
    nextOpen: z.string().nullable(),
    pausedByWindow: z.boolean(),
    enforcement: z.object({
      pauses: z.number().int(),
      resumes: z.number().int(),
      resumesWithheld: z.number().int(),
      latePauses: z.number().int(),
      maxPauseLatenessMs: z.number().nullable(),
      pausesLanded: z.number().int(),
      pausesLandedLate: z.number().int(),
      maxPauseLandingLatenessMs: z.number().nullable(),
      pausesOvertakenLate: z
        .number()
        .int()
        .describe(
          "Window pauses overtaken by someone else's pause (found in place) or stop (which ended the campaign), queued ahead, that stopped the dialing only after the close the window's was due by",
        ),
      recent: z.array(complianceActionSchema).describe('The latest window actions (up to 20)'),
    }),
    cxoneComplianceViolations: z.number().nullable(),
    adherent: z
      .boolean()
      .nullable()
      .describe(
        'CXone counted no violations, every window pause was issued on time and landed by its close, and no pause or stop that stopped the campaign in its stead landed after that close; null without stats',
      ),
  }),
  abandonment: z.object({
    regime: regimeSchema,
    target: z.number(),
    cap: z.number(),
    measurement: z.string(),
    current: currentPeriodSchema.nullable().describe('The period holding now; null before the first poll'),
    periods: z.array(periodSchema).describe('Closed periods, oldest first'),
  }),
  violations: z.object({
    total: z.number().nullable(),
    totalCalls: z.number().nullable(),
    frequency: z.number().nullable().describe('CXone compliance violations per call placed'),
    periodsOverCap: z.number().int(),
  }),
  guardActions: z.array(complianceActionSchema),
  doNotCall: z.object({
    checked: z.boolean(),
    overrides: z.array(complianceActionSchema),
  }),
});
export type ComplianceReportBody = z.output<typeof complianceReportSchema>;
