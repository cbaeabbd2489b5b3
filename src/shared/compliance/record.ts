import type { AuditTrailStore } from '../audit/trail.js';
import type { AuditInput } from '../audit/types.js';
import type { AppContext } from '../context.js';
import type { EfficiencyMetrics } from '../efficiency.js';
import type { EventType } from '../events/types.js';
import { complianceActions } from '../metrics.js';
import { auditOrLog, publishOrLog } from '../side-records.js';
import { appendAction, type ComplianceActionKind } from './state-store.js';

/** Compliance's identity in audit records, commands and events. */
export const COMPLIANCE_ACTOR = 'worker:compliance';

/**
 * Records one compliance action everywhere it must be provable: the campaign's compliance log (for
 * the report), the hash-chained audit trail ('compliance_action', or 'compliance_override'), the
 * metric, the log, and optionally a webhook event. Audit/event failures are logged, not thrown: the
 * action itself (a pause already queued) must not be retried because its paperwork failed.
 */
export async function recordComplianceAction(
  ctx: Pick<AppContext, 'redis' | 'keys' | 'audit' | 'events' | 'logger' | 'clock'>,
  input: {
    campaignId: string;
    kind: ComplianceActionKind;
    details: Record<string, unknown>;
    cxoneVersion?: number | undefined;
    event?: EventType;
    dedupeKey?: string;
    actor?: string;
    /** The campaign's efficiency from the statistics the action was decided on, when there are some. */
    metrics?: EfficiencyMetrics | null;
  },
): Promise<void> {
  const at = new Date(ctx.clock.now()).toISOString();
  const details = { kind: input.kind, ...input.details };
  await appendAction(ctx, input.campaignId, {
    at,
    kind: input.kind,
    details: input.details,
    ...(input.dedupeKey ? { dedupeKey: input.dedupeKey } : {}),
  });
  const recorded = await auditOnce(
    ctx,
    {
      campaignId: input.campaignId,
      action: input.kind === 'override' ? 'compliance_override' : 'compliance_action',
      actor: input.actor ?? COMPLIANCE_ACTOR,
      cxoneVersion: input.cxoneVersion,
      details,
      metrics: input.metrics ?? null,
      ...(input.dedupeKey ? { dedupeKey: input.dedupeKey } : {}),
    },
    { kind: input.kind },
  );
  // A replay (a retried job, a redelivered poll) whose dedupe key the trail already holds is the same
  // action, not a second one: counted and logged again, the metric would show twice the actions the
  // trail proves; published again, receivers would hear of one pause twice, under two event ids.
  if (!recorded) return;
  complianceActions.inc({ kind: input.kind });
  ctx.logger.info({ campaignId: input.campaignId, compliance: details }, `compliance: ${input.kind}`);
  if (input.event) await publishOrLog(ctx, input.event, input.campaignId, details, { kind: input.kind });
}

/**
 * auditOrLog that also tells whether the record is new: false only when the trail says its dedupe key
 * was already recorded. A failed write, or a trail that cannot tell, counts as new: the action did
 * happen, and its count must not depend on the paperwork.
 */
async function auditOnce(
  ctx: Pick<AppContext, 'audit' | 'logger'>,
  input: AuditInput,
  context: Record<string, unknown>,
): Promise<boolean> {
  const store = ctx.audit as Partial<Pick<AuditTrailStore, 'appendWithOutcome'>>;
  if (!input.dedupeKey || typeof store.appendWithOutcome !== 'function') {
    await auditOrLog(ctx, input, context);
    return true;
  }
  try {
    return !(await store.appendWithOutcome(input)).duplicate;
  } catch (err) {
    ctx.logger.error(
      { err, campaignId: input.campaignId, action: input.action, ...context },
      'audit write failed',
    );
    return true;
  }
}
