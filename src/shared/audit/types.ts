import type { EfficiencyMetrics } from '../efficiency.js';

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

export interface AuditInput {
  campaignId: string;
  action: AuditAction;
  /** Who did it: `api:<caller>` for API callers, `worker:<queue>` for the fleet, `cxone:<actor>` for imported history. */
  actor: string;
  /** The CXone version the action produced or was based on, when known. */
  cxoneVersion?: number | undefined;
  details: Record<string, unknown>;
  metrics?: EfficiencyMetrics | null | undefined;
  /** When the action happened, if not now (imported history). */
  occurredAt?: string | undefined;
  /** Deduplication key for imported records: the same key is never appended twice. */
  dedupeKey?: string | undefined;
}

export interface AuditRecord extends Omit<AuditInput, 'occurredAt' | 'dedupeKey'> {
  auditId: string;
  timestamp: string;
  occurredAt: string;
  /** Hash of the previous record of the same campaign ("" for the first). */
  prevHash: string;
  /** SHA-256 over this record's canonical form, prevHash included. */
  hash: string;
  dedupeKey?: string | undefined;
}

/** Append-only, hash-chained per campaign. */
export interface AuditTrail {
  /**
   * Appends the record; when `dedupeKey` was already recorded, appends nothing. Writers only need to
   * know that it is recorded (the store's `appendWithOutcome` also gives the record).
   */
  append(input: AuditInput): Promise<void>;
}
