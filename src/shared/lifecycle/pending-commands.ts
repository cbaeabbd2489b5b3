import type { AppContext } from '../context.js';
import { createCommandStore, isFinished, type CommandRecord } from './commands.js';
import { createCommandOrder } from './order.js';

/**
 * Read-only views of a campaign's command order (order.ts) for those who must not act while a command
 * is on its way (pacing's turn), without taking part in it.
 */

/**
 * A command whose job cannot be found is taken for one still being enqueued (its record and its place
 * in the order are written before its job) until it is this old: the adjust worker's grace for the
 * same judgement (adjust-worker.ts, LOST_JOB_GRACE_MS).
 */
export const LOST_JOB_GRACE_MS = 30_000;

/** BullMQ job states in which a command's job will never run it again; `missing` = no such job. */
const ENDED_JOB_STATES: ReadonlySet<string> = new Set(['completed', 'failed', 'missing', 'unknown']);

/**
 * What a command's record says of whether it can still run, as the adjust worker judges the head it
 * would drop (headIsDead): `dead` when the record is gone or finished; `live` while it is young (on
 * its way, whatever its job says); otherwise its job's state decides (`job`: see jobEnded). Pure.
 */
export function judgeCommand(record: CommandRecord | null, nowMs: number): 'dead' | 'live' | 'job' {
  if (record === null || isFinished(record.status)) return 'dead';
  return nowMs - Date.parse(record.requestedAt) > LOST_JOB_GRACE_MS ? 'job' : 'live';
}

/** Whether a job in this state (`missing` when there is none) will never carry its command out. Pure. */
export function jobEnded(state: string): boolean {
  return ENDED_JOB_STATES.has(state);
}

/** The campaign's unfinished commands in the order they run, oldest first (one ZRANGE; [] when none). */
export function unfinishedCommands(
  ctx: Pick<AppContext, 'redis' | 'keys'>,
  campaignId: string,
): Promise<string[]> {
  return createCommandOrder(ctx).pending(campaignId);
}

/**
 * The first of `pending` (a campaign's order, oldest first) that can still run, or null when none
 * can. Dead ones are skipped, as the next command's turn would drop them (only that turn removes them:
 * this reads). Reads nothing for an empty order; per command, its record, and its job's state only
 * once it is past the grace.
 */
export async function firstLiveCommand(
  ctx: Pick<AppContext, 'redis' | 'keys' | 'queues' | 'clock'>,
  pending: readonly string[],
): Promise<string | null> {
  const commands = createCommandStore(ctx);
  for (const commandId of pending) {
    const verdict = judgeCommand(await commands.get(commandId), ctx.clock.now());
    if (verdict === 'live') return commandId;
    if (verdict === 'dead') continue;
    const job = await ctx.queues.adjust.getJob(commandId);
    if (!jobEnded(job ? await job.getState() : 'missing')) return commandId;
  }
  return null;
}
