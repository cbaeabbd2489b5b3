import { z } from 'zod';
import { PACING_STRATEGIES } from '../campaign-config.js';

/**
 * The pacing record's shape, once: pacing's own types (PacingRecord, PacingDecision, StartAnchor, the
 * abandonment controller's memory) are inferred from these schemas, and GET /v1/campaigns/{id}
 * documents its `pacing` field with them (src/shared/responses/campaign-view.ts). The objects are
 * not loose, so pacing's code keeps its typo checks; a stored record of an earlier release that
 * carries a field this one dropped still parses (zod strips the field), and the view shows the
 * documented fields only.
 */

const countersSchema = z.object({
  atMs: z.number(),
  answered: z.number(),
  abandoned: z.number(),
});

/** Dials counted by an earlier poll: `total` of them, placed at or before `atMs`. */
export const dialMarkSchema = z.object({
  atMs: z.number(),
  total: z.number(),
  /** Absent: not known. */
  callRate: z.number().optional().describe('The callRate in effect at that poll'),
});

export const startAnchorSchema = z
  .object({
    /** The re-anchor never goes above it. */
    requestedCallRate: z.number().describe('What the campaign asked for'),
    startCallRate: z.number().describe('The safe start it was activated at'),
    /** Reported, never trusted. */
    declaredAnswerRate: z.number().describe("The config's answerRate"),
    /**
     * Bounds the lines in flight (see measureAnswerRate) with the current agentCapacity (the larger of
     * the two), and sizes the re-anchor (the smaller of the two).
     */
    agents: z.number().describe('agentCapacity at activation'),
    /**
     * The start itself after an activation, the requested rate after a takeover (the campaign was
     * found dialing at it). Absent in records of the first release of the anchor: the requested rate.
     */
    priorCallRate: z
      .number()
      .optional()
      .describe('The highest rate lines may still ring from when the controller takes the anchor'),
    maxAnswersPerIdleAgent: z
      .number()
      .describe('Expected live answers per idle agent the re-anchored rate may produce'),
  })
  .describe('A safe start waiting for the measured answer rate');

/** Everything the abandonment-target controller remembers between polls. */
export const abandonmentControllerStateSchema = z
  .object({
    callRate: z.number().describe('The callRate the controller believes is in effect'),
    /** Reset by every change. */
    window: countersSchema.describe('Counters at the start of the rolling window'),
    /** Becomes the window start when the window gets too old. */
    checkpoint: countersSchema.describe('Counters half-way through the window'),
    period: countersSchema.describe('Counters at the start of the compliance period'),
    /** To notice a reset. */
    last: countersSchema.describe('Counters of the previous poll'),
    lastChangeAtMs: z.number().nullable(),
    /**
     * `probe`: the counters when the campaign began running at the ceiling's limit after its hold
     * (absent: it does not run there); `lift`: how far past `callRate` clean probes have let the
     * controller go (absent: 0).
     */
    ceiling: z
      .object({
        callRate: z.number(),
        setAtMs: z.number(),
        strikes: z.number(),
        probe: countersSchema.nullable().optional(),
        lift: z.number().optional(),
      })
      .nullable()
      .describe('The lowest rate that overshot recently, and how many times it did'),
    guard: z.object({ sinceMs: z.number(), preGuardCallRate: z.number() }).nullable(),
    /** Absent in records written by earlier releases: nothing pending. */
    anchor: startAnchorSchema.nullable().optional(),
    /** Newest last (see reanchor.ts). */
    anchorMarks: z.array(dialMarkSchema).optional().describe('Dial counts of the polls since the anchor'),
    /**
     * The team evidence (evidencedAgents) counts from there, so a pause before a resume, or a smaller
     * team before a raise of agentCapacity, does not read as a team under its capacity. Absent: taken
     * at the next poll.
     */
    anchorSince: countersSchema
      .nullable()
      .optional()
      .describe('Counters at the first poll that held the pending anchor'),
    /** reanchorMinDials when absent. */
    anchorStageDials: z
      .number()
      .nullable()
      .optional()
      .describe('Settled dials the next re-anchor stage waits for'),
    /** Absent: they were not. A reset or a stale read, told apart by whether they stay below. */
    backwardsSinceMs: z
      .number()
      .nullable()
      .optional()
      .describe('When the counters were first read below `last`'),
    /**
     * Restored when the next poll still finds the rate it moved from (the write never landed).
     */
    pendingDown: z
      .object({
        from: z.number(),
        window: countersSchema,
        checkpoint: countersSchema,
        lastChangeAtMs: z.number().nullable(),
      })
      .nullable()
      .optional()
      .describe("The controller's last move down, until a poll sees it in effect"),
  })
  .describe("The controller's memory: internal to pacing, its fields may change between releases");

const pacingStrategySchema = z.enum(PACING_STRATEGIES);

/** One decision, kept whole in the audit trail and the campaign record. */
export const pacingDecisionSchema = z.object({
  /** 'off' only for a change the abandonment guard forces on a campaign without pacing. */
  strategy: pacingStrategySchema,
  inputs: z
    .record(z.string(), z.union([z.number(), z.boolean(), z.null()]))
    .describe('The figures the decision was based on'),
  previousCallRate: z.number(),
  /** Equal to previousCallRate when direction is 'hold'. */
  callRate: z.number().describe('The callRate to run at'),
  direction: z.enum(['up', 'down', 'hold']),
  reason: z.string(),
});

/** What pacing keeps in the campaign record's `pacing` field. */
export const pacingRecordSchema = z.object({
  strategy: pacingStrategySchema,
  /** Null for stateless strategies. */
  state: abandonmentControllerStateSchema.nullable(),
  lastDecision: pacingDecisionSchema
    .extend({ at: z.string() })
    .nullable()
    .describe('The latest decision, hold or change'),
  lastAdjustment: z
    .object({
      at: z.string(),
      commandId: z.string(),
      from: z.number(),
      to: z.number(),
      reason: z.string(),
    })
    .nullable()
    .describe('The latest change that was sent through the lifecycle'),
  /** Pacing waits for it before deciding again. */
  pendingCommandId: z.string().nullable().describe('A change still on its way through the adjust queue'),
  guardCap: z
    .object({ maxCallRate: z.number(), reason: z.string() })
    .nullable()
    .describe("The abandonment guard's cap on callRate while it throttles"),
  /**
   * Until the controller's first step takes it into its memory (which then re-anchors on the measured
   * answer rate). Absent in older records.
   */
  startAnchor: startAnchorSchema
    .nullable()
    .optional()
    .describe('The safe start the campaign was activated with'),
});
