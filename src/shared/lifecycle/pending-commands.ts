import type { AppContext } from '../context.js';
import { createCommandStore, isFinished, type CommandRecord } from './commands.js';
import { createCommandOrder } from './order.js';

/**
 * Which commands in a campaign's order (order.ts) can still run: the one rule for the adjust worker,
 * which drops a dead head so it does not block the campaign, and for those who must not act while a
 * command is on its way (pacing's turn), who read it without taking part in the order.
 */

/**
 * A command whose job cannot be found is taken for one still being enqueued (its record and its place
 * in the order are written before its job) until it is this old.
 */
export const LOST_JOB_GRACE_MS = 30_000;

/** BullMQ job states in which the job will never carry its command out again. */
const ENDED_JOB_STATES: ReadonlySet<string> = new Set(['completed', 'failed']);
/** No such job (`missing`), or BullMQ does not know it: lost, once past the grace. */
const GONE_JOB_STATES: ReadonlySet<string> = new Set(['missing', 'unknown']);

/**
 * Whether an unfinished command whose job is in `jobState` (`missing` when there is none) can never
 * run: its job ended (our processor records the outcome before BullMQ moves the job on, so only a job
 * that ended without us gets here), or its job is gone and the command is past LOST_JOB_GRACE_MS. Pure.
 */
export function deadByJob(record: CommandRecord, jobState: string, nowMs: number): boolean {
  if (ENDED_JOB_STATES.has(jobState)) return true;
  return GONE_JOB_STATES.has(jobState) && nowMs - Date.parse(record.requestedAt) > LOST_JOB_GRACE_MS;
}

export interface CommandFate {
  dead: boolean;
  /** The job's state, when the record left it to the job (for whoever records the loss). */
  jobState?: string;
}

/**
 * Whether a command can still run. Its record decides when it is gone or finished (dead; the job is not
 * read); otherwise its job's state does (deadByJob).
 */
export async function commandFate(
  ctx: Pick<AppContext, 'redis' | 'keys' | 'queues' | 'clock'>,
  commandId: string,
): Promise<CommandFate> {
  const record = await createCommandStore(ctx).get(commandId);
  if (record === null || isFinished(record.status)) return { dead: true };
  const job = await ctx.queues.adjust.getJob(commandId);
  const jobState = job ? await job.getState() : 'missing';
  return { dead: deadByJob(record, jobState, ctx.clock.now()), jobState };
}

/** The campaign's unfinished commands in the order they run, oldest first (one ZRANGE; [] when none). */
export function unfinishedCommands(
  ctx: Pick<AppContext, 'redis' | 'keys'>,
  campaignId: string,
): Promise<string[]> {
  return createCommandOrder(ctx).pending(campaignId);
}

/**
 * The first of `pending` (a campaign's order, oldest first) that can still run (commandFate), or null
 * when none can. Dead ones are skipped, as the next command's turn in the adjust worker would drop
 * them (only that turn removes them: this reads). Reads nothing for an empty order.
 */
export async function firstLiveCommand(
  ctx: Pick<AppContext, 'redis' | 'keys' | 'queues' | 'clock'>,
  pending: readonly string[],
): Promise<string | null> {
  for (const commandId of pending) {
    if (!(await commandFate(ctx, commandId)).dead) return commandId;
  }
  return null;
}
