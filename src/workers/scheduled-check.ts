import type { AppContext } from '../shared/context.js';
import { scheduledCheckIntervalMs } from './launch-plan.js';

/** How long a count of the scheduled campaigns is used before counting again. */
const RECOUNT_MS = 30_000;

/**
 * The interval between looks at each scheduled campaign (launch-plan.ts), from how many are waiting:
 * the launch queue's delayed jobs, which are their activation jobs (and the odd launch retry). Counted
 * at most every 30 s per process, so a launch does not pay a Redis call for it. A burst of launches
 * between two counts gets its first looks from the count before it; each look waits for CXone's
 * budget only briefly (launch-worker.ts), so they cannot crowd out other calls, and later looks are
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
