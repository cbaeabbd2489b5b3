import { canonicalJson } from '../canonical-json.js';
import type { CampaignResource } from './wire.js';

/** One field of a CXone campaign that differs between two reads (a dotted wire path). */
export interface ResourceChange {
  field: string;
  from: unknown;
  to: unknown;
}

/** Bookkeeping CXone moves on every write; not a change anyone made. */
const BOOKKEEPING = new Set(['id', 'version', 'createdAt', 'updatedAt']);

function flatten(value: unknown, path: string, out: Map<string, unknown>): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value)) {
      if (key === '__proto__') continue;
      flatten(inner, path ? `${path}.${key}` : key, out);
    }
    return;
  }
  // Lists (calling windows, states) are one field, as everywhere else.
  out.set(path, value);
}

/**
 * The fields of a campaign that changed between two reads of it — what someone outside the
 * orchestrator did, when the poll finds a newer version than the record's — `status` included, the
 * bookkeeping left out. Pure; sorted by field.
 */
export function resourceChanges(before: CampaignResource, after: CampaignResource): ResourceChange[] {
  const a = new Map<string, unknown>();
  const b = new Map<string, unknown>();
  flatten(before, '', a);
  flatten(after, '', b);
  const fields = new Set([...a.keys(), ...b.keys()]);
  const changes: ResourceChange[] = [];
  for (const field of [...fields].sort()) {
    if (BOOKKEEPING.has(field)) continue;
    const from = a.get(field);
    const to = b.get(field);
    if (canonicalJson(from ?? null) !== canonicalJson(to ?? null)) {
      changes.push({ field, from: from ?? null, to: to ?? null });
    }
  }
  return changes;
}
