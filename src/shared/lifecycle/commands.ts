import type { Redis } from 'ioredis';
import type { ValidationIssue } from '../campaign-config.js';
import type { CampaignStatus } from '../cxone/wire.js';
import type { Keys } from '../keys.js';
import type { CampaignAction } from './state-machine.js';

/**
 * A command is one requested change to one campaign (an action, a settings patch, or both). Its
 * outcome lives in Redis under its own key, independent of the BullMQ job (which is trimmed), so
 * `GET /v1/commands/:id` keeps answering after the queue forgot the job.
 */
export const COMMAND_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'conflict'] as const;
export type CommandStatus = (typeof COMMAND_STATUSES)[number];

/** One field somebody else changed under us: what we started from, what we wanted, what is there now. */
export interface FieldConflict {
  field: string;
  base: unknown;
  ours: unknown;
  theirs: unknown;
}

export interface ConflictReport {
  /** Why the command stopped, in words an operator can act on. */
  reason: string;
  conflicts: FieldConflict[];
  /** When the change is invalid on top of the latest configuration: what is wrong with the result. */
  issues?: ValidationIssue[];
  /** CXone's version and status when the conflict was detected. */
  version: number;
  status: CampaignStatus;
}

export interface FieldChange {
  field: string;
  from: unknown;
  to: unknown;
}

export type RollbackOutcome = 'restored' | 'partial' | 'conflict' | 'failed' | 'nothing_to_restore';

export interface RollbackReport {
  outcome: RollbackOutcome;
  /** Fields put back to their value before this command, with the value we undid. */
  restored: FieldChange[];
  /** Fields somebody else changed after our write: left as they are, never forced. */
  conflicts: FieldConflict[];
  /** CXone version after the restoring write, when there was one. */
  version?: number;
  error?: string;
  /** The command's attempt (1-based) that rolled back; set on the command record. */
  attempt?: number;
}

export interface CommandWrite {
  /** `orchestrator`: fields CXone does not hold (description, pacing, recipient states), in our record. */
  step: 'settings' | 'status' | 'orchestrator';
  /** CXone version the write produced. */
  version: number;
  changes: FieldChange[];
  at: string;
}

export interface CommandResult {
  version: number;
  status: CampaignStatus;
  writes: CommandWrite[];
  /** Fields that already held the wanted value (e.g. the same change made elsewhere); nothing sent. */
  alreadyApplied: string[];
  /** How many 409s were resolved by re-reading and rebasing. */
  rebases: number;
}

export interface CommandError {
  message: string;
  kind?: string;
  status?: number;
}

export interface CommandRequest {
  campaignId: string;
  /** Who asked: `api:<caller>`, `pacing`, `compliance:<rule>`, … Recorded in the audit trail. */
  actor: string;
  /** Why: "operator", "pacing", "compliance-window", "abandonment-guard", … */
  reason: string;
  action?: CampaignAction;
  /** A partial campaign config (campaignPatchSchema); validated again here. */
  patch?: Record<string, unknown>;
  /**
   * Values of the touched fields (config paths such as `dialerStrategy.callRate`, plus `status`) as the
   * requester saw them. A touched field that somebody else changes after this moment is a conflict.
   * Omitted: the adjust worker captures it at its first read.
   */
  base?: Record<string, unknown>;
  /** CXone version the base was read at. */
  baseVersion?: number;
  /**
   * Commands of the campaign that were queued, unfinished, when the base was read (oldest first): the
   * queue adds those still ahead when it accepts the command. Their writes land after the base was
   * read and before this command runs, and are not taken for someone else's.
   */
  after?: string[];
}

/** A command as stored: the request plus its progress and outcome. */
export interface CommandRecord extends CommandRequest {
  commandId: string;
  status: CommandStatus;
  requestedAt: string;
  updatedAt: string;
  startedAt?: string;
  finishedAt?: string;
  /** Processing attempts started (lock waits do not count). */
  attempts: number;
  /** The worker (host:pid) that ran the latest attempt. */
  worker?: string;
  result?: CommandResult;
  conflict?: ConflictReport;
  rollback?: RollbackReport;
  error?: CommandError;
}

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
