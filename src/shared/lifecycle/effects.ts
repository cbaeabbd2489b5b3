import type { AuditAction, AuditTrail } from '../audit/types.js';
import type { CampaignConfig } from '../campaign-config.js';
import type { CampaignStore } from '../campaign-store.js';
import type { EfficiencyMetrics } from '../efficiency.js';
import type { CampaignResource } from '../cxone/wire.js';
import type { EventPublisher, EventType } from '../events/types.js';
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
  /**
   * `dedupeKey`: appended once per key, however often the command's attempts get here. Answers false
   * when the write failed (logged), true when the record is on the trail (now or before).
   */
  audit(
    action: AuditAction,
    details: Record<string, unknown>,
    cxoneVersion?: number,
    dedupeKey?: string,
  ): Promise<boolean>;
  /**
   * `once`: names the change, so that a later run announcing it again reuses its event id
   * (PublishOptions); `recorded: false` (its audit record failed) keeps `announced` false for it.
   */
  publish(type: EventType, data: Record<string, unknown>, once?: string, recorded?: boolean): Promise<void>;
  /**
   * Whether an earlier run announced the change `once` names, and so recorded it (its audit record
   * comes first). False when it cannot tell (the check failed, a publisher that cannot say) or that
   * run's record failed (publish's `recorded`): recorded again then, as before.
   */
  announced(once: string): Promise<boolean>;
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
  return {
    audit: async (action, details, cxoneVersion, dedupeKey) => {
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
    },
    useMetrics(known) {
      metrics = known ?? null;
    },
    publish: (type, data, once, recorded) =>
      publishOrLog(
        deps,
        type,
        cmd.campaignId,
        { commandId: cmd.commandId, actor: cmd.actor, ...data },
        {},
        once === undefined ? {} : { once, ...(recorded === false ? { recorded } : {}) },
      ),
    async announced(once) {
      if (!deps.events.published) return false;
      try {
        return await deps.events.published(once);
      } catch (err) {
        log.warn({ err: (err as Error).message, once }, 'could not tell whether the change was announced');
        return false;
      }
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
