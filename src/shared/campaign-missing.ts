import { CampaignStore, UnknownCampaignError, type CampaignRecord } from './campaign-store.js';
import type { AppContext } from './context.js';
import type { Keys } from './keys.js';
import { LAUNCH_RETENTION_SECONDS } from './launch-store.js';
import { auditOrLog, publishOrLog } from './side-records.js';

/**
 * The warning for a campaign CXone answers 404 for. A sandbox keeps its campaigns in memory, so the
 * usual cause on a newcomer's machine is neither of the first two: the README's split roles start a
 * fresh `sandbox` process under the prefix an `npm start` left its campaigns on.
 */
export const CAMPAIGN_MISSING_MESSAGE =
  'CXone no longer knows the campaign (deleted outside the orchestrator, another tenant, or a sandbox restarted since: it keeps campaigns in memory)';

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
  seenBy: 'poll' | 'api' | 'activation' | 'cleanup' | 'command',
  /** Who met the 404 through the API (`api:<caller>`) or by a command (its requester), for the trail's actor. */
  caller?: string,
): Promise<string | null> {
  const store = new CampaignStore(ctx);
  const record = await store.get(campaignId);
  if (!record) return null;
  if (record.missingOnCxone) return record.missingOnCxone.since;
  // The claim goes with a note on the record that one may be held, so that a look dying before its
  // note leaves the first read finding CXone answering again to remove it, at no cost to the reads of
  // every other campaign (clearMissingOnCxone). Left unseen, the claim named the next real
  // disappearance by its old time, whose record and event were then taken for repeats. One write: a
  // read clearing the note between the two would have left the claim taken after it unmarked.
  const now = new Date(ctx.clock.now()).toISOString();
  let claimed: boolean;
  try {
    claimed = await store.patchAndClaim(
      campaignId,
      { missingClaimAt: now },
      { key: markerKey(ctx, campaignId), value: now },
    );
  } catch (err) {
    if (err instanceof UnknownCampaignError) return null;
    throw err;
  }
  return recordDisappearance(ctx, campaignId, {
    details: { lastStatus: record.status, lastVersion: record.version, seenBy },
    actor: actorOf(seenBy, caller),
    cxoneVersion: record.version,
    message: CAMPAIGN_MISSING_MESSAGE,
    claim: { taken: claimed, at: now },
    // The record's note is written last, once everything is told: a run that noted it and died
    // before the trail and the event would have its retry answer from the note above, telling nothing.
    onTold: (since) => store.patch(campaignId, { missingOnCxone: { since } }),
  });
}

/** Who the trail names for a disappearance, by where it was met. */
function actorOf(seenBy: 'poll' | 'api' | 'activation' | 'cleanup' | 'command', caller?: string): string {
  switch (seenBy) {
    case 'poll':
      return 'worker:poll';
    case 'api':
      return caller ?? 'api';
    case 'command':
      return caller ?? 'worker:adjust';
    default:
      return 'worker:launch';
  }
}

/**
 * The cleanup of a failed launch (its cancel, or the stop queued for it) met CXone's 404 for the
 * launch's campaign: recorded as any other look that meets it (noteMissingOnCxone) — deleted outside
 * the orchestrator, or the fleet now talks to another tenant, where the campaign may still be — so the
 * trail says why the campaign was not cancelled. Most failed launches never wrote a campaign record
 * (it is written once the campaign is scheduled): the disappearance then goes in the campaign's
 * chain, next to its `campaign_created` and `launch_failed`, with the launch it came from, once.
 */
export async function noteCleanupFoundMissing(
  ctx: Pick<AppContext, 'redis' | 'keys' | 'clock' | 'logger' | 'audit' | 'events'>,
  campaignId: string,
  launchId: string,
): Promise<string | null> {
  if (await new CampaignStore(ctx).get(campaignId)) return noteMissingOnCxone(ctx, campaignId, 'cleanup');
  return recordDisappearance(ctx, campaignId, {
    details: { seenBy: 'cleanup', launchId },
    actor: 'worker:launch',
    message:
      "CXone no longer knows the failed launch's campaign (deleted outside the orchestrator, or another tenant): not cancelled",
    // Kept as long as the launch that names the campaign: nothing clears a note on a campaign never
    // read again.
    claim: { ttlSeconds: LAUNCH_RETENTION_SECONDS },
  });
}

/**
 * Claims the campaign's disappearance, then tells it once: the log's warning, the trail's
 * `campaign_missing` record and `campaign.missing`. Claimed atomically, so every look names it by the
 * winner's time; a look that finds the claim taken tells it too, under that time — the winner may
 * have died between its claim and its event (the record's note, `onTold`, comes last and stops the
 * next look before it gets here). Told twice, it is still one record (dedupe key) and one event (an
 * id derived from the disappearance: publish's `once`; its mark outlives a cleanup's claim, both
 * 30 days), so a poll and a read that meet the 404 together publish one event, not two. Returns since
 * when it is noted.
 */
