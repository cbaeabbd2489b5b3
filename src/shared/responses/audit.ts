import { z } from 'zod';
import { AUDIT_ACTIONS } from '../audit/types.js';
import { efficiencySchema } from './campaign-view.js';

/**
 * The audit trail's shapes: its records and pages, a chain's verification and a history import.
 * src/shared/audit takes its types from here, so the documented answers and the code are one shape.
 */

/**
 * A record's fields, closed: the type the trail builds and reads (audit/types.ts). Some fields carry
 * comments rather than descriptions: a description would change the published document.
 */
export const auditRecordFieldsSchema = z.object({
  auditId: z.string(),
  campaignId: z.string(),
  action: z.enum(AUDIT_ACTIONS),
  /** Who did it: `api:<caller>` for API callers, `worker:<queue>` for the fleet, `cxone:<actor>` for imported history. */
  actor: z.string(),
  /** The CXone version the action produced or was based on, when known. */
  cxoneVersion: z.number().int().optional(),
  details: z.record(z.string(), z.unknown()),
  metrics: efficiencySchema.nullable().optional(),
  timestamp: z.string(),
  /** When the action happened: the append's time, or the imported history's own. */
  occurredAt: z.string(),
  /** Hash of the previous record of the same campaign ("" for the first). */
  prevHash: z.string(),
  /** SHA-256 over this record's canonical form, prevHash included. */
  hash: z.string(),
  dedupeKey: z
    .string()
    .optional()
    .describe('Imported history: the CXone history id, so the same record is never appended twice'),
});

// Loose as documented: a record is served exactly as stored, and one an earlier release wrote may
// carry a field this one no longer writes.
export const auditRecordSchema = auditRecordFieldsSchema.loose();

export const auditGapSchema = z.object({
  streamId: z.string().describe("The record's id in the campaign's index"),
  reason: z
    .enum(['missing', 'unparseable'])
    .describe(
      '`missing`: the trail no longer holds the record; `unparseable`: its stored text is not a record',
    ),
  auditId: z.string().optional().describe('Its auditId, as the index names it'),
});

/** A page as the trail builds it (closed records); the documented page is its loose-record copy. */
export const auditPageFieldsSchema = z.object({
  records: z.array(auditRecordFieldsSchema),
  /** Pass back as `cursor` for the next page; null when this page reached the end of the trail. */
  nextCursor: z.string().nullable(),
  gaps: z
    .array(auditGapSchema)
    .optional()
    .describe(
      "Records of this page's range that could not be returned (absent when none): the page is not the whole trail there; `npm run audit -- verify` names why",
    ),
});

/** GET /v1/campaigns/:campaignId/audit. */
export const auditPageSchema = auditPageFieldsSchema.extend({ records: z.array(auditRecordSchema) });

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
  'missing_chain',
  'damaged_key',
] as const;

export const chainBreakSchema = z.object({
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

/** Who holds the retention trim's lock: stored as JSON in `{cxo}:audit-trim-lock`. */
export const auditTrimLockHolderSchema = z.object({
  host: z.string(),
  pid: z.number().int(),
  since: z.string(),
});

/** What the trail's verify() finds; the route answers it without `broken` (auditVerifySchema). */
export const verifyResultSchema = z.object({
  ok: z.boolean().describe('The chain is intact (from its retention cut, if it has one)'),
  checked: z.number().int().describe('Records checked'),
  campaigns: z.number().int().describe('Chains checked'),
  firstBroken: chainBreakSchema.optional().describe('Where the chain stops being provable (absent when ok)'),
  broken: z.array(chainBreakSchema).describe('The first break of every broken campaign'),
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
      runningBy: auditTrimLockHolderSchema
        .optional()
        .describe('Who holds the trim lock: still running (absent: it crashed; the next trim finishes it)'),
    })
    .optional()
    .describe('A retention trim has not finished (`npm run audit -- trim` finishes it)'),
});

/** GET /v1/campaigns/:campaignId/audit/verify: the verification without its list of every break. */
export const auditVerifySchema = verifyResultSchema.omit({ broken: true });
export type AuditVerifyBody = z.output<typeof auditVerifySchema>;

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
export type HistoryImportBody = z.output<typeof historyImportSchema>;
