import type { AppContext } from '../context.js';
import type { EfficiencyMetrics } from '../efficiency.js';
import type { EventType } from '../events/types.js';
import { complianceActions } from '../metrics.js';
import { auditWithChange } from '../side-records.js';
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
 * metric, the log, and optionally a webhook event. Rejects only when the log entry was not written
 * (and then nothing was); an audit record or event the entry's script could not take is appended or
 * published after it, and its failure logged, not thrown: the action itself (a pause already queued)
 * must not be retried because its paperwork failed.
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
  // The event goes by an id derived from the same key, and is written on a replay (a retried job, a
  // redelivered poll) unless that id already was: a run whose event could not be written with its
  // entry (its events key unusable, or an entry written by a version that published afterwards)
  // announces it then, and a receiver is never told of one pause twice, under two ids.
  // Without a key the action is its own.
  const event = input.event
    ? ctx.events.prepare(
        input.event,
        input.campaignId,
        details,
        input.dedupeKey === undefined ? {} : complianceEventOnce(input.campaignId, input.dedupeKey),
      )
    : undefined;
  const audit = auditWithChange(
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
  // The entry, its event and its audit record in one script: the caller may note its own state next
  // (a hold placed, a pause queued), and an event published after that note and lost to a Redis blip
  // was never published again.
  const recorded = await appendAction(
    ctx,
    input.campaignId,
    {
      at,
      kind: input.kind,
      details: input.details,
      ...(input.dedupeKey ? { dedupeKey: input.dedupeKey } : {}),
    },
    { event, audit },
  );
  // A replay whose dedupe key the trail already holds is the same action, not a second one: counted
  // and logged again, the metric would show twice the actions the trail proves.
  if (recorded) {
    complianceActions.inc({ kind: input.kind });
    ctx.logger.info({ campaignId: input.campaignId, compliance: details }, `compliance: ${input.kind}`);
  }
}