async function recordDisappearance(
  ctx: Pick<AppContext, 'redis' | 'keys' | 'clock' | 'logger' | 'audit' | 'events'>,
  campaignId: string,
  note: {
    details: Record<string, unknown>;
    actor: string;
    cxoneVersion?: number;
    message: string;
    /**
     * The claim the caller made with its note on the record (kept until clearMissingOnCxone), or how
     * long the one made here is kept.
     */
    claim: { taken: boolean; at: string } | { ttlSeconds: number };
    /** Written once it is told (the note that stops later looks from telling it again). */
    onTold?: (since: string) => Promise<unknown>;
  },
): Promise<string> {
  const { claim } = note;
  const now = 'at' in claim ? claim.at : new Date(ctx.clock.now()).toISOString();
  const key = markerKey(ctx, campaignId);
  const claimed =
    'taken' in claim ? claim.taken : (await ctx.redis.set(key, now, 'EX', claim.ttlSeconds, 'NX')) !== null;
  // Taken: by a look under way, or by one that died before its record's note (see above).
  const since = claimed ? now : ((await ctx.redis.get(key)) ?? now);
  // The warning once per claim: a look telling it again (a race, a retry after a crash) adds none.
  if (claimed) ctx.logger.warn({ campaignId, ...note.details }, note.message);
  await auditOrLog(ctx, {
    campaignId,
    action: 'campaign_missing',
    actor: note.actor,
    ...(note.cxoneVersion !== undefined ? { cxoneVersion: note.cxoneVersion } : {}),
    details: note.details,
    // Per disappearance: a campaign CXone answers for again may go missing again later.
    dedupeKey: `campaign_missing:${campaignId}:${since}`,
  });
  await publishOrLog(
    ctx,
    'campaign.missing',
    campaignId,
    { ...note.details, since },
    {},
    { once: `campaign_missing:${campaignId}:${since}` },
  );
  await note.onTold?.(since);
  return since;
}

/**
 * The campaign's missing-on-CXone note. Kept without expiry while the campaign has a record: the
 * audit retention removes it with a finished campaign's record (campaign-retention.ts), as nothing
 * clears it once the record is gone.
 */
export function missingMarkerKey(keys: Keys, campaignId: string): string {
  return keys.custom('missing-on-cxone', campaignId);
}

const markerKey = (ctx: Pick<AppContext, 'keys'>, campaignId: string) =>
  missingMarkerKey(ctx.keys, campaignId);

/**
 * CXone answers for a campaign noted missing (a 404 from a misconfigured tenant, since fixed): the
 * note goes, and a campaign that is still running is watched again (the poll that met the 404 stopped
 * its polling). Returns whether it cleared a note.
 *
 * Only the disappearance `record` shows is cleared: a look that read the record, then lost a race to
 * another that cleared it, and whose campaign went missing again meanwhile (a new claim, told, noted),
 * would otherwise remove that newer note and its claim, with an answer sent before it. The record
 * would say CXone knows a campaign it had just lost, and the next look meeting the 404 would tell the
 * same disappearance a second time. A claim that is absent (cleared, or a note older than claims)
 * does not stop it.
 *
 * A record with no note but a `missingClaimAt` is a look that met the 404 and had not noted it when
 * the record was read: died before its note, or still telling. CXone answering since, its claim goes
 * (with no guard: the record may say nothing of which claim). A look still telling then writes its
 * note over a claim that is gone, which is a state the rest already takes: the next look meeting the
 * 404 answers from the note, the next read finding the campaign clears it. Kept, the claim of a look
 * that died named the next real disappearance by its old time. Returns false: no note was cleared,
 * and the look that died had not stopped the polling either.
 */
export async function clearMissingOnCxone(
  ctx: Pick<AppContext, 'redis' | 'keys' | 'clock' | 'logger'>,
  record: CampaignRecord,
): Promise<boolean> {
  const store = new CampaignStore(ctx);
  const claim = markerKey(ctx, record.campaignId);
  if (!record.missingOnCxone) {
    if (record.missingClaimAt === undefined) return false;
    if (await store.clear(record.campaignId, ['missingClaimAt'], { delete: [claim] })) {
      ctx.logger.info(
        { campaignId: record.campaignId, claimedAt: record.missingClaimAt },
        'CXone answers for the campaign again; a 404 an earlier look met but never noted as missing is forgotten',
      );
    }
    return false;
  }
  // The note and the claim go in one write: a crash between two left the claim, and the next real
  // disappearance was named by the old time, its record and event taken for the old ones' repeats.
  const cleared = await store.clear(record.campaignId, ['missingOnCxone', 'missingClaimAt'], {
    delete: [claim],
    whileHolding: record.missingOnCxone.since,
  });
  if (!cleared) return false;
  ctx.logger.warn(
    { campaignId: record.campaignId, missingSince: record.missingOnCxone.since },
    'CXone knows the campaign again; it is no longer noted missing',
  );
  return true;
}
