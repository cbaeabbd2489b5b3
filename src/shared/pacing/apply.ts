import { pacingStrategyOf, regimeOf, targetAbandonmentOf } from '../campaign-config.js';
import type { CampaignRecord } from '../campaign-store.js';
import { CampaignStore } from '../campaign-store.js';
import { MEASUREMENT } from '../compliance/guard.js';
import { REASON_GUARD } from '../compliance/guard-actions.js';
import type { AppContext } from '../context.js';
import type { CampaignStats } from '../cxone/wire.js';
import type { EfficiencyMetrics } from '../efficiency.js';
import { createCommandStore, isFinished } from '../lifecycle/commands.js';
import { enqueueCommand } from '../lifecycle/enqueue.js';
import { unfinishedCommands } from '../lifecycle/pending-commands.js';
import { isFinal } from '../lifecycle/state-machine.js';
import { pacingDecisions } from '../metrics.js';
import { auditOrLog, publishOrLog } from '../side-records.js';
import { capDecision, type GuardThrottle } from './guard-cap.js';
import { decidePacing } from './index.js';
import { thresholdRecall } from './threshold.js';
import { readPacingRecord, type PacingRecord } from './record.js';
import { pausedSafeStart, type CarriedSafeStart } from './resume.js';
import {
  pacingTurn,
  type PacingDeferred,
  type PacingFence,
  type PacingOrderSeen,
  type PacingWaiting,
} from './turn.js';
import { decisionDetails, type PacingDecision } from './types.js';

/** Pacing's identity in commands, audit records and logs. */
export const PACING_ACTOR = 'worker:pacing';
export const REASON_PACING = 'pacing';

export interface ApplyPacingInput {
  record: CampaignRecord;
  stats: CampaignStats;
  efficiency: EfficiencyMetrics | null;
  /** The abandonment guard's throttle, when it is throttling. */
  throttle: GuardThrottle | null;
  /** Start (epoch ms) of the compliance period the guard measures now: the controller's period follows it. */
  periodStartMs?: number;
}

export type ApplyPacingResult =
  | { kind: 'off' }
  | PacingWaiting
  | { kind: 'decided'; decision: PacingDecision; commandId: string | null }
  | PacingDeferred;

type PacingContext = AppContext;

/**
 * One pacing step for a campaign after a stats poll: runs the campaign's strategy (the same pure
 * function the benchmark runs), applies the guard's cap, and sends a change through the lifecycle's
 * versioned-write path (enqueueCommand) with the callRate it was based on, so a concurrent operator
 * change of the same field is a conflict rather than silently overwritten. Changes are audited
 * ('pacing_decision') and published ('campaign.pacing.adjusted'); every decision, hold or change,
 * and the controller's memory are stored in the record's `pacing` field. `input.record` is the record
 * the poll read; the step runs in its turn on the campaign (turn.ts), on the record as it is then,
 * and is deferred when a command wrote the campaign since or is queued to, and waits while pacing's own
 * previous change is queued or running. A campaign whose pacing is off, stored as off, and not
 * throttled has nothing to write: it takes no turn.
 */
export async function applyPacing(ctx: PacingContext, input: ApplyPacingInput): Promise<ApplyPacingResult> {
  if (
    input.throttle === null &&
    pacingStrategyOf(input.record.config) === 'off' &&
    (input.record.pacing as { strategy?: unknown } | undefined)?.strategy === 'off'
  ) {
    return { kind: 'off' };
  }
  const result = await pacingTurn(ctx, input.record, (record, fence, orderSeen) =>
    paceActive(ctx, { ...input, record }, { fence, orderSeen }),
  );
  if (result.kind !== 'deferred' || result.ended !== undefined || input.throttle === null) return result;
  const guardCapCommandId = await capWhileDeferred(ctx, input, input.throttle, result.reason);
  return guardCapCommandId === null ? result : { ...result, guardCapCommandId };
}

/**
 * The guard's throttle is compliance, and compliance never waits behind a routine command: a step
 * deferred (a command queued, at work, or written since the poll read) while the campaign dials above
 * the guard's cap still brings it down to the cap, queued behind whatever is in the order (as the
 * guard's pause is), against the rate as stored now: a command ahead that sets callRate (an operator's
 * rate, a carried safe start) makes it a conflict, and the next poll caps from that rate. Nothing of
 * pacing's memory is written: the controller decides again on a poll after those commands. Not queued
 * twice: a guard command already on its way to the cap or below (an earlier deferred poll's, the
 * guard pause's drop to the minimum) suffices. Returns the queued command's id, or null.
 */
