import { z } from 'zod';
import { campaignConfigBaseSchema } from './campaign-config.js';
import { CAMPAIGN_ACTIONS } from './lifecycle/state-machine.js';

/**
 * Job payloads, one schema per queue. Producers build them, workers parse them on receipt (a job
 * enqueued by an older release or by hand fails loudly instead of half-working).
 */
export const launchJobSchema = z.object({
  launchId: z.string().min(1),
  /** Already validated by the producer; re-parsed by the worker. */
  config: campaignConfigBaseSchema,
  actor: z.string().min(1),
  requestedAt: z.string(),
});
export type LaunchJob = z.infer<typeof launchJobSchema>;

/** Activation at the campaign's start time, as a delayed job (never a sleeping worker). */
export const activateJobSchema = z.object({
  launchId: z.string().min(1),
  campaignId: z.string().min(1),
  actor: z.string().min(1),
  /**
   * The callRate the activating write planned its safe start from, saved before the write was sent,
   * so a later run that finds the campaign active (the write's answer lost) recognises its own start.
   */
  startPlannedFrom: z.number().positive().optional(),
  /**
   * Since when the start has been held for the statistics scope (ISO), cleared when a look finds the
   * scope back: each hold is recorded once.
   */
  scopeHeldSince: z.string().optional(),
  /** How many statistics-scope holds this job has seen end: names the next hold's record (dedupe). */
  scopeHoldsEnded: z.number().int().nonnegative().optional(),
});
export type ActivateJob = z.infer<typeof activateJobSchema>;

/** One CXone write a command's run sent: the version its If-Match named, what it set (CXone's paths). */
const sentWriteSchema = z.object({
  version: z.number().int(),
  changes: z.record(z.string(), z.unknown()),
});

export const adjustJobSchema = z.object({
  commandId: z.string().min(1),
  campaignId: z.string().min(1),
  actor: z.string().min(1),
  requestedAt: z.string(),
  /** Why: "operator", "pacing", "compliance-window", "abandonment-guard", … */
  reason: z.string().default('operator'),
  action: z.enum(CAMPAIGN_ACTIONS).optional(),
  /** A partial campaign config (validated by lifecycle/patch.ts before enqueueing). */
  patch: z.record(z.string(), z.unknown()).optional(),
  /** The values of the touched fields as the requester saw them, for conflict detection. */
  base: z.record(z.string(), z.unknown()).optional(),
  baseVersion: z.number().int().optional(),
  /**
   * Commands of the campaign accepted before this one and unfinished when its base was read, oldest
   * first: what they write is the orchestrator's own doing, not a change by someone else.
   */
  after: z.array(z.string()).optional(),
  /**
   * The CXone version of this command's settings write once an attempt has audited it: a retry that
   * finds the settings in place then knows they are on record already (set by the adjust worker).
   */
  settingsRecordedVersion: z.number().int().optional(),
  /**
   * Set once an attempt has stored, recorded and followed up the orchestrator-only fields: a retry
   * that finds them in place then knows nothing of theirs is left to do (set by the adjust worker).
   */
  localRecorded: z.boolean().optional(),
  /**
   * Set once a run has recorded its answered status write (audit, event, follow-ups): a later run that
   * finds the status in place then knows it is on record (set by the adjust worker).
   */
  statusRecorded: z.boolean().optional(),
  /**
   * The safe start a run's CXone write carried (pacing's carriedSafeStart), saved before that write is
   * sent: a later run that finds the write in place, its answer lost, hands the drop to pacing as the
   * answered write would have. `config` is the carried decision's (its dialerStrategy and pacing), kept
   * as written (set by the adjust worker).
   */
  carriedSafeStart: z
    .object({
      step: z.enum(['settings', 'status']),
      callRate: z.number(),
      reason: z.string(),
      config: z.record(z.string(), z.unknown()),
    })
    .optional(),
  /**
   * The last CXone write a run of this command sent: the version its If-Match named and what it set
   * (CXone's dotted paths → values), saved before it is sent. A later run that finds the campaign moved
   * on, and those fields not at these values, reads CXone's history: a write applied at `version + 1`
   * (its answer lost, or what followed it failed) that someone changed since must not be written again
   * over their change (set by the adjust worker).
   */
  lastSent: sentWriteSchema.optional(),
  /**
   * The settings write a run of this command sent (saved before it is sent, as `lastSent`), kept when
   * the status write after it replaces `lastSent`: a status write refused (429) or never sent leaves
   * these settings in place, and an operator reverting them before the re-run must be told, not
   * written over. Dropped once a run undid them (set by the adjust worker).
   */
  settingsSent: sentWriteSchema.optional(),
});
export type AdjustJob = z.infer<typeof adjustJobSchema>;

export const pollJobSchema = z.object({ campaignId: z.string().min(1) });
export type PollJob = z.infer<typeof pollJobSchema>;

export const webhookJobSchema = z.object({
  eventId: z.string().min(1),
  /** Set by an explicit replay: deliver again even if the event was delivered before. */
  replay: z.boolean().optional(),
});
export type WebhookJob = z.infer<typeof webhookJobSchema>;

/** Job name of a delayed activation on the `launch` queue. */
export const ACTIVATE_JOB = 'activate';

/** One activation job per campaign; BullMQ job ids must not contain ':'. */
export function activateJobId(campaignId: string): string {
  return `activate-${campaignId}`;
}
