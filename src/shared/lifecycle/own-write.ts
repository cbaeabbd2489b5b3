import type { CallOptions, CxoneApi } from '../cxone/api.js';
import type { CampaignResource, HistoryRecord, UpdateCampaignRequest } from '../cxone/wire.js';
import type { ConflictReport, FieldConflict } from './commands.js';
import { refusesCursor } from '../audit/history-import.js';
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

/**
 * What of `after` someone outside the orchestrator changed since `before` (the record's copy), as far
 * as the command's saved sends tell: each field a send that may have been applied since `before` (it
 * named `before`'s version or a later one, older than `after`'s) set, and that `after` holds at the
 * value sent, is put back to `before`'s value — the command's own write, its answer lost (or its run
 * died before the sync), not someone else's. A field someone else set to the very value the command
 * sent cannot be told apart, and is taken for the command's: nothing is announced that the
 * orchestrator may have done itself. Pure.
 */
export function outsidePart(
  before: CampaignResource,
  after: CampaignResource,
  sent: ReadonlyArray<SentWrite | undefined>,
): CampaignResource {
  const out = structuredClone(after);
  for (const write of sent) {
    if (!write || write.version < before.version || write.version >= after.version) continue;
    for (const [path, value] of Object.entries(write.changes)) {
      if (sameValue(getPath(after, path), value)) putPath(out, path, getPath(before, path));
    }
  }
  return out;
}

