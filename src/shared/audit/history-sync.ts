import type { Job } from 'bullmq';
import { z } from 'zod';
import { CampaignStore, type CampaignRecord } from '../campaign-store.js';
import type { AppContext } from '../context.js';
import { importCxoneHistory, type HistoryImport, type HistoryImportResult } from './history-import.js';

/** Job name, on the `audit` queue, of an import of one campaign's CXone history. */
export const HISTORY_JOB = 'import-history';

/**
 * How long an import waits before it walks the history: changes made in CXone's console come a few
 * clicks at a time, and the first import then covers them all (the later ones find nothing to do).
 */
export const HISTORY_IMPORT_DELAY_MS = 10_000;

const historyJobSchema = z.object({ campaignId: z.string().min(1), version: z.number().int().min(1) });

/** One job per campaign and version seen: a later version is a later change to account for. */
export const historyJobId = (campaignId: string, version: number): string =>
  `history-${campaignId}-${version}`;

/**
 * CXone holds a newer version of a campaign than the orchestrator knew: someone changed it outside
 * the orchestrator (CXone's console, another tool). CXone wins and the record follows, but the trail
 * must say who changed what and when, so CXone's own history of the campaign is imported into it
 * (history-import.ts: deduplicated, at poll priority through the fleet limiter) by a job shortly
 * after. The history also holds the orchestrator's own writes, each imported once like the rest.
 * Never throws: failing to queue the import must not fail the read that noticed the change.
 */
export async function queueHistoryImport(
  ctx: Pick<AppContext, 'queues' | 'logger'>,
  campaignId: string,
  seenVersion: number,
): Promise<void> {
  try {
    await ctx.queues.audit.add(
      HISTORY_JOB,
      { campaignId, version: seenVersion },
      {
        jobId: historyJobId(campaignId, seenVersion),
        delay: HISTORY_IMPORT_DELAY_MS,
        removeOnComplete: true,
        removeOnFail: 100,
      },
    );
  } catch (err) {
    ctx.logger.warn(
      { campaignId, version: seenVersion, err: (err as Error).message },
      'could not queue the import of a campaign changed in CXone; POST /v1/campaigns/{id}/audit/import-history does it by hand',
    );
  }
}

/**
 * What a read of a campaign tells: when CXone holds a newer version than the record (`known`), the
 * campaign was changed outside the orchestrator since, and the import of CXone's account is queued.
 * The one place that comparison is made for the reads that do not re-read on it (the poll does).
 */
export async function importIfChangedOutside(
  ctx: Pick<AppContext, 'queues' | 'logger'>,
  known: Pick<CampaignRecord, 'campaignId' | 'cxone'> | null,
  seenVersion: number,
): Promise<void> {
  if (known && seenVersion > known.cxone.version) {
    await queueHistoryImport(ctx, known.campaignId, seenVersion);
  }
}

export type HistoryJobResult =
  { outcome: 'imported'; result: HistoryImportResult } | { outcome: 'covered' | 'unknown_campaign' };

/**
 * The import job: walks the campaign's CXone history into the trail unless an earlier import already
 * covered the version that prompted this one, and notes how far it got on the campaign record.
 */
export async function processHistoryJob(
  ctx: Pick<AppContext, 'cxone' | 'audit' | 'redis' | 'keys' | 'logger' | 'clock' | 'config'>,
  job: Pick<Job, 'data'>,
): Promise<HistoryJobResult> {
  const { campaignId, version } = historyJobSchema.parse(job.data);
  const store = new CampaignStore(ctx);
  const record = await store.get(campaignId);
  if (!record) return { outcome: 'unknown_campaign' };
  if ((record.historyImportedVersion ?? 0) >= version) return { outcome: 'covered' };
  const result = await importCxoneHistory(ctx, campaignId, { from: record.historyResumeCursor });
  await noteHistoryImported(store, campaignId, result);
  if (result.lastVersion < version) {
    // A history that lags the resource: the change that prompted this is not in it yet. Retried
    // with backoff, so it reaches the trail once CXone has written it.
    throw new Error(
      `CXone's history of campaign ${campaignId} holds versions up to ${result.lastVersion}, not yet ${version}`,
    );
  }
  return { outcome: 'imported', result };
}

/**
 * Notes how far the trail holds the campaign's CXone history, and where the next walk may start,
 * never moving either back: two imports may finish in either order. (A lower mark written in a race
 * costs a later walk some pages, never a record.)
 */
export async function noteHistoryImported(
  store: CampaignStore,
  campaignId: string,
  walked: Pick<HistoryImport, 'lastVersion' | 'resumeCursor' | 'restarted'>,
): Promise<void> {
  const record = await store.get(campaignId);
  if (!record) return;
  const known = record.historyImportedVersion ?? 0;
  const further =
    walked.lastVersion > known ||
    // The same mark, first reached by a walk that kept no cursor (an earlier release's, or a restart).
    (walked.lastVersion === known && walked.resumeCursor !== null && !record.historyResumeCursor);
  if (further) {
    await store.patch(campaignId, {
      historyImportedVersion: walked.lastVersion,
      ...(walked.resumeCursor !== null ? { historyResumeCursor: walked.resumeCursor } : {}),
    });
  }
  // A cursor CXone refused is not offered again; the whole walk that replaced it left none to keep.
  if (walked.restarted && walked.resumeCursor === null && record.historyResumeCursor) {
    await store.clear(campaignId, ['historyResumeCursor']);
  }
}
