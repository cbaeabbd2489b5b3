import { z } from 'zod';
import type { HistoryImportResult } from '../audit/history-import.js';
import type { VerifyResult } from '../audit/trail.js';
import type { Describes, ResponseBody } from './shape-check.js';

/** The audit routes' answers besides the page: a chain's verification and a history import. */

const CHAIN_BREAK_REASONS = [
  'hash_mismatch',
  'missing_previous',
  'missing_record',
  'head_mismatch',
  'unparseable',
  'wrong_campaign',
  'forbidden_key',
  'not_canonical',
  'unexplained_anchor',
  'unchained_record',
] as const satisfies readonly VerifyResult['broken'][number]['reason'][];

const chainBreakSchema = z.object({
  campaignId: z.string(),
  auditId: z
    .string()
    .nullable()
    .describe('The record at which the chain stops being provable (`head_mismatch`: the last one present)'),
  index: z
    .number()
    .int()
    .describe('Its 0-based position in the chain; -1 for a record no chain reaches (`unchained_record`)'),
  reason: z.enum(CHAIN_BREAK_REASONS),
  streamId: z.string().optional(),
  expected: z.string().optional(),
  actual: z.string().optional(),
});

/** GET /v1/campaigns/:campaignId/audit/verify: the verification without its list of every break. */
export const auditVerifySchema = z.object({
  ok: z.boolean().describe('The chain is intact (from its retention cut, if it has one)'),
  checked: z.number().int().describe('Records checked'),
  campaigns: z.number().int().describe('Chains checked'),
  firstBroken: chainBreakSchema.optional().describe('Where the chain stops being provable (absent when ok)'),
  retentionCuts: z
    .array(
      z.object({
        campaignId: z.string(),
        before: z
          .string()
          .nullable()
          .describe('Records older than this were trimmed on purpose (null: a cut of an earlier release)'),
        anchor: z.string().describe("The hash the chain starts from (the last trimmed record's)"),
      }),
    )
    .optional()
    .describe(
      'The chain starts at a retention cut (with `checked: 0`: every record was trimmed, and the head is the anchor)',
    ),
  unfinishedTrim: z
    .object({
      before: z.string(),
      pendingRecords: z.number().int().describe('Records older than the cut still held, not checked'),
      runningBy: z
        .object({ host: z.string(), pid: z.number().int(), since: z.string() })
        .optional()
        .describe('Who holds the trim lock: still running (absent: it crashed; the next trim finishes it)'),
    })
    .optional()
    .describe('A retention trim has not finished (`npm run audit -- trim` finishes it)'),
});
export type AuditVerifyBody = ResponseBody<typeof auditVerifySchema>;

/** POST /v1/campaigns/:campaignId/audit/import-history. */
export const historyImportSchema = z.object({
  campaignId: z.string(),
  imported: z.number().int().describe('Records appended to the trail by this import'),
  skipped: z.number().int().describe('Records already in the trail from an earlier import'),
  pages: z.number().int(),
  lastVersion: z
    .number()
    .int()
    .describe(
      'The highest CXone version in the history walked (0 for none): the import covers every change up to it',
    ),
});
export type HistoryImportBody = ResponseBody<typeof historyImportSchema>;

export const _auditVerify: Describes<Omit<VerifyResult, 'broken'>, AuditVerifyBody> = true;
export const _historyImport: Describes<HistoryImportResult, HistoryImportBody> = true;
