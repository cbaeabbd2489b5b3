import type { AuditAction, AuditTrail } from '../audit/types.js';
import type { CampaignConfig } from '../campaign-config.js';
import type { CampaignStore } from '../campaign-store.js';
import type { EfficiencyMetrics } from '../efficiency.js';
import type { CampaignResource } from '../cxone/wire.js';
import type { EventPublisher, EventType, PublishOptions } from '../events/types.js';
import { LAUNCH_FAILED_REASON } from '../launch-store.js';
import type { Logger } from '../logger.js';
import { auditOutcomeOrLog, publishOrLog } from '../side-records.js';

/**
 * What a command does besides writing CXone: refresh our record, append to the audit trail, publish
 * events, call into other areas. Each runs after the CXone write it reports on has succeeded, so a
 * failure here must not undo or repeat that write: it is logged loudly and the command goes on (the
 * next poll refreshes the record; CXone's own history keeps the change).
 */
export interface CommandEffects {
  /** `dedupeKey`: appended once per key, however often the command's attempts get here. */
  audit(
    action: AuditAction,
    details: Record<string, unknown>,
    cxoneVersion?: number,
    dedupeKey?: string,
  ): Promise<void>;
  publish(type: EventType, data: Record<string, unknown>): Promise<void>;
  /**
   * The audit record and the event of one change the command made, the event under an id derived
   * from `once` (PublishOptions), so that a later run announcing the same change (its worker died
   * after this and before the command noted it) repeats the id and is not published again. `found`
   * (seen in place on a retry rather than answered): when an earlier run announced it, it recorded it
   * too (the record comes first), and neither is made again. An event whose record failed is
   * published as not `recorded`, so that a later run does not take the announcement for the record.
   * Answers false when it found the change announced already (nothing made).
   * The record's dedupe key is `once` unless `record.dedupeKey` names another: a run that died between
   * the record and the event leaves a later run recording the same change (found in place, nothing
   * announced yet), and that record must not stand beside the first one. Kept for the campaign's
   * life, as every dedupe entry is: one per change a command makes, each of which also makes a CXone
   * version whose imported history record holds one already.
   */
  recordAndAnnounce(
    once: string,
    found: boolean,
    record: {
      action: AuditAction;
      details: Record<string, unknown>;
      cxoneVersion: number;
      dedupeKey?: string;
    },
    event: { type: EventType; data: Record<string, unknown> },
  ): Promise<boolean>;
  /** Stores what CXone answered (version-guarded); `config` also sets the orchestrator-only fields. */
  sync(resource: CampaignResource, config?: CampaignConfig): Promise<void>;
  followUp(what: string, fn: () => Promise<void>): Promise<void>;
  /** The campaign's efficiency as last measured (its record's), attached to the audit records after. */
  useMetrics(metrics: EfficiencyMetrics | null | undefined): void;
}

export interface CommandIdentity {
  campaignId: string;
  commandId: string;
  actor: string;
  reason: string;
}

export function createCommandEffects(
  deps: { audit: AuditTrail; events: EventPublisher; store: CampaignStore; logger: Logger },
  cmd: CommandIdentity,
): CommandEffects {
  const log = deps.logger;
  let metrics: EfficiencyMetrics | null = null;
  /** False when the write failed (logged), true when the record is on the trail (now or before). */
  const audit = async (
    action: AuditAction,
    details: Record<string, unknown>,
    cxoneVersion?: number,
    dedupeKey?: string,
  ): Promise<boolean> => {
    const outcome = await auditOutcomeOrLog(deps, {
      campaignId: cmd.campaignId,
      action,
      actor: cmd.actor,
      cxoneVersion,
      details: { commandId: cmd.commandId, reason: cmd.reason, ...details },
      metrics,
      ...(dedupeKey ? { dedupeKey } : {}),
    });
    return outcome !== 'failed';
  };
  const publish = (type: EventType, data: Record<string, unknown>, opts: PublishOptions = {}) =>
    publishOrLog(
      deps,
      type,
      cmd.campaignId,
      { commandId: cmd.commandId, actor: cmd.actor, ...data },
      {},
      opts,
    );
  /**
   * Whether an earlier run announced the change `once` names, and so recorded it. False when it cannot
   * tell (the check failed, a publisher that cannot say) or that run's record failed (`recorded`):
   * recorded again then, as before.
   */
  const announced = async (once: string): Promise<boolean> => {
    if (!deps.events.published) return false;
    try {
      return await deps.events.published(once);
    } catch (err) {
      log.warn({ err: (err as Error).message, once }, 'could not tell whether the change was announced');
      return false;
    }
  };
  return {
    audit: async (action, details, cxoneVersion, dedupeKey) => {
      await audit(action, details, cxoneVersion, dedupeKey);
    },
    useMetrics(known) {
      metrics = known ?? null;
    },
    publish: (type, data) => publish(type, data),
    async recordAndAnnounce(once, found, record, event) {
      if (found && (await announced(once))) return false;
      const recorded = await audit(
        record.action,
        record.details,
        record.cxoneVersion,
        record.dedupeKey ?? once,
      );
      await publish(event.type, event.data, { once, ...(recorded ? {} : { recorded }) });
      return true;
    },
    async sync(resource, config) {
      try {
        // Operators' commands are taken only for known campaigns: none brings back a record the
        // retention trim removed meanwhile. The stop a failed launch queues is for a campaign that
        // usually has no record yet, and records what it cancelled, as the launch's direct cancel does.
        await deps.store.syncFromCxone(resource, config ? { config } : {}, {
          onlyIfKnown: cmd.reason !== LAUNCH_FAILED_REASON,
        });
      } catch (err) {
        log.warn(
          { err: (err as Error).message },
          'could not refresh the campaign record; the next read will',
        );
      }
    },
    async followUp(what, fn) {
      try {
        await fn();
      } catch (err) {
        log.error({ err: (err as Error).message, what }, 'follow-up of a campaign change failed');
      }
    },
  };
}
