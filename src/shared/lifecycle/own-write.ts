import type { CallOptions, CxoneApi } from '../cxone/api.js';
import type { CampaignResource, HistoryRecord, UpdateCampaignRequest } from '../cxone/wire.js';
import type { ConflictReport } from './commands.js';
import { configPathOfWire, getPath } from './patch.js';
import { sameValue } from './rebase.js';

/**
 * A command's own CXone write that a later run of it finds overwritten. A write applied without its
 * answer arriving (a timeout or a 5xx after CXone committed it, the worker dying after sending it), or
 * answered before something after it failed, leaves the campaign at the command's values; someone who
 * changes a field back to the value the requester saw (an operator undoing a pause in the console, say)
 * makes it read as untouched, and the retry would write it again over their change. CXone's history
 * tells: the one write that can follow the version the command's If-Match named is `version + 1`.
 */

/** The last write a run sent: the version its If-Match named and what it set (AdjustJob.lastSent). */
export interface SentWrite {
  version: number;
  /** CXone's dotted paths (as its history names them) → the values sent. */
  changes: Record<string, unknown>;
}

/** A PATCH body as CXone's dotted paths → values: `dialerSettings.callRate`, `status`. Pure. */
export function sentChanges(body: UpdateCampaignRequest): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      for (const [inner, v] of Object.entries(value as Record<string, unknown>)) {
        if (v !== undefined) out[`${key}.${inner}`] = v;
      }
    } else if (value !== undefined) {
      out[key] = value;
    }
  }
  return out;
}

/**
 * The paths of `sent` the command asked for (its patch's fields, `ours`, and the status its action
 * writes) that `latest` no longer holds at the values sent, once CXone has moved past the version the
 * write named (before that, the write cannot have been applied). A value the write carried without
 * being asked (pacing's safe start riding a resume) is not the requester's change: someone changing it
 * since leaves the command as it is. Pure.
 */
export function movedAway(
  sent: SentWrite | undefined,
  latest: CampaignResource,
  ours: Record<string, unknown>,
): string[] {
  if (!sent || latest.version <= sent.version) return [];
  return Object.entries(sent.changes)
    .filter(([path]) => path === 'status' || configPathOfWire(path) in ours)
    .filter(([path, value]) => !sameValue(getPath(latest, path), value))
    .map(([path]) => path);
}

/** Whether `record` is the write `sent` made: every field it set, set to the value sent. Pure. */
export function isSentWrite(sent: SentWrite, record: HistoryRecord): boolean {
  return Object.entries(sent.changes).every(
    ([path, value]) => path in record.changes && sameValue(record.changes[path]?.to, value),
  );
}

/**
 * CXone's history does not reach the version a command's write would have made, though the campaign
 * is past it: a history that lags the resource (docs/audit-and-webhooks.md). Whether that write was
 * applied and changed since cannot be told yet, and writing again could overwrite an operator's
 * change: the run fails, and the command retries (with backoff) once the history caught up.
 */
export class HistoryBehindError extends Error {
  constructor(
    readonly campaignId: string,
    readonly wanted: number,
    readonly reached: number,
  ) {
    super(
      `CXone's history of campaign ${campaignId} reaches version ${reached}, not yet ${wanted}: cannot tell ` +
        `whether this command's earlier write was applied as ${wanted} and changed since; not written ` +
        'again until it can (retried)',
    );
    this.name = 'HistoryBehindError';
  }
}

/**
 * CXone's history record of `version` (oldest first, so the walk stops there), or null when the
 * history went past it without it. Throws HistoryBehindError when the history ends before it.
 */
async function historyRecordAt(
  cxone: CxoneApi,
  campaignId: string,
  version: number,
  opts: CallOptions,
): Promise<HistoryRecord | null> {
  let reached = 0;
  for await (const page of cxone.history(campaignId, { ...opts, pageSize: 500 })) {
    for (const record of page.records) {
      if (record.version === version) return record;
      if (record.version > version) return null;
      reached = Math.max(reached, record.version);
    }
  }
  throw new HistoryBehindError(campaignId, version, reached);
}

/**
 * The conflict of a command whose earlier run's write CXone applied and someone changed since: the
 * fields changed, with the value the requester saw (`base`; for a field it did not name, the value
 * before the write), the command's and theirs. Null when there is none: the write was not applied, or
 * every field still holds the command's value (the found-in-place logic takes it from there). Reads
 * CXone's history only when the campaign moved on and a field is not at the value sent.
 */
export async function ownWriteOverwritten(
  io: { cxone: CxoneApi; campaignId: string; callOpts: CallOptions },
  sent: SentWrite | undefined,
  latest: CampaignResource,
  base: Record<string, unknown>,
  /** The command's own fields (config paths → values): only these, and its status, are its change. */
  ours: Record<string, unknown>,
): Promise<ConflictReport | null> {
  const moved = movedAway(sent, latest, ours);
  if (!sent || moved.length === 0) return null;
  const written = sent.version + 1;
  const record = await historyRecordAt(io.cxone, io.campaignId, written, io.callOpts);
  if (!record || !isSentWrite(sent, record)) return null;
  const conflicts = moved.map((path) => {
    const field = configPathOfWire(path);
    return {
      field,
      base: (field in base ? base[field] : record.changes[path]?.from) ?? null,
      ours: sent.changes[path],
      theirs: getPath(latest, path) ?? null,
    };
  });
  return {
    reason: `this command's write was applied as version ${written} (without its answer reaching the orchestrator, or before a later step failed) and changed by someone else since: ${conflicts.map((c) => c.field).join(', ')}; not written again over their change`,
    conflicts,
    version: latest.version,
    status: latest.status,
  };
}
