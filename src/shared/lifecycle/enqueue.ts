import { randomUUID } from 'node:crypto';
import { toValidationIssues, type ValidationIssue } from '../campaign-config.js';
import type { AppContext } from '../context.js';
import type { AdjustJob } from '../jobs.js';
import { throwIfAbandoned } from '../errors.js';
import { lifecycleCommands } from '../metrics.js';
import { createCommandStore, isFinished, type CommandRecord, type CommandRequest } from './commands.js';
import { createCommandOrder } from './order.js';
import { campaignPatchSchema } from './patch.js';
import { CAMPAIGN_ACTIONS } from './state-machine.js';

export type { CommandRequest };

/** A command that cannot be enqueued as given (a programming error in the caller, or a bad API body). */
export class InvalidCommandError extends Error {
  constructor(
    message: string,
    readonly issues: ValidationIssue[] = [],
  ) {
    super(message);
    this.name = 'InvalidCommandError';
  }
}

/**
 * A command asked to be queued only behind the commands its requester knew of (`onlyBehind`) met
 * another one, accepted since: it is not queued (the record it was stored with is deleted), and the requester
 * decides again on the campaign as that command leaves it.
 */
export class CommandAcceptedAheadError extends Error {
  constructor(
    readonly campaignId: string,
    readonly commandId: string,
    /** The commands in the campaign's order the requester did not know of, oldest first. */
    readonly others: readonly string[],
  ) {
    super(
      `command ${others.join(', ')} was accepted on campaign ${campaignId} after its order was read; ` +
        `${commandId} is not queued behind it`,
    );
    this.name = 'CommandAcceptedAheadError';
  }
}

/**
 * The ONLY way anyone (API, pacing, compliance) changes a campaign: the command goes onto the adjust
 * queue, whose worker applies it with versioned writes, rebase on 409, rollback on partial failure
 * and one mutation at a time per campaign across the fleet. Resolves once the command is stored and
 * queued; read its outcome with `getCommand`.
 */
