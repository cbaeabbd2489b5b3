import { CampaignStore } from './campaign-store.js';
import type { AppContext } from './context.js';
import { auditOrLog, publishOrLog } from './side-records.js';

/**
 * CXone answered 404 for a campaign the orchestrator launched: deleted outside it (console, another
 * tool), or the fleet now talks to another tenant. Nothing the orchestrator does reaches it any more,
 * so its record must stop looking alive: the record notes since when (`missingOnCxone`, shown by the
 * API), the trail gets a `campaign_missing` record and `campaign.missing` is published, once.
 * Returns when it was first noted. The caller decides what stops (the poll stops polling).
 */
export async function noteMissingOnCxone(
  ctx: Pick<AppContext, 'redis' | 'keys' | 'clock' | 'logger' | 'audit' | 'events'>,
  campaignId: string,
  seenBy: 'poll' | 'api',
): Promise<string | null> {
  const store = new CampaignStore(ctx);
  const record = await store.get(campaignId);
  if (!record) return null;
  if (record.missingOnCxone) return record.missingOnCxone.since;
  const since = new Date(ctx.clock.now()).toISOString();
  await store.patch(campaignId, { missingOnCxone: { since } });
  ctx.logger.warn(
    { campaignId, lastStatus: record.status, lastVersion: record.version, seenBy },
    'CXone no longer knows the campaign (deleted outside the orchestrator, or another tenant)',
  );
  const details = { lastStatus: record.status, lastVersion: record.version, seenBy };
  await auditOrLog(ctx, {
    campaignId,
    action: 'campaign_missing',
    actor: seenBy === 'poll' ? 'worker:poll' : 'api',
    cxoneVersion: record.version,
    details,
    dedupeKey: `campaign_missing:${campaignId}`,
  });
  await publishOrLog(ctx, 'campaign.missing', campaignId, { ...details, since });
  return since;
}
