import type { AppContext } from '../context.js';
import { STATS_SCOPE } from '../cxone/scopes.js';
import { publishOrLog } from '../side-records.js';
import { listActions } from './state-store.js';

/**
 * Why a hold for the statistics scope ended: the scope granted again (the start or resume goes), the
 * scheduled campaign started by someone else while held (CXone's console: the activation job takes it
 * over), the campaign resumed by someone else while held (an operator's resume is a decision to dial
 * unmeasured), paused by someone else while held (their pause, which the window never resumes: its
 * claim ends), or the calling window it was held in closed (the next open looks again, and holds anew
 * if need be).
 */
export type ScopeHoldEnd = 'scope_granted' | 'started' | 'resumed' | 'paused' | 'window_closed';

/**
 * Announces the end of a hold placed for the statistics scope (`campaign.compliance.hold.placed`, with
 * its `activation_withheld` or `window_resume_withheld` record): `campaign.compliance.hold.lifted`,
 * with the placement's `kind` and `heldSince`, so a receiver pairs them. Published before the caller
 * notes the hold gone, under an id derived from the hold (`name`): a run that died in between lifts
 * it again on its retry and the receiver gets one event.
 */
export async function announceScopeHoldLifted(
  ctx: Pick<AppContext, 'events' | 'logger'>,
  campaignId: string,
  hold: { kind: 'activation_withheld' | 'window_resume_withheld'; heldSince: string; name: string },
  why: ScopeHoldEnd,
): Promise<void> {
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