export async function enqueueCommand(
  ctx: AppContext,
  cmd: CommandRequest,
  opts: {
    /** The API request's deadline: once it fired, the command is recorded failed, not enqueued. */
    signal?: AbortSignal | undefined;
    /** Told the command's id before anything is written, so a 503 at the deadline can name it. */
    onCommandId?: (commandId: string) => void;
    /**
     * Queue the command only if every unfinished command of the campaign is one of these (its order as
     * the requester read and judged it: pacing's turn, whose decision holds only with no other command
     * ahead). One accepted since refuses it in the same atomic step as the registration
     * (CommandAcceptedAheadError), instead of queueing it behind a command it was not decided for.
     */
    onlyBehind?: readonly string[];
    /** The command's id, when the caller has already named it (an Idempotency-Key's claim). */
    commandId?: string;
  } = {},
): Promise<{ commandId: string }> {
  const { signal } = opts;
  if (!cmd.campaignId) throw new InvalidCommandError('campaignId is required');
  if (!cmd.actor) throw new InvalidCommandError('actor is required');
  if (cmd.action === undefined && cmd.patch === undefined) {
    throw new InvalidCommandError('a command needs an action, a patch, or both');
  }
  if (cmd.action !== undefined && !CAMPAIGN_ACTIONS.includes(cmd.action)) {
    throw new InvalidCommandError(
      `unknown action "${String(cmd.action)}"; use one of ${CAMPAIGN_ACTIONS.join(', ')}`,
    );
  }
  if (cmd.patch !== undefined) {
    const parsed = campaignPatchSchema.safeParse(cmd.patch);
    if (!parsed.success) {
      throw new InvalidCommandError('invalid campaign patch', toValidationIssues(parsed.error, cmd.patch));
    }
  }

  throwIfAbandoned(signal, 'the command');
  const commandId = opts.commandId ?? newCommandId();
  opts.onCommandId?.(commandId);
  const now = new Date(ctx.clock.now()).toISOString();
  const record: CommandRecord = {
    commandId,
    campaignId: cmd.campaignId,
    actor: cmd.actor,
    reason: cmd.reason || 'operator',
    ...(cmd.action !== undefined ? { action: cmd.action } : {}),
    ...(cmd.patch !== undefined ? { patch: cmd.patch } : {}),
    ...(cmd.base !== undefined ? { base: cmd.base } : {}),
    ...(cmd.baseVersion !== undefined ? { baseVersion: cmd.baseVersion } : {}),
    status: 'queued',
    requestedAt: now,
    updatedAt: now,
    attempts: 0,
  };
  const job: AdjustJob = {
    commandId,
    campaignId: record.campaignId,
    actor: record.actor,
    requestedAt: now,
    reason: record.reason,
    ...(record.action !== undefined ? { action: record.action } : {}),
    ...(record.patch !== undefined ? { patch: record.patch } : {}),
    ...(record.base !== undefined ? { base: record.base } : {}),
    ...(record.baseVersion !== undefined ? { baseVersion: record.baseVersion } : {}),
  };

  const store = createCommandStore(ctx);
  const order = createCommandOrder(ctx);
  // The outcome record and the command's place in its campaign's order exist before the job, so a
  // worker that picks the job up at once finds both.
  await store.create(record);
  // From here a failure closes the record it leaves: one left queued with no job would read as
  // waiting its turn for the record's whole TTL, to a requester who was given its id.
  try {
    const registered =
      opts.onlyBehind === undefined
        ? await order.register(record.campaignId, commandId)
        : await order.registerIfOnly(record.campaignId, commandId, opts.onlyBehind);
    if (registered.seq === null) {
      throw new CommandAcceptedAheadError(record.campaignId, commandId, registered.others);
    }
    const { ahead } = registered;
    // Those the requester saw queued and that have finished since come first: only the head finishes.
    const after = [...(cmd.after ?? []).filter((id) => !ahead.includes(id)), ...ahead];
    throwIfAbandoned(signal, `command ${commandId}`);
    await ctx.queues.adjust.add(record.action ?? 'patch', after.length > 0 ? { ...job, after } : job, {
      jobId: commandId,
    });
  } catch (err) {
    if (err instanceof CommandAcceptedAheadError) {
      // Refused in the registration's atomic step: it never joined the order nor the queue, and the
      // requester (pacing, the one caller of onlyBehind) decides again rather than follow this id. A
      // `failed` record would sit unlisted for the record's whole TTL, so the one created above goes.
      // (Created first all the same: a command in the order without its record reads as dead to
      // commandFate, which the adjust worker would drop.)
      await ctx.redis.del(ctx.keys.command(commandId)).catch(() => undefined);
      throw err;
    }
    await order.remove(record.campaignId, commandId).catch(() => undefined);
    await store
      .update(
        commandId,
        {
          status: 'failed',
          finishedAt: new Date(ctx.clock.now()).toISOString(),
          error: { kind: NOT_QUEUED, message: `could not enqueue: ${(err as Error).message}` },
        },
        new Date(ctx.clock.now()),
      )
      .catch(() => undefined);
    throw err;
  }
  lifecycleCommands.inc({ kind: record.action ?? 'patch', outcome: 'queued' });
  ctx.logger.info(
    {
      commandId,
      campaignId: record.campaignId,
      actor: record.actor,
      reason: record.reason,
      action: record.action,
    },
    'campaign command queued',
  );
  return { commandId };
}

/** `error.kind` of a command whose job was never queued: nothing of it ever ran. */
export const NOT_QUEUED = 'not_queued';

/** A fresh command id, in the form every command has. */
export function newCommandId(): string {
  return `cmd_${randomUUID()}`;
}

/** The command's outcome as last recorded, or null when unknown (never existed or expired). */
export async function getCommand(
  ctx: Pick<AppContext, 'redis' | 'keys'>,
  commandId: string,
): Promise<CommandRecord | null> {
  return createCommandStore(ctx).get(commandId);
}

/** True while the command is known and not finished (queued or running). */
export async function commandInFlight(
  ctx: Pick<AppContext, 'redis' | 'keys'>,
  commandId: string,
): Promise<boolean> {
  const command = await getCommand(ctx, commandId);
  return command !== null && !isFinished(command.status);
}
