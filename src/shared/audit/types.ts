import type { z } from 'zod';
import type { auditRecordFieldsSchema } from '../responses/audit.js';
import type { PreparedAudit } from './audit-script.js';

/** Every kind of record the audit trail holds. */
export const AUDIT_ACTIONS = [
  'launch_requested',
  'campaign_created',
  'campaign_launched',
  'launch_failed',
  'state_changed',
  'settings_changed',
  'conflict',
  'rollback',
  'pacing_decision',
  'compliance_action',
  'compliance_override',
  'webhook_failure',
  'webhook_destination_disabled',
  'cxone_history',
  'campaign_missing',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

// The record's shape is its response schema's (src/shared/responses/audit.ts): GET
// /v1/campaigns/{id}/audit serves records as stored.
export type AuditRecord = z.output<typeof auditRecordFieldsSchema>;

/** What a writer hands the trail: the record without what appending adds (id, time, chain hashes). */
export type AuditInput = Omit<AuditRecord, 'auditId' | 'timestamp' | 'occurredAt' | 'prevHash' | 'hash'> & {
  /** When the action happened, if not now (imported history). */
  occurredAt?: string | undefined;
};

/** Append-only, hash-chained per campaign. */
export interface AuditTrail {
  /**
   * Appends the record; when `dedupeKey` was already recorded, appends nothing. Writers only need to
   * know that it is recorded (the store's `appendWithOutcome` also gives the record).
   */
  append(input: AuditInput): Promise<void>;
  /**
   * The record built for a script of the caller's own to append together with the change it records
   * (audit-script.ts), so that both land or neither does. Optional: a trail without it (a test double)
   * is written through `append` after the change (side-records.ts auditWithChange).
   */
  prepareAppend?(input: AuditInput): PreparedAudit;
}
