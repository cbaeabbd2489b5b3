import { createCampaignStore } from '../campaign-store.js';
import type { AppContext } from '../context.js';
import { isFinal } from '../lifecycle/state-machine.js';
import {
  fireAtMs,
  scheduleWindowEnforcement,
  storedWindowJobSchema,
  windowJobId,
  windowView,
} from './enforcement.js';
import { recordDeploymentOverrides } from './overrides.js';
import { getWindowState } from './state-store.js';
import { isWithinWindow } from './windows.js';

export type ReplanOutcome = 'kept_verify' | 'scheduled';

/** The atMs of the campaign's window job while it waits as a 'verify' re-check; null otherwise. */
async function pendingVerifyAt(ctx: AppContext, campaignId: string): Promise<number | null> {
  const job = await ctx.queues.compliance.getJob(windowJobId(campaignId));
  if (!job || (await job.getState()) !== 'delayed') return null;
  const plan = storedWindowJobSchema.safeParse(job.data);
  return plan.success && plan.data.kind === 'verify' ? plan.data.atMs : null;
}

/**
 * Re-plans a campaign's calling-window job after something changed it from outside the job (a
 * status change applied by the lifecycle, a window edit, a version re-synced from CXone).
 *
 * Same as scheduleWindowEnforcement, except that a pending 'verify' re-check is kept when it fires no
 * later than the plan's job would (a close's fires ahead of the close by its lead): the window job
 * issues a pause, moves itself to a verify 30 s later, and the pause — once the lifecycle applies
 * it — triggers this re-plan. Replacing the verify with "next open" would leave a campaign that
 * CXone or its console puts back to dialing unchecked for the rest of the closed window. The verify re-plans from the current config when it fires, so keeping it
 * loses nothing. A campaign found active outside its window is always acted on at once, and so is one
 * the window paused whose hours, widened, hold now (resumed then, not when the verify fires).
 */
export async function replanWindowEnforcement(ctx: AppContext, campaignId: string): Promise<ReplanOutcome> {
  const record = await createCampaignStore(ctx).get(campaignId);
  if (!record) {
    await scheduleWindowEnforcement(ctx, campaignId);
    return 'scheduled';
  }
  const { config, status } = record;
  if (!isFinal(status)) {
    const now = ctx.clock.now();
    const actOnce = status === 'active' && !isWithinWindow(config, now);
    const verifyAt = actOnce ? null : await pendingVerifyAt(ctx, campaignId);
    if (verifyAt !== null) {
      // After a close's job fired ahead of the close, the window counts as closed (closingAt): the
      // transition to compare with is the open after it, not that close, whose firing is past.
      const { closingAt, pausedAt } = await getWindowState(ctx, campaignId);
      const { next, within } = windowView(config, now, closingAt);
      // Paused by the window whose hours (widened since) hold now: the open is now, as
      // scheduleWindowEnforcement plans it; the verify would hold the resume until it fired.
      const reopened = status === 'paused' && within && pausedAt !== undefined;
      // By when the transition's job would fire: a close's goes out its lead ahead of the close.
      if (!reopened && (next === null || verifyAt <= (await fireAtMs(ctx, next)))) {
        // scheduleWindowEnforcement's other duty, kept as its backstop.
        await recordDeploymentOverrides(ctx, { campaignId, config });
        ctx.logger.debug({ campaignId, verifyAt: new Date(verifyAt).toISOString() }, 'window re-check kept');
        return 'kept_verify';
      }
    }
  }
  await scheduleWindowEnforcement(ctx, campaignId, { config, status });
  return 'scheduled';
}
