import { UnrecoverableError } from 'bullmq';
import { clearMissingOnCxone, noteMissingOnCxone } from '../shared/campaign-missing.js';
import type { CampaignRecord } from '../shared/campaign-store.js';
import type { AppContext } from '../shared/context.js';
import { scheduledCheckIntervalMs } from './launch-plan.js';

/** How long a count of the scheduled campaigns is used before counting again. */
const RECOUNT_MS = 30_000;

/**
 * The interval between looks at each scheduled campaign (launch-plan.ts), from how many are waiting:
 * the launch queue's delayed jobs, which are their activation jobs (and the odd launch retry). Counted
 * at most every 30 s per process, so a launch does not pay a Redis call for it. A burst of launches
 * between two counts gets its first looks from the count before it; each look waits for CXone's
 * budget only briefly (launch-activation.ts), so they cannot crowd out other calls, and later looks are
 * spread by the new count.
 */
export function createScheduledCheckInterval(
  ctx: Pick<AppContext, 'config' | 'queues' | 'clock'>,
): () => Promise<number> {
  let counted: { scheduled: number; atMs: number } | null = null;
  return async () => {
    const now = ctx.clock.now();
    if (counted === null || now - counted.atMs >= RECOUNT_MS) {
      counted = { scheduled: await ctx.queues.launch.getDelayedCount(), atMs: now };
    }
    return scheduledCheckIntervalMs({
      scheduled: counted.scheduled,
      perWindow: ctx.config.cxone.rateLimitPerWindow,
      windowMs: ctx.config.cxone.rateLimitWindowMs,
    });
  };
}

/**
 * The activation at a scheduled campaign's start found CXone still answering 404 for it: deleted
 * outside the orchestrator before its start (the console, another tool), another tenant, or a sandbox
 * restarted since. There is nothing to activate or poll; the activation fails for good at once, with
 * this reason on the launch (`activationError`) and in its `launch_failed` record.
 */
export class CampaignMissingAtStartError extends UnrecoverableError {
  constructor(
    readonly campaignId: string,
    /** Since when the campaign is noted missing (the first look that met the 404). */
    readonly missingSince: string,
  ) {
    super(
      `campaign ${campaignId} no longer exists on CXone (it has answered 404 for it since ${missingSince}: ` +
        'deleted outside the orchestrator, another tenant, or a sandbox restarted since): not activated ' +
        'at its start and not polled; submit the launch again if the campaign is still wanted (if many ' +
        'campaigns answer 404 at once, check CXONE_BASE_URL and the tenant first: they may still exist there)',
    );
    // The name BullMQ and classifyError know a failure no retry can change by.
    this.name = 'UnrecoverableError';
  }
}

/**
 * A look at a scheduled campaign met CXone's 404. It is told once, by the first look or read to meet
 * it (noteMissingOnCxone: the campaign record's `missingOnCxone`, `campaign_missing`,
 * `campaign.missing`, one warning); the looks after it find that note and say nothing above debug,
 * instead of warning at every look until the start. The looks go on — should CXone answer for the
 * campaign again (a tenant misconfigured for a while), one activated behind the orchestrator's back
 * is still taken over before its start — and the run at the start gives up
 * (CampaignMissingAtStartError). Returns since when the campaign is noted missing.
 */
export async function noteMissingAtLook(
  ctx: Pick<AppContext, 'redis' | 'keys' | 'clock' | 'logger' | 'audit' | 'events'>,
  campaignId: string,
): Promise<string> {
  // Null only without a campaign record, which the activation cannot run on anyway.
  const since = await noteMissingOnCxone(ctx, campaignId, 'activation');
  return since ?? new Date(ctx.clock.now()).toISOString();
}

/**
 * A look found CXone answering for a campaign noted missing (a tenant misconfigured for a while, since
 * fixed): the note goes, as an API read's does. Kept, it had the view say CXone no longer knows a
 * campaign its start then activates — polls keep that view fresh, so no read ever cleared it — and
 * every later look or poll that met a 404 found the old note and told nothing of a real deletion.
 */
export async function noteFoundAtLook(
  ctx: Pick<AppContext, 'redis' | 'keys' | 'clock' | 'logger'>,
  record: CampaignRecord | null,
): Promise<void> {
  // Without a note or a claim noted on the record, it returns at once, without Redis.
  if (record) await clearMissingOnCxone(ctx, record);
}
