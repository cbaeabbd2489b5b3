import type { AppContext } from '../context.js';
import { STATS_SCOPE } from '../cxone/scopes.js';
import { publishOrLog } from '../side-records.js';
import { complianceEventOnce } from './record.js';
import { listActions } from './state-store.js';

/**
 * Why a hold for the statistics scope ended: the scope granted again (the start or resume goes), the
 * scheduled campaign started by someone else while held (CXone's console: the activation job takes it
 * over), the campaign resumed by someone else while held (an operator's resume is a decision to dial
 * unmeasured), paused by someone else while held (their pause, which the window never resumes: its
 * claim ends), the calling window it was held in closed (the next open looks again, and holds anew
 * if need be), or the held start's campaign no longer exists on CXone (the activation gives up).
 */
export type ScopeHoldEnd =
  'scope_granted' | 'started' | 'resumed' | 'paused' | 'window_closed' | 'campaign_missing';

type HoldKind = 'activation_withheld' | 'window_resume_withheld';

/**
 * Announces a hold placed for the statistics scope again, as its record did
 * (`campaign.compliance.hold.placed`, recordComplianceAction): the same body, read back from the
 * compliance log, under the same id, so it is a no-op once that event was stored. The record's script
 * writes the event with the entry, but not when the events' keys are unusable (the entry is written,
 * the event's failure logged), nor for a hold recorded by a version that published after the entry; the
 * hold is noted all the same, and each later look at the held campaign, and its lift, tell it then — a
 * receiver never gets `hold.lifted` for a hold it was not told of. A hold whose record is not in the
 * log has nothing to tell.
 */
export async function announceScopeHoldPlaced(
  ctx: Pick<AppContext, 'events' | 'logger' | 'redis' | 'keys'>,
  campaignId: string,
  kind: HoldKind,
  heldSince: string,
): Promise<void> {
  let placed;
  try {
    placed = (await listActions(ctx, campaignId)).find(
      (a) => a.kind === kind && a.details['heldSince'] === heldSince && a.dedupeKey !== undefined,
    );
  } catch (err) {
    ctx.logger.warn(
      { err, campaignId, kind },
      'could not read the compliance log to announce a statistics-scope hold again',
    );
    return;
  }
  if (placed?.dedupeKey === undefined) return;
  await publishOrLog(
    ctx,
    'campaign.compliance.hold.placed',
    campaignId,
    { kind: placed.kind, ...placed.details },
    { kind: placed.kind },
    complianceEventOnce(campaignId, placed.dedupeKey),
  );
}

/**
 * Announces the end of a hold placed for the statistics scope (`campaign.compliance.hold.placed`, with
 * its `activation_withheld` or `window_resume_withheld` record): `campaign.compliance.hold.lifted`,
 * with the placement's `kind` and `heldSince`, so a receiver pairs them. Published before the caller
 * notes the hold gone, under an id derived from the hold (`name`): a run that died in between lifts
 * it again on its retry and the receiver gets one event.
 */
export async function announceScopeHoldLifted(
  ctx: Pick<AppContext, 'events' | 'logger' | 'redis' | 'keys'>,
  campaignId: string,
  hold: { kind: HoldKind; heldSince: string; name: string },
  why: ScopeHoldEnd,
): Promise<void> {
  // A receiver pairs the lift with its placement: told first, if its own publish failed.
  await announceScopeHoldPlaced(ctx, campaignId, hold.kind, hold.heldSince);
  await publishOrLog(
    ctx,
    'campaign.compliance.hold.lifted',
    campaignId,
    {
      kind: hold.kind,
      rule: 'statistics-scope',
      missingScopes: [STATS_SCOPE],
      heldSince: hold.heldSince,
      why,
    },
    { kind: hold.kind },
    { once: `scope_hold_lifted:${campaignId}:${hold.name}` },
  );
}

/**
 * Since when the hold its record's `dedupeKey` names was placed (epoch ms): the `heldSince` an earlier
 * run recorded and announced (`campaign.compliance.hold.placed`, its id derived from that key) before it
 * died ahead of its note of the hold, or `nowMs` for a hold placed now. The compliance log is written
 * first, so an announced hold is always found there. A retry that took its own clock instead noted a
 * later `heldSince` than the one announced, and the lift named a hold the receiver was never told of.
 */
export async function scopeHoldPlacedAt(
  ctx: Pick<AppContext, 'redis' | 'keys'>,
  campaignId: string,
  dedupeKey: string,
  nowMs: number,
): Promise<number> {
  const placed = (await listActions(ctx, campaignId)).find((a) => a.dedupeKey === dedupeKey);
  const heldSince = placed?.details.heldSince;
  const atMs = typeof heldSince === 'string' ? Date.parse(heldSince) : NaN;
  return Number.isFinite(atMs) ? atMs : nowMs;
}
