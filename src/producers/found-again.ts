import { clearMissingOnCxone } from '../shared/campaign-missing.js';
import type { CampaignRecord } from '../shared/campaign-store.js';
import type { AppContext } from '../shared/context.js';
import type { CampaignStatus } from '../shared/cxone/wire.js';
import { isRunning } from '../shared/lifecycle/state-machine.js';
import { ensurePolling } from '../shared/polling/schedulers.js';

/**
 * An API read found CXone answering again for a campaign noted missing (a tenant misconfigured for a
 * while): the note goes and a campaign that is still running is polled again, since the poll that met
 * the 404 stopped its polling (docs/api.md). Called on every read, noted or not: a record with no note
 * but a `missingClaimAt` (a look that met the 404 and died before noting it) has its claim removed
 * here too, with no polling to restore; a record with neither costs no Redis call. Any read does it — the campaign's view and a command's
 * fresh read alike: an operator who only steers the campaign must not leave it dialing unpolled, the
 * abandonment guard blind. (A scheduled one is not polled; its activation job kept looking and goes on.)
 */
export async function foundAgainOnCxone(
  ctx: AppContext,
  record: CampaignRecord,
  status: CampaignStatus,
): Promise<void> {
  if (!(await clearMissingOnCxone(ctx, record))) return;
  if (isRunning(status)) await ensurePolling(ctx, record.campaignId, record.config.pacing?.pollIntervalMs);
}
