import type { AppContext } from '../context.js';
import type { PacingRecord } from './record.js';
import { safeStartDecision, type SafeStart } from './start.js';

/**
 * The safe start's trail: the activation that carried it is the change itself (one versioned write
 * with the status), so there is no command; what remains is to say so in the audit trail, the event
 * stream and the campaign record.
 */

/** The campaign record's `pacing` field right after a safe start: the controller starts afresh from it. */
export function safeStartPacingRecord(start: SafeStart, at: string): PacingRecord {
  return {
    strategy: 'abandonment-target',
    state: null,
    lastDecision: { ...safeStartDecision(start), at },
    lastAdjustment: null,
    pendingCommandId: null,
    guardCap: null,
  };
}

/**
 * Audits (`pacing_decision`) and publishes (`campaign.pacing.adjusted`) a safe start. Failures are
 * logged, not thrown: CXone already runs at the start rate, and failing the activation would repeat
 * it. The dedupe key keeps a redelivered activation from auditing twice.
 */
export async function recordSafeStart(
  ctx: Pick<AppContext, 'audit' | 'events' | 'logger'>,
  input: { campaignId: string; start: SafeStart; cxoneVersion: number; actor: string; launchId: string },
): Promise<void> {
  const { campaignId, start } = input;
  const decision = safeStartDecision(start);
  const details = {
    reason: decision.reason,
    inputs: decision.inputs,
    output: { callRate: decision.callRate },
    previousCallRate: decision.previousCallRate,
    direction: decision.direction,
    strategy: decision.strategy,
    explanation: start.explanation,
    launchId: input.launchId,
  };
  try {
    await ctx.audit.append({
      campaignId,
      action: 'pacing_decision',
      actor: input.actor,
      cxoneVersion: input.cxoneVersion,
      details,
      dedupeKey: `pacing_safe_start:${campaignId}`,
    });
  } catch (err) {
    ctx.logger.error({ err, campaignId }, 'safe start audit write failed');
  }
  try {
    await ctx.events.publish('campaign.pacing.adjusted', campaignId, details);
  } catch (err) {
    ctx.logger.error({ err, campaignId }, 'safe start event publish failed');
  }
}
