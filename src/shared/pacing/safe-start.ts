import type { AppContext } from '../context.js';
import { pacingDecisions } from '../metrics.js';
import { auditOrLog, publishOrLog } from '../side-records.js';
import type { PacingRecord } from './record.js';
import { safeStartDecision, type SafeStart } from './start.js';
import { decisionDetails } from './types.js';

/**
 * The safe start's trail: the activation that carried it is the change itself (one versioned write
 * with the status), so there is no command; what remains is to say so in the audit trail, the event
 * stream and the campaign record.
 */

/**
 * The campaign record's `pacing` field right after a safe start: the controller starts afresh from
 * it, with the start's anchor to re-anchor on once the statistics show the real answer rate.
 */
export function safeStartPacingRecord(start: SafeStart, at: string): PacingRecord {
  return {
    strategy: 'abandonment-target',
    state: null,
    lastDecision: { ...safeStartDecision(start), at },
    lastAdjustment: null,
    pendingCommandId: null,
    guardCap: null,
    // Taken by the controller's first poll, which re-anchors on the measured answer rate.
    startAnchor: start.anchor,
  };
}

/**
 * Audits (`pacing_decision`) and publishes (`campaign.pacing.adjusted`) a safe start. Failures are
 * logged, not thrown: CXone already runs at the start rate, and failing the activation would repeat
 * it. The dedupe key keeps a redelivered activation from auditing twice, and a repeat (a later run
 * finishing what a run whose answer was lost left) from counting it twice or publishing it under a
 * second event id.
 */
export async function recordSafeStart(
  ctx: Pick<AppContext, 'audit' | 'events' | 'logger'>,
  input: { campaignId: string; start: SafeStart; cxoneVersion: number; actor: string; launchId: string },
): Promise<void> {
  const { campaignId, start } = input;
  const decision = safeStartDecision(start);
  const details = {
    ...decisionDetails(decision),
    explanation: start.explanation,
    launchId: input.launchId,
  };
  const dedupeKey = `pacing_safe_start:${campaignId}`;
  const recorded = await auditOrLog(ctx, {
    campaignId,
    action: 'pacing_decision',
    actor: input.actor,
    cxoneVersion: input.cxoneVersion,
    details,
    dedupeKey,
  });
  // A decision like the controller's, counted with them: dashboards of pacing decisions must not miss
  // the one that set every predictive campaign's first rate.
  if (recorded) pacingDecisions.inc({ strategy: decision.strategy, direction: decision.direction });
  // By an id derived from the record's key, and on a repeat too: written only if no run wrote it, so a
  // run that died between the record and the event leaves it to the repeat, and a repeat whose trail
  // write failed (taken as new) does not announce the start again under another id.
  await publishOrLog(ctx, 'campaign.pacing.adjusted', campaignId, details, {}, { once: dedupeKey });
}
