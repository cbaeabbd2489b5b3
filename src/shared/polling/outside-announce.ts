import type { AppContext } from '../context.js';
import { resourceChanges } from '../cxone/resource-changes.js';
import type { CampaignResource } from '../cxone/wire.js';
import { configPathOfWire } from '../lifecycle/patch.js';
import { publishOrLog } from '../side-records.js';

/** `reason` of the events announcing a change made outside the orchestrator (CXone's console). */
export const OUTSIDE_REASON = 'outside';

/**
 * The `once` name of a change made in CXone at `version`: the poll and a refreshing GET build the same
 * one, so whichever finds the change first announces it and the other's publish is a no-op.
 */
export function outsideOnce(campaignId: string, kind: 'status' | 'settings', version: number): string {
  return `outside:${campaignId}:${kind}:${version}`;
}

/**
 * A status changed outside the orchestrator, as `campaign.state.changed` with reason `outside`, under
 * the id its version names (outsideOnce): whoever finds it first tells it, once.
 */
export async function announceOutsideStatus(
  ctx: Pick<AppContext, 'events' | 'logger'>,
  campaignId: string,
  from: unknown,
  to: unknown,
  version: number,
): Promise<void> {
  await publishOrLog(
    ctx,
    'campaign.state.changed',
    campaignId,
    { from, to, version, reason: OUTSIDE_REASON },
    {},
    { once: outsideOnce(campaignId, 'status', version) },
  );
}

/**
 * Receivers hear of changes made outside the orchestrator as of its own: a status change as
 * `campaign.state.changed`, other fields as `campaign.settings.changed` (by the config's paths), both
 * with reason `outside`. Who made them reaches the trail with CXone's history (queued alongside).
 * Told before the record is synced (the caller's order): a poll that died in between left the next
 * one finding the record at CXone's version, with nothing to tell. Told by the statistics poll or an
 * API read refreshing a stale view, whichever syncs the record to CXone's newer version first (a read
 * that synced without telling left the poll nothing to tell). By a command too, whose read before it
 * writes (its first, a 409's re-read, or a conflict's) finds a newer version: its sync would leave the
 * poll nothing to tell. It leaves out its own earlier run's write, applied with its answer lost (hooks.ts,
 * onOutsideSeen; own-write.ts, outsidePart), and syncs the record to what it told, as the poll does. Each event has an id derived from the campaign and the
 * version (publish `once`), so a second look telling it again leaves one.
 */
export async function announceOutsideChange(
  ctx: AppContext,
  campaignId: string,
  before: CampaignResource,
  after: CampaignResource,
): Promise<void> {
  const changes = resourceChanges(before, after);
  const status = changes.find((c) => c.field === 'status');
  if (status) await announceOutsideStatus(ctx, campaignId, status.from, status.to, after.version);
  // By the config's names, as the orchestrator's own changes are announced: a receiver keeping the
  // latest value per field would otherwise hold a console's dialerSettings.callRate beside pacing's
  // dialerStrategy.callRate, both as current.
  const settings = changes
    .filter((c) => c.field !== 'status')
    .map((c) => ({ ...c, field: configPathOfWire(c.field) }))
    .sort((a, b) => (a.field < b.field ? -1 : a.field > b.field ? 1 : 0));
  if (settings.length > 0) {
    await publishOrLog(
      ctx,
      'campaign.settings.changed',
      campaignId,
      { changes: settings, version: after.version, reason: OUTSIDE_REASON },
      {},
      { once: outsideOnce(campaignId, 'settings', after.version) },
    );
  }
}
