import type { AppContext } from '../context.js';
import { auditStoreFor } from './trail.js';

export interface HistoryImportResult {
  campaignId: string;
  /** Records appended to the trail by this import. */
  imported: number;
  /** Records already in the trail from an earlier import. */
  skipped: number;
  pages: number;
  /** The highest CXone version in the history walked (0 for none): the import covers every change up to it. */
  lastVersion: number;
}

/**
 * Merges the campaign's CXone change history into the audit trail. Each CXone record becomes one
 * `cxone_history` record whose dedupe key is the CXone history id, so importing again (or from two
 * processes at once) appends only what is new. Pages are fetched one at a time through the CXone
 * client, hence through the fleet-wide limiter, at poll priority so launches and pauses go first.
 */
export async function importCxoneHistory(
  ctx: Pick<AppContext, 'cxone' | 'audit' | 'redis' | 'keys' | 'logger' | 'clock' | 'config'>,
  campaignId: string,
  /** maxWaitMs bounds each page's wait for the limiter (request handlers pass API_LIMITER_MAX_WAIT_MS). */
  opts: { pageSize?: number; maxWaitMs?: number } = {},
): Promise<HistoryImportResult> {
  const trail = auditStoreFor(ctx);
  const result: HistoryImportResult = { campaignId, imported: 0, skipped: 0, pages: 0, lastVersion: 0 };
  for await (const page of ctx.cxone.history(campaignId, {
    campaignId,
    priority: 'poll',
    ...(opts.pageSize ? { pageSize: opts.pageSize } : {}),
    ...(opts.maxWaitMs !== undefined ? { maxWaitMs: opts.maxWaitMs } : {}),
  })) {
    result.pages++;
    for (const record of page) {
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
  }
  ctx.logger.info({ component: 'audit', ...result }, 'CXone history imported into the audit trail');
  return result;
}