async function capWhileDeferred(
  ctx: PacingContext,
  input: ApplyPacingInput,
  throttle: GuardThrottle,
  deferredFor: string,
): Promise<string | null> {
  const { campaignId } = input.record;
  const record = await new CampaignStore(ctx).get(campaignId);
  if (record === null || isFinal(record.status)) return null;
  const current = record.config.dialerStrategy.callRate;
  const hold: PacingDecision = {
    strategy: pacingStrategyOf(record.config),
    inputs: {},
    previousCallRate: current,
    callRate: current,
    direction: 'hold',
    reason: 'pacing deferred',
  };
  const { decision, capped } = capDecision(hold, throttle);
  if (!capped || decision.direction !== 'down') return null;
  const commands = createCommandStore(ctx);
  for (const id of await unfinishedCommands(ctx, campaignId)) {
    const command = await commands.get(id);
    const rate = (command?.patch as { dialerStrategy?: { callRate?: unknown } } | undefined)?.dialerStrategy
      ?.callRate;
    if (
      command !== null &&
      !isFinished(command.status) &&
      command.reason === REASON_GUARD &&
      typeof rate === 'number' &&
      rate <= decision.callRate
    ) {
      return null;
    }
  }
  ctx.logger.warn(
    { campaignId, from: current, to: decision.callRate, deferredFor },
    "pacing deferred while the abandonment guard throttles: the guard's cap is queued on its own",
  );
  const commandId = await queueAdjustment(ctx, {
    record,
    decision: { ...decision, reason: `${decision.reason} (pacing's step deferred: ${deferredFor})` },
    reason: REASON_GUARD,
    stats: input.stats,
    efficiency: input.efficiency,
  });
  // Audited and published as a pacing decision, so counted as one: the same cap decided inside
  // pacing's turn is.
  pacingDecisions.inc({ strategy: decision.strategy, direction: decision.direction });
  return commandId;
}

/** What a step holds of its turn: the fence before its writes, the order its change may queue behind. */
interface TurnHeld {
  fence: PacingFence;
  orderSeen: PacingOrderSeen;
}

async function paceActive(
  ctx: PacingContext,
  input: ApplyPacingInput,
  turn: TurnHeld,
): Promise<ApplyPacingResult> {
  const { record, stats } = input;
  const campaignId = record.campaignId;
  const pacingConfig = {
    strategy: pacingStrategyOf(record.config),
    targetAbandonment: targetAbandonmentOf(record.config),
    ...(record.config.pacing?.thresholds ? { thresholds: record.config.pacing.thresholds } : {}),
  };
  const previous = readPacingRecord(record.pacing, pacingConfig.strategy);
  const store = new CampaignStore(ctx);
  const nowMs = ctx.clock.now();
  const at = new Date(nowMs).toISOString();

  const current = record.config.dialerStrategy.callRate;
  // The controller's cumulative rate is measured over the same period the law (and the guard) uses.
  const periodMs = MEASUREMENT[regimeOf(record.config)].periodMs;
  // A safe start's anchor is handed over once, to the controller's first step (it keeps it in its
  // memory until the re-anchor): after that the record drops it. Only while the campaign still runs
  // at the start: a callRate someone else set since (an operator's PATCH before the first poll) is
  // theirs, and the re-anchor must not raise it.
  const startAnchor =
    previous.state === null &&
    previous.startAnchor &&
    Math.abs(current - previous.startAnchor.startCallRate) < 1e-9
      ? previous.startAnchor
      : null;
  // The calls the threshold rule's previous decision was made on: it keeps no memory of its own.
  const recall = pacingConfig.strategy === 'threshold' ? thresholdRecall(previous.lastDecision) : {};
  const step = decidePacing(
    pacingConfig,
    {
      atMs: nowMs,
      callRate: current,
      agents: record.config.dialerStrategy.agentCapacity,
      stats,
      ...recall,
    },
    previous.state,
    { periodMs, ...(input.periodStartMs !== undefined ? { periodStartMs: input.periodStartMs } : {}) },
    startAnchor,
  );
  if (step === null && input.throttle === null) {
    const raw = record.pacing as { strategy?: unknown } | undefined;
    if (raw?.strategy !== 'off') {
      await turn.fence();
      await store.patch(campaignId, {
        pacing: { ...previous, state: null, pendingCommandId: null, guardCap: null, startAnchor: null },
      });
    }
    return { kind: 'off' };
  }
  const proposed: PacingDecision = step?.decision ?? {
    strategy: 'off',
    inputs: {},
    previousCallRate: current,
    callRate: current,
    direction: 'hold',
    reason: 'pacing is off',
  };
  const { decision, capped } = capDecision(proposed, input.throttle);
  await turn.fence();

  let commandId: string | null = null;
  let lastAdjustment = previous.lastAdjustment;
  if (decision.direction !== 'hold') {
    const reason = capped ? REASON_GUARD : REASON_PACING;
    commandId = await queueAdjustment(ctx, {
      record,
      decision,
      reason,
      stats,
      efficiency: input.efficiency,
      orderSeen: turn.orderSeen,
    });
    lastAdjustment = { at, commandId, from: current, to: decision.callRate, reason: decision.reason };
  } else {
    ctx.logger.debug({ campaignId, callRate: current, reason: decision.reason }, 'pacing holds');
  }

  // Counted once the change is queued: one a command accepted meanwhile refused was not decided.
  pacingDecisions.inc({ strategy: pacingConfig.strategy, direction: decision.direction });
  const next: PacingRecord = {
    strategy: pacingConfig.strategy,
    state: step?.state ?? null,
    lastDecision: { ...decision, at },
    lastAdjustment,
    pendingCommandId: commandId,
    guardCap: input.throttle,
    startAnchor: null,
  };
  await store.patch(campaignId, { pacing: next });
  return { kind: 'decided', decision, commandId };
}

