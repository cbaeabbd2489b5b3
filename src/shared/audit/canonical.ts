import { createHash } from 'node:crypto';
import { canonicalJson } from '../canonical-json.js';
import type { AuditRecord } from './types.js';

/** SHA-256 (hex) of a record's canonical JSON without its `hash` (what hashRecord hashes). */
function hashCanonical(unhashedJson: string): string {
  return createHash('sha256').update(unhashedJson).digest('hex');
}

/** SHA-256 (hex) over the canonical form of a record without its own `hash` (prevHash included). */
export function hashRecord(record: Omit<AuditRecord, 'hash'> | AuditRecord): string {
  const { hash: _ignored, ...rest } = record as AuditRecord;
  return hashCanonical(canonicalJson(rest));
}

/** A record's hash (over its canonical JSON without the hash) and its stored canonical JSON. */
export interface SealedRecord {
  hash: string;
  json: string;
}

/**
 * Seals a record from the canonical JSON of its members that sort before `hash` and of those that
 * sort after it (each a non-empty object): every member of a record but the hash falls on one side
 * (action … details before, metrics … timestamp after). Joined, they are exactly the canonical JSON
 * of the record without and with `hash`, so the hash is taken over the one and the other is stored
 * without parsing and rebuilding the record in between.
 */
export function sealRecord(beforeHashJson: string, afterHashJson: string): SealedRecord {
  const head = beforeHashJson.slice(0, -1);
  const tail = afterHashJson.slice(1);
  const hash = hashCanonical(`${head},${tail}`);
  return { hash, json: `${head},"hash":"${hash}",${tail}` };
}
