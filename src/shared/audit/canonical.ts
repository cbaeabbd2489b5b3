import { createHash } from 'node:crypto';
import { canonicalJson } from '../canonical-json.js';
import type { AuditRecord } from './types.js';

/** SHA-256 (hex) over the canonical form of a record without its own `hash` (prevHash included). */
export function hashRecord(record: Omit<AuditRecord, 'hash'> | AuditRecord): string {
  const { hash: _ignored, ...rest } = record as AuditRecord;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex');
}
