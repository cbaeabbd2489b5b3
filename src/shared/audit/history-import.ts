import type { z } from 'zod';
import type { AppContext } from '../context.js';
import { isCxoneError, type CxoneError } from '../errors.js';
import type { HistoryPageRead } from '../cxone/api.js';
import { auditStoreFor } from './trail.js';
import type { historyImportSchema } from '../responses/audit.js';

export type HistoryImportResult = z.output<typeof historyImportSchema>;

export interface HistoryImport extends HistoryImportResult {
  /**
   * Where the next import of this campaign may start: the cursor of the last page that held records
   * (null when that was the first page, or none did). Its page is read again, so a record added to
   * it since is not missed; the ones already imported are skipped by their dedupe keys.
   */
  resumeCursor: string | null;
  /** The `from` cursor was refused (expired, say) and the walk started at the first page instead. */
  restarted: boolean;
}

/**
 * Merges the campaign's CXone change history into the audit trail. Each CXone record becomes one
 * `cxone_history` record whose dedupe key is the CXone history id, so importing again (or from two
 * processes at once) appends only what is new. Pages are fetched one at a time through the CXone
 * client, hence through the fleet-wide limiter, at poll priority so launches and pauses go first.
 *
 * `from` (an earlier import's resumeCursor) starts the walk there instead of at the first page: a
 * campaign paced for weeks has thousands of history records, and walking them all again for every
 * console edit would spend the fleet's CXone budget and one Redis script per record on nothing.
 * CXone's history is append-only and its cursors mark positions in it; a cursor CXone refuses
 * (a 4xx, see refusesCursor) is dropped and the walk starts at the beginning, as it did without one.
 */
export async function importCxoneHistory(
  ctx: Pick<AppContext, 'cxone' | 'audit' | 'redis' | 'keys' | 'logger' | 'clock' | 'config'>,
  campaignId: string,
  /** maxWaitMs bounds each page's wait for the limiter (request handlers pass API_LIMITER_MAX_WAIT_MS). */
  opts: { pageSize?: number; maxWaitMs?: number; from?: string | undefined } = {},
): Promise<HistoryImport> {
  const trail = auditStoreFor(ctx);
  const result: HistoryImport = {
    campaignId,
    imported: 0,
    skipped: 0,
    pages: 0,
    lastVersion: 0,
    resumeCursor: opts.from ?? null,
    restarted: false,
  };
  const walk = (from: string | undefined) =>
    ctx.cxone.history(campaignId, {
      campaignId,
      priority: 'poll',
      ...(opts.pageSize ? { pageSize: opts.pageSize } : {}),
      ...(opts.maxWaitMs !== undefined ? { maxWaitMs: opts.maxWaitMs } : {}),
      ...(from !== undefined ? { from } : {}),
    });
  const importPage = async (page: HistoryPageRead) => {
    result.pages++;
    if (page.records.length > 0) result.resumeCursor = page.cursor;
    for (const record of page.records) {
      result.lastVersion = Math.max(result.lastVersion, record.version);
      const { duplicate } = await trail.appendWithOutcome({
        campaignId,
        action: 'cxone_history',
        actor: `cxone:${record.actor}`,
        cxoneVersion: record.version,
        occurredAt: record.occurredAt,
        dedupeKey: record.id,
        details: { historyId: record.id, cxoneAction: record.action, changes: record.changes },
      });
      if (duplicate) result.skipped++;
      else result.imported++;
    }
  };

  const pages = walk(opts.from)[Symbol.asyncIterator]();
  let first: IteratorResult<HistoryPageRead>;
  try {
    first = await pages.next();
  } catch (err) {
    if (opts.from === undefined || !refusesCursor(err)) throw err;
    ctx.logger.warn(
      { component: 'audit', campaignId, err: err.message },
      'CXone refused the cursor an earlier history import ended at; walking the whole history',
    );
    result.restarted = true;
    result.resumeCursor = null;
    for await (const page of walk(undefined)) await importPage(page);
    return done(ctx, result);
  }
  if (!first.done) {
    await importPage(first.value);
    for (let next = await pages.next(); !next.done; next = await pages.next()) await importPage(next.value);
  }
  return done(ctx, result);
}

/**
 * CXone's answer to a page asked from a stored cursor that says the cursor, not the campaign or the
 * fleet, is the problem: any 4xx but auth (401, 403) and the rate limit (429). The contract does not
 * say what an expired cursor gets (the sandbox answers 400); the campaign was read just before, so a
 * 404 or 422 here is about the cursor too, and a walk from the first page needs none.
 */
export function refusesCursor(err: unknown): err is CxoneError {
  if (!isCxoneError(err) || err.status === undefined) return false;
  return err.status >= 400 && err.status < 500 && ![401, 403, 429].includes(err.status);
}

function done(ctx: Pick<AppContext, 'logger'>, result: HistoryImport): HistoryImport {
  const { resumeCursor: _cursor, ...summary } = result;
  ctx.logger.info({ component: 'audit', ...summary }, 'CXone history imported into the audit trail');
  return result;
}