/**
 * A poll that finds the campaign paused: an abandonment-target predictive campaign above its safe
 * start is brought down to it, through the same versioned command path as any decision, so that it
 * resumes at one line per idle agent and re-anchors from there (resume.ts says why). Null when there is
 * nothing to do. Whoever sets callRate during the pause wins (a conflict, or the controller takes
 * their rate for an operator's after the resume), as with any pacing change. In its turn on the
 * campaign, as applyPacing: a resume that ran since the poll read the campaign, or is queued to, defers
 * it. A campaign with nothing to drop as the poll read it (the common paused poll: at its safe start
 * already) takes no turn: the drop is pure, and nothing is written.
 */
export async function applyPausedPacing(
  ctx: PacingContext,
  input: PausedPacingInput,
): Promise<ApplyPacingResult | null> {
  if (pausedStep(input.record, input.stats, ctx.clock.now()) === null) return null;
  return pacingTurn(ctx, input.record, (record, fence, orderSeen) =>
    pacePaused(ctx, { ...input, record }, { fence, orderSeen }),
  );
}

/** The drop a paused campaign is due as `record` has it, or null (pausedSafeStart). Pure. */
function pausedStep(record: CampaignRecord, stats: CampaignStats, atMs: number) {
  const strategy = pacingStrategyOf(record.config);
  if (strategy !== 'abandonment-target') return null;
  const previous = readPacingRecord(record.pacing, strategy);
  return pausedSafeStart(record.config, previous.state, { atMs, stats });
}

type PausedPacingInput = {
  record: CampaignRecord;
  stats: CampaignStats;
  efficiency: EfficiencyMetrics | null;
};

async function pacePaused(
  ctx: PacingContext,
  input: PausedPacingInput,
  turn: TurnHeld,
): Promise<ApplyPacingResult | null> {
  const { record, stats } = input;
  const campaignId = record.campaignId;
  const nowMs = ctx.clock.now();
  const step = pausedStep(record, stats, nowMs);
  if (step === null) return null;
  const previous = readPacingRecord(record.pacing, 'abandonment-target');
  const { decision } = step;
  await turn.fence();
  const commandId = await queueAdjustment(ctx, {
    record,
    decision,
    reason: REASON_PACING,
    stats,
    efficiency: input.efficiency,
    orderSeen: turn.orderSeen,
  });
  pacingDecisions.inc({ strategy: decision.strategy, direction: decision.direction });
  await new CampaignStore(ctx).patch(campaignId, {
    pacing: safeStartDropRecord(previous, step, { at: new Date(nowMs).toISOString(), commandId }),
  });
  return { kind: 'decided', decision, commandId };
}

/**
 * The record's `pacing` field once a drop to the safe start is sent (pausedSafeStart's step): the drop
 * is the latest change, `commandId` carries it (pacing waits for it before deciding again), the memory
 * takes it as its own change with the anchor, and without a memory yet the first poll takes the anchor
 * from the record. One definition for the paused poll's drop and the one a command carries, so both
 * leave pacing the same memory.
 */
function safeStartDropRecord(
  previous: PacingRecord,
  step: NonNullable<ReturnType<typeof pausedSafeStart>>,
  sent: { at: string; commandId: string },
): PacingRecord {
  const { decision } = step;
  return {
    strategy: 'abandonment-target',
    state: step.state,
    lastDecision: { ...decision, at: sent.at },
    lastAdjustment: {
      at: sent.at,
      commandId: sent.commandId,
      from: decision.previousCallRate,
      to: decision.callRate,
      reason: decision.reason,
    },
    pendingCommandId: sent.commandId,
    guardCap: previous.guardCap,
    // Without a memory yet (paused before its first paced poll), the first poll takes the anchor.
    startAnchor: step.state === null ? step.anchor : null,
  };
}

