import { z } from 'zod';
import { campaignStatusSchema } from '../cxone/wire.js';
import { COMMAND_STATUSES } from '../lifecycle/commands.js';
import { CAMPAIGN_ACTIONS } from '../lifecycle/state-machine.js';
import { validationIssueSchema } from './common.js';
import type { ResponseBody } from './response-body.js';

/**
 * A campaign command as GET /v1/commands/:commandId and the campaign's pending list answer it: the
 * stored record, request and outcome. src/shared/lifecycle/commands.ts takes its types from here.
 */

// A field that did not exist on one side has no value there, and JSON drops it.
export const fieldConflictSchema = z.object({
  field: z.string().describe('Config path, e.g. dialerStrategy.callRate, or `status`'),
  base: z.unknown().optional().describe('The value the command started from'),
  ours: z.unknown().optional().describe('The value the command wanted'),
  theirs: z.unknown().optional().describe('The value somebody else wrote in the meantime'),
});

export const fieldChangeSchema = z.object({
  field: z.string(),
  from: z.unknown().optional(),
  to: z.unknown().optional(),
});

export const commandWriteSchema = z.object({
  step: z
    .enum(['settings', 'status', 'orchestrator'])
    .describe('`orchestrator`: fields CXone does not hold (description, pacing, recipient states)'),
  version: z.number().int().describe('The CXone version the write produced'),
  changes: z.array(fieldChangeSchema),
  at: z.string(),
});

export const commandResultSchema = z.object({
  version: z.number().int(),
  status: campaignStatusSchema,
  writes: z.array(commandWriteSchema),
  alreadyApplied: z
    .array(z.string())
    .describe('Fields that already held the wanted value (nothing was sent for them)'),
  rebases: z.number().int().describe('Version conflicts resolved by re-reading and rebasing'),
});

export const conflictReportSchema = z.object({
  reason: z.string(),
  conflicts: z.array(fieldConflictSchema),
  issues: z
    .array(validationIssueSchema)
    .optional()
    .describe('The change is invalid on top of the latest configuration: what is wrong with the result'),
  version: z.number().int(),
  status: campaignStatusSchema,
});

export const rollbackReportSchema = z.object({
  outcome: z.enum(['restored', 'partial', 'conflict', 'failed', 'nothing_to_restore']),
  restored: z.array(fieldChangeSchema),
  conflicts: z
    .array(fieldConflictSchema)
    .describe('Fields somebody else changed after our write: left as they are'),
  version: z.number().int().optional(),
  error: z.string().optional(),
  attempt: z.number().int().optional(),
});

/** The record's fields, closed: the type the code builds and reads (lifecycle/commands.ts). */
export const commandRecordFieldsSchema = z.object({
  commandId: z.string(),
  campaignId: z.string(),
  status: z.enum(COMMAND_STATUSES),
  actor: z.string().describe('Who asked: `api:<caller>`, `pacing`, `compliance:<rule>`, …'),
  reason: z.string().describe('Why: `operator`, `pacing`, `compliance-window`, `abandonment-guard`, …'),
  action: z.enum(CAMPAIGN_ACTIONS).optional(),
  patch: z.record(z.string(), z.unknown()).optional().describe('The settings change, as requested'),
  base: z
    .record(z.string(), z.unknown())
    .optional()
    .describe('The touched fields as the requester saw them; a change of one by someone else is a conflict'),
  baseVersion: z.number().int().optional(),
  requestedAt: z.string(),
  updatedAt: z.string(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  attempts: z.number().int(),
  worker: z.string().optional().describe('The worker (host:pid) that ran the latest attempt'),
  result: commandResultSchema.optional(),
  conflict: conflictReportSchema.optional(),
  rollback: rollbackReportSchema.optional(),
  error: z
    .object({ message: z.string(), kind: z.string().optional(), status: z.number().int().optional() })
    .optional(),
});

// Loose as documented: a record stored by an earlier release keeps the fields it was written with
// for 7 days, and the routes answer the stored record as it is.
export const commandRecordSchema = commandRecordFieldsSchema.loose();
export type CommandRecordBody = z.output<typeof commandRecordFieldsSchema>;

/**
 * What a requester hands the command queue: the record's request part, and `after`, which only the
 * job carries (the record answers where the command stands through `GET …/commands`, in order).
 */
export const commandRequestSchema = commandRecordFieldsSchema
  .pick({
    campaignId: true,
    actor: true,
    reason: true,
    action: true,
    patch: true,
    base: true,
    baseVersion: true,
  })
  .extend({
    after: z
      .array(z.string())
      .optional()
      .describe('Commands of the campaign queued ahead of this one when it was accepted'),
  });

export const pendingCommandsSchema = z.object({
  campaignId: z.string(),
  pending: z.array(commandRecordSchema).describe('Unfinished commands, in the order they will be applied'),
});
export type PendingCommandsBody = ResponseBody<typeof pendingCommandsSchema>;
