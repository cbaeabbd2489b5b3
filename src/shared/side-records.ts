import type { PreparedAudit } from './audit/audit-script.js';
import type { AuditTrailStore } from './audit/trail.js';
import type { AuditInput, AuditTrail } from './audit/types.js';
import type { EventPublisher, EventType, PublishOptions } from './events/types.js';
import type { Logger } from './logger.js';

/**
 * Audit records and events that report a change already made (a CXone write that went through, a
 * command already queued). Their failure is logged loudly, with the campaign and what was being
 * recorded, and never thrown: failing the caller would make its job repeat the change. Where a
 * repeat is still possible (a redelivered job), the record's dedupe key keeps it from doubling, and
 * the answer says whether this was the first time.
 */
export async function auditOrLog(
  deps: { audit: AuditTrail; logger: Logger },
  input: AuditInput,
  context: Record<string, unknown> = {},
): Promise<boolean> {
  // Resolves false only when the trail says the dedupe key was already recorded (a replay): a failed
  // write, or a trail that cannot tell, counts as new — the change did happen, and what is counted
  // of it must not depend on the paperwork.
  return (await auditOutcomeOrLog(deps, input, context)) !== 'duplicate';
}

/**
 * As auditOrLog, telling a failed write apart: for a caller whose later runs infer from what it did
 * next that the record was made (effects.ts, announced), and must not when it was not.
 */
export async function auditOutcomeOrLog(
  deps: { audit: AuditTrail; logger: Logger },
  input: AuditInput,
  context: Record<string, unknown> = {},
): Promise<'new' | 'duplicate' | 'failed'> {
  const store = deps.audit as Partial<Pick<AuditTrailStore, 'appendWithOutcome'>>;
  try {
    if (input.dedupeKey && typeof store.appendWithOutcome === 'function') {
      return (await store.appendWithOutcome(input)).duplicate ? 'duplicate' : 'new';
    }
    await deps.audit.append(input);
    return 'new';
  } catch (err) {
    deps.logger.error(
      { err, campaignId: input.campaignId, action: input.action, ...context },
      'audit write failed',
    );
    return 'failed';
  }
}

/**
 * The record of a change the caller writes by a script of its own, for that script to append with it
 * (audit-script.ts): a process that dies between the change and its record can no longer leave the
 * change unrecorded. Settled by the script's caller once the change is written; a trail that cannot
 * hand records out (a test double) gets the record through auditOrLog then instead.
 */
export function auditWithChange(
  deps: { audit: AuditTrail; logger: Logger },
  input: AuditInput,
  context: Record<string, unknown> = {},
): PreparedAudit {
  if (typeof deps.audit.prepareAppend === 'function') return deps.audit.prepareAppend(input);
  return { keys: [], args: [], settle: () => auditOrLog(deps, input, context) };
}

/**
 * The event counterpart of auditOrLog. An event announcing a write the caller makes by a script of its
 * own is better written by that script (`events.prepare`, events/event-script.ts): published after the
 * write, it is lost when the process dies in between (a launch's events: launch-store.ts).
 */
export async function publishOrLog(
  deps: { events: EventPublisher; logger: Logger },
  type: EventType,
  campaignId: string,
  data: Record<string, unknown>,
  context: Record<string, unknown> = {},
  /** `once`: the change's name, for an announcement a crash can make its work repeat (PublishOptions). */
  publishOpts: PublishOptions = {},
): Promise<void> {
  try {
    await (publishOpts.once === undefined
      ? deps.events.publish(type, campaignId, data)
      : deps.events.publish(type, campaignId, data, publishOpts));
  } catch (err) {
    deps.logger.error({ err, campaignId, type, ...context }, 'event publish failed');
  }
}