/**
 * Pacing's side of a safe start a campaign command carried in its own CXone write (a resume, or a raise
 * of agentCapacity: resume.ts carriedSafeStart): the lifecycle already wrote the rate, so nothing is
 * queued; the memory takes the drop exactly as it takes the paused poll's (pausedSafeStart,
 * safeStartDropRecord), and the drop is audited and published as that one is, naming the command that
 * carried it. Called under the command's campaign lock, so no poll's pacing step (turn.ts) reads the
 * memory before this write and stores its own after it. `config` is the campaign's config with the callRate it dropped from and the agentCapacity
 * it runs with now. Null when pausedSafeStart sees nothing to drop (it decides on the same config as the
 * command did, so only an unknown campaign or a changed strategy gets here).
 */
export async function recordCarriedSafeStart(
  ctx: PacingContext,
  input: {
    campaignId: string;
    config: CarriedSafeStart['config'];
    reason: string;
    commandId: string;
    commandReason: string;
    cxoneVersion: number;
  },
): Promise<PacingDecision | null> {
  const { campaignId, commandId } = input;
  const store = new CampaignStore(ctx);
  const record = await store.get(campaignId);
  if (!record) return null;
  const previous = readPacingRecord(record.pacing, 'abandonment-target');
  const nowMs = ctx.clock.now();
  // The counters the last poll read: the window restarts there. Without any, pausedSafeStart keeps the
  // memory's own (counters below them are never taken).
  const stats = record.lastStats ?? { answeredCalls: 0, abandonedCalls: 0 };
  const step = pausedSafeStart(input.config, previous.state, { atMs: nowMs, stats }, input.reason);
  if (step === null) return null;
  const { decision } = step;
  pacingDecisions.inc({ strategy: decision.strategy, direction: decision.direction });
  await store.patch(campaignId, {
    pacing: safeStartDropRecord(previous, step, { at: new Date(nowMs).toISOString(), commandId }),
  });
  ctx.logger.info(
    {
      campaignId,
      commandId,
      from: decision.previousCallRate,
      to: decision.callRate,
      reason: decision.reason,
    },
    'safe start carried by a command',
  );
  await recordAdjustment(ctx, {
    campaignId,
    decision,
    commandId,
    commandReason: input.commandReason,
    cxoneVersion: input.cxoneVersion,
    efficiency: record.efficiency ?? null,
  });
  return decision;
}

/**
 * Queues a decided change of callRate through the lifecycle's versioned write, based on the rate the
 * decision was made from (so an operator's change of it meanwhile is a conflict, not overwritten), and
 * audits and announces it. Returns the command's id. Queued only behind the commands the turn saw
 * (`orderSeen`): one accepted since the turn read the order throws CommandAcceptedAheadError, before
 * anything of the decision is written, and the turn defers.
 */
async function queueAdjustment(
  ctx: PacingContext,
  input: {
    record: CampaignRecord;
    decision: PacingDecision;
    reason: string;
    stats: CampaignStats;
    efficiency: EfficiencyMetrics | null;
    /** Absent: queued behind whatever is in the order (the guard's cap, which never waits). */
    orderSeen?: PacingOrderSeen;
  },
): Promise<string> {
  const { record, decision, reason } = input;
  const { campaignId } = record;
  const { commandId } = await enqueueCommand(
    ctx,
    {
      campaignId,
      actor: PACING_ACTOR,
      reason,
      patch: { dialerStrategy: { callRate: decision.callRate } },
      base: { 'dialerStrategy.callRate': decision.previousCallRate },
      baseVersion: record.version,
    },
    input.orderSeen === undefined ? {} : { onlyBehind: input.orderSeen },
  );
  ctx.logger.info(
    {
      campaignId,
      commandId,
      from: decision.previousCallRate,
      to: decision.callRate,
      strategy: decision.strategy,
      reason: decision.reason,
    },
    'pacing adjustment queued',
  );
  await recordAdjustment(ctx, {
    campaignId,
    decision,
    commandId,
    commandReason: reason,
    cxoneVersion: input.stats.version,
    efficiency: input.efficiency,
  });
  return commandId;
}

/**
 * Audit and event for a change. Their failure is logged, not thrown: the command is already queued,
 * and retrying the poll would queue a second one.
 */
async function recordAdjustment(
  ctx: PacingContext,
  input: {
    campaignId: string;
    decision: PacingDecision;
    commandId: string;
    commandReason: string;
    cxoneVersion: number;
    efficiency: EfficiencyMetrics | null;
  },
): Promise<void> {
  const { campaignId, commandId } = input;
  const details = {
    ...decisionDetails(input.decision),
    commandId,
    commandReason: input.commandReason,
  };
  await auditOrLog(
    ctx,
    {
      campaignId,
      action: 'pacing_decision',
      actor: PACING_ACTOR,
      cxoneVersion: input.cxoneVersion,
      details,
      metrics: input.efficiency,
    },
    { commandId },
  );
  await publishOrLog(ctx, 'campaign.pacing.adjusted', campaignId, details, { commandId });
}
