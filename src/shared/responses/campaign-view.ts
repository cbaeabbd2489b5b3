import { z } from 'zod';
import { campaignConfigBaseSchema } from '../campaign-config.js';
import { campaignStatsSchema, campaignStatusSchema } from '../cxone/wire.js';
import { pacingRecordSchema } from '../pacing/record-schema.js';
import { commandRecordFieldsSchema } from './commands.js';

/**
 * GET /v1/campaigns/:campaignId: the view campaignView (src/producers/routes/campaigns.ts) builds
 * from the campaign record. Closed: the view names its fields one by one, so an answer carrying a
 * field this schema does not name is a drift the conformance test catches.
 */

export const efficiencySchema = z.object({
  efficiencyScore: z.number(),
  answerRate: z.number(),
  abandonmentRate: z.number(),
  complianceViolationFrequency: z.number(),
  totalCalls: z.number().int(),
});

/**
 * What the adjust worker notes on the campaign record when a command finishes: the command's identity
 * and outcome, the full record being GET /v1/commands/{commandId}.
 */
export const lastCommandSchema = commandRecordFieldsSchema
  .pick({ commandId: true, status: true, actor: true, reason: true, action: true })
  .extend({
    version: z
      .number()
      .int()
      .optional()
      .describe('The CXone version the command left (absent: it wrote nothing)'),
    at: z.string().describe('When the command reached this status'),
  })
  .describe('The latest command of the campaign that finished (GET /v1/commands/{commandId} has the rest)');

export const campaignViewSchema = z.object({
  campaignId: z.string(),
  launchId: z.string().optional(),
  status: campaignStatusSchema,
  activateAt: z
    .string()
    .optional()
    .describe(
      'A scheduled campaign: when its activation job will activate it (its start, moved to a calling-window open)',
    ),
  version: z.number().int(),
  config: campaignConfigBaseSchema,
  lastStats: campaignStatsSchema.extend({ at: z.string() }).optional(),
  efficiency: efficiencySchema.nullable().optional().describe('null until the campaign has placed a call'),
  pacing: pacingRecordSchema
    .optional()
    .describe(
      "Pacing's record: its latest decision and adjustment, the guard's cap, the controller's memory",
    ),
  polling: z
    .object({ effectiveIntervalMs: z.number(), desiredIntervalMs: z.number() })
    .optional()
    .describe('Statistics poll interval: desired by the campaign, effective after the fleet budget'),
  lastCommand: lastCommandSchema.optional(),
  missingOnCxone: z
    .object({ since: z.string() })
    .optional()
    .describe(
      'CXone answers 404 for the campaign since then (deleted outside the orchestrator); the rest is as last known',
    ),
  activationFailed: z
    .object({ reason: z.string(), at: z.string() })
    .optional()
    .describe(
      'A scheduled campaign whose activation gave up for good: it stays scheduled on CXone and nothing will activate it (no activateAt)',
    ),
  syncedAt: z.string().optional().describe('When the CXone part was last read or written'),
  updatedAt: z.string(),
  stale: z
    .literal(true)
    .optional()
    .describe(
      'The view could not be, or was not, refreshed from CXone just now: this is the cached view, as of syncedAt',
    ),
  staleReason: z
    .string()
    .optional()
    .describe(
      'Why it was not refreshed: CXone could not be read (credentials refused, CXone 5xx or unreachable, ' +
        'no rate budget, …); a command is changing the campaign on CXone, whose result it records ' +
        'itself (ask again in a moment); or the fleet claim is contested — another fleet is on ' +
        'KEY_PREFIX, and a refresh writes, so none is made until one fleet is stopped',
    ),
});
export type CampaignViewBody = z.output<typeof campaignViewSchema>;
