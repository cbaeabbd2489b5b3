import type { Redis } from 'ioredis';
import type { z } from 'zod';
import type { Keys } from '../keys.js';
import type {
  commandRecordFieldsSchema,
  commandRequestSchema,
  commandResultSchema,
  commandWriteSchema,
  conflictReportSchema,
  fieldChangeSchema,
  fieldConflictSchema,
  rollbackReportSchema,
} from '../responses/commands.js';

/**
 * A command is one requested change to one campaign (an action, a settings patch, or both). Its
 * outcome lives in Redis under its own key, independent of the BullMQ job (which is trimmed), so
 * `GET /v1/commands/:id` keeps answering after the queue forgot the job.
 */
export const COMMAND_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'conflict'] as const;
export type CommandStatus = (typeof COMMAND_STATUSES)[number];

// The shapes are the response schemas' (src/shared/responses/commands.ts): GET /v1/commands/{id}
// answers the stored record as it is, so the stored type and the documented one are one.

/** One field somebody else changed under us: what we started from, what we wanted, what is there now. */
export type FieldConflict = z.output<typeof fieldConflictSchema>;
export type ConflictReport = z.output<typeof conflictReportSchema>;
export type FieldChange = z.output<typeof fieldChangeSchema>;
export type RollbackReport = z.output<typeof rollbackReportSchema>;
export type RollbackOutcome = RollbackReport['outcome'];
/** `orchestrator` step: fields CXone does not hold (description, pacing, recipient states), in our record. */
export type CommandWrite = z.output<typeof commandWriteSchema>;
export type CommandResult = z.output<typeof commandResultSchema>;
export type CommandError = NonNullable<CommandRecord['error']>;
/**
 * What a requester asks. `base`: values of the touched fields (config paths such as
 * `dialerStrategy.callRate`, plus `status`) as the requester saw them; a touched field that somebody
 * else changes after this moment is a conflict; omitted, the adjust worker captures it at its first
 * read. `after`: commands of the campaign that were queued, unfinished, when the base was read (oldest
 * first); their writes land after the base was read and before this command runs, and are not taken
 * for someone else's.
 */
export type CommandRequest = z.output<typeof commandRequestSchema>;
/** A command as stored: the request plus its progress and outcome. */
export type CommandRecord = z.output<typeof commandRecordFieldsSchema>;

/** Outcomes are kept a week: long enough for any caller polling them, bounded so Redis does not grow. */
export const COMMAND_TTL_SECONDS = 7 * 24 * 3600;

export function isFinished(status: CommandStatus): boolean {
  return status === 'succeeded' || status === 'failed' || status === 'conflict';
}

export interface CommandStore {
  create(record: CommandRecord): Promise<void>;
  get(commandId: string): Promise<CommandRecord | null>;
  /** Merges `partial` into the stored record; only the job that owns the command calls it. */
  update(commandId: string, partial: Partial<CommandRecord>, now: Date): Promise<CommandRecord | null>;
}

export function createCommandStore(deps: { redis: Redis; keys: Keys }): CommandStore {
  const { redis, keys } = deps;
  return {
    async create(record) {
      await redis.set(keys.command(record.commandId), JSON.stringify(record), 'EX', COMMAND_TTL_SECONDS);
    },
    async get(commandId) {
      const raw = await redis.get(keys.command(commandId));
      return raw ? (JSON.parse(raw) as CommandRecord) : null;
    },
    async update(commandId, partial, now) {
      const key = keys.command(commandId);
      const raw = await redis.get(key);
      if (!raw) return null;
      const next: CommandRecord = {
        ...(JSON.parse(raw) as CommandRecord),
        ...partial,
        updatedAt: now.toISOString(),
      };
      await redis.set(key, JSON.stringify(next), 'EX', COMMAND_TTL_SECONDS);
      return next;
    },
  };
}
