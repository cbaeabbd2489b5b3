import type { AppConfig } from '../config.js';
import type { EventPublisher } from '../events/types.js';
import type { Logger } from '../logger.js';
import { publishOrLog } from '../side-records.js';
import type { AuditRecord } from './types.js';

/**
 * The audit trail's after-append hook (`AuditTrailOptions.onAppended`) that sends every appended
 * record to the webhook destination as `audit.record.appended`, the record exactly as stored (its
 * `prevHash` and `hash` included), so that the receiver holds a copy of each chain outside Redis.
 *
 * Undefined unless WEBHOOK_AUDIT_RECORDS is on and a WEBHOOK_URL is configured: then the trail gets
 * no hook and an append does no more Redis work than without this feature.
 *
 * The record is the source of truth and is already in when the hook runs: a failed publish is logged
 * (publishOrLog), never thrown, and the append stands.
 */
export function auditRecordPublisher(
  config: Pick<AppConfig, 'webhook' | 'webhookAuditRecords'>,
  deps: { events: EventPublisher; logger: Logger },
): ((record: AuditRecord) => Promise<void>) | undefined {
  if (!config.webhookAuditRecords || config.webhook === undefined) return undefined;
  return (record) =>
    publishOrLog(
      deps,
      'audit.record.appended',
      record.campaignId,
      { ...record },
      { auditId: record.auditId, action: record.action },
    );
}
