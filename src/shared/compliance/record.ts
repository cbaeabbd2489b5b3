import type { AppContext } from '../context.js';
import type { EfficiencyMetrics } from '../efficiency.js';
import type { EventType } from '../events/types.js';
import { complianceActions } from '../metrics.js';
import { auditOrLog, publishOrLog } from '../side-records.js';
import { appendAction, type ComplianceActionKind } from './state-store.js';

/** Compliance's identity in audit records, commands and events. */
export const COMPLIANCE_ACTOR = 'worker:compliance';

/**
 * Who asked for a resume made outside the orchestrator (CXone's console or another tool), as the
 * guard's and the blind pause's lift records name it: unknown here; CXone's history names them.
 */
export const OUTSIDE = 'outside';

/** How a lift record of such a resume says it. */
export const RESUMED_OUTSIDE =
  'resumed outside the orchestrator (CXone’s console or another tool: CXone’s history, imported into the trail, names who)';

/** The `once` of the event announcing a compliance action recorded under `dedupeKey` (PublishOptions). */
export function complianceEventOnce(campaignId: string, dedupeKey: string): { once: string } {
  return { once: `compliance:${campaignId}:${dedupeKey}` };
}

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
  const recorded = await auditOrLog(
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
  // trail proves.
  if (recorded) {
    complianceActions.inc({ kind: input.kind });
    ctx.logger.info({ campaignId: input.campaignId, compliance: details }, `compliance: ${input.kind}`);
  }
  if (!input.event) return;
  // Its event goes by an id derived from the same key, and is published on a replay too: a run that
  // died between the record and the event (or a replay whose trail write failed, which cannot tell it
  // is one) would otherwise leave receivers without it, or tell them of one pause twice, under two ids.
  // Without a key the action is its own (recorded is then always true).
  const once = input.dedupeKey === undefined ? {} : complianceEventOnce(input.campaignId, input.dedupeKey);
  await publishOrLog(ctx, input.event, input.campaignId, details, { kind: input.kind }, once);
}
