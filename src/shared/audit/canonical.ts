import { createHash } from 'node:crypto';
import { canonicalJson } from '../canonical-json.js';
import type { AuditRecord } from './types.js';

/** SHA-256 (hex) of a record's canonical JSON without its `hash` (what hashRecord hashes). */
export function hashCanonical(unhashedJson: string): string {
  return createHash('sha256').update(unhashedJson).digest('hex');
}

/** SHA-256 (hex) over the canonical form of a record without its own `hash` (prevHash included). */
export function hashRecord(record: Omit<AuditRecord, 'hash'> | AuditRecord): string {
  const { hash: _ignored, ...rest } = record as AuditRecord;
  return hashCanonical(canonicalJson(rest));
}

/**
 * The record with `hash` added at its sorted place among the top-level keys. Given a record whose
 * keys are already in canonical order (parsed from canonical JSON), JSON.stringify of the result is
 * its canonical JSON, without sorting the whole record again.
 */
export function withHash(unhashed: Omit<AuditRecord, 'hash'>, hash: string): AuditRecord {
  const out: Record<string, unknown> = {};
  let placed = false;
  for (const [key, value] of Object.entries(unhashed)) {
    if (!placed && key > 'hash') {
      out.hash = hash;
      placed = true;
    }
    out[key] = value;
  }
  if (!placed) out.hash = hash;
  return out as unknown as AuditRecord;
}