function putPath(obj: CampaignResource, path: string, value: unknown): void {
  const parts = path.split('.');
  let at = obj as unknown as Record<string, unknown>;
  for (const part of parts.slice(0, -1)) {
    const next = at[part];
    if (next === null || typeof next !== 'object') return;
    at = next as Record<string, unknown>;
  }
  at[parts[parts.length - 1]!] = value;
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
 * change: the run fails, and the command retries (with backoff) once the history caught up, unless
 * a pause or a stop waits behind it (the adjust worker then ends it: it must not hold that back).
 */
export class HistoryBehindError extends Error {
  constructor(
    readonly campaignId: string,
    readonly wanted: number,
    readonly reached: number,
  ) {
    super(
      `CXone's history of campaign ${campaignId} reaches version ${reached}, not yet ${wanted}: cannot tell ` +
        `whether this command's earlier write was applied as ${wanted} and changed since; nothing written ` +
        'while it cannot',
    );
    this.name = 'HistoryBehindError';
  }
}

/**
 * Where an earlier walk of the campaign's history ended (the record's historyResumeCursor, and the
 * version it reached, historyImportedVersion): its page holds that version, and every later one
 * follows it.
 */
export interface HistoryMark {
  cursor: string;
  version: number;
}

/**
 * CXone's history records of `versions` (oldest first, so the walk stops once past the last of them);
 * a version the history went past without holding is left out. Throws HistoryBehindError when the
 * history ends before one of them. Starts at `mark` when it is not past any of them: a campaign paced
 * for weeks has thousands of versions, and the page before a retry's write is the last few; a cursor
 * CXone refuses is dropped for a walk from the first page (as the audit's import does), and so is one
 * whose page no longer starts at or before the mark's version.
 */
async function historyRecordsAt(
  cxone: CxoneApi,
  campaignId: string,
  versions: readonly number[],
  opts: CallOptions,
  mark: HistoryMark | undefined,
): Promise<Map<number, HistoryRecord>> {
  const wanted = new Set(versions);
  const last = Math.max(...versions);
  const found = new Map<number, HistoryRecord>();
  let reached = 0;
  /** The first version the walk met: from the mark's cursor, at most the mark's own. */
  let first: number | undefined;
  const walk = async (from: string | undefined) => {
    const pages = cxone.history(campaignId, {
      ...opts,
      pageSize: 500,
      ...(from !== undefined ? { from } : {}),
    });
    for await (const page of pages) {
      for (const record of page.records) {
        first ??= record.version;
        reached = Math.max(reached, record.version);
        if (wanted.has(record.version)) found.set(record.version, record);
        if (record.version >= last) return;
      }
    }
  };
  const from = mark && mark.version <= Math.min(...versions) ? mark.cursor : undefined;
  let restart: boolean;
  try {
    await walk(from);
    // The mark's page holds the mark's version. A walk from its cursor that met nothing, or started
    // past that version, was handed another page than the import read (a cursor CXone took without
    // refusing it, an offset its retention shifted): the write's record may be among those it skipped,
    // and missing, the write would read as never applied and be sent again over someone's change.
    restart = from !== undefined && !(first !== undefined && first <= mark!.version);
  } catch (err) {
    if (from === undefined || reached > 0 || !refusesCursor(err)) throw err;
    restart = true;
  }
  if (restart) {
    found.clear();
    reached = 0;
    first = undefined;
    await walk(undefined);
  }
  if (reached < last) throw new HistoryBehindError(campaignId, last, reached);
  return found;
}

/**
 * The conflict of a command whose earlier runs' writes CXone applied and someone changed since: the
 * fields changed, with the value the requester saw (`base`; for a field it did not name, the value
 * before the write), the command's and theirs. `sent`: the writes a run may have left in place (the
 * settings write, and the last one sent, the status write after it, say). Null when there is none:
 * no write applied, or every field still holds the command's value (the found-in-place logic takes it
 * from there). Reads CXone's history only when the campaign moved on and a field is not at the value
 * sent, once for all of them.
 */
export async function ownWriteOverwritten(
  io: { cxone: CxoneApi; campaignId: string; callOpts: CallOptions; historyMark?: HistoryMark | undefined },
  sent: ReadonlyArray<SentWrite | undefined>,
  latest: CampaignResource,
  base: Record<string, unknown>,
  /** The command's own fields (config paths → values): only these, and its status, are its change. */
  ours: Record<string, unknown>,
): Promise<ConflictReport | null> {
  const writes = [...new Map(sent.flatMap((w) => (w ? [[w.version, w] as const] : []))).values()].sort(
    (a, b) => a.version - b.version,
  );
  if (!writes.some((w) => movedAway(w, latest, ours).length > 0)) return null;
  const possible = writes.filter((w) => w.version < latest.version);
  if (possible.length === 0) return null;
  const records = await historyRecordsAt(
    io.cxone,
    io.campaignId,
    possible.map((w) => w.version + 1),
    io.callOpts,
    io.historyMark,
  );
  // What the command's applied writes left, field by field, oldest first: a later write of its own
  // (the status write carrying a safe start over the callRate its settings write set) is no one
  // else's change.
  const left = new Map<string, { value: unknown; from: unknown; version: number }>();
  for (const write of possible) {
    const record = records.get(write.version + 1);
    if (!record || !isSentWrite(write, record)) continue;
    for (const path of Object.keys(write.changes)) {
      left.set(path, {
        value: write.changes[path],
        from: record.changes[path]?.from,
        version: record.version,
      });
    }
  }
  const byField = new Map<string, FieldConflict>();
  const applied = new Set<number>();
  for (const [path, { value, from, version }] of left) {
    if (!(path === 'status' || configPathOfWire(path) in ours)) continue;
    if (sameValue(getPath(latest, path), value)) continue;
    const field = configPathOfWire(path);
    applied.add(version);
    byField.set(field, {
      field,
      base: (field in base ? base[field] : from) ?? null,
      ours: value,
      theirs: getPath(latest, path) ?? null,
    });
  }
  if (byField.size === 0) return null;
  const conflicts = [...byField.values()];
  const versions = [...applied].sort((a, b) => a - b);
  const as =
    versions.length === 1
      ? `write was applied as version ${versions[0]}`
      : `writes were applied as versions ${versions.join(' and ')}`;
  return {
    reason: `this command's ${as} (without its answer reaching the orchestrator, or before a later step failed) and changed by someone else since: ${conflicts.map((c) => c.field).join(', ')}; not written again over their change`,
    conflicts,
    version: latest.version,
    status: latest.status,
  };
}
