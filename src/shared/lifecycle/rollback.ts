import { lifecycleRollbacks } from '../metrics.js';
import type { FieldChange, RollbackReport } from './commands.js';
import type { LocalConfig } from './config-view.js';
import type { CommandEffects } from './effects.js';
import { isEmptyUpdate } from './patch.js';
import { planRollback, type RollbackPlan } from './rebase.js';
import { isFinal } from './state-machine.js';
import { writeVersioned, type VersionedWriteIO } from './versioned-write.js';

/**
 * Undoes an earlier write of a command that failed half-way, on the then-current version (fresh
 * read, If-Match, rebased on 409). Fields somebody else changed after our write are reported and left
 * alone: a rollback is never forced. Never throws; a rollback that cannot be written is reported as
 * `failed` with the reason.
 */
export async function rollbackWrite(
  io: VersionedWriteIO,
  effects: CommandEffects,
  written: FieldChange[],
  local: LocalConfig,
  onRestored: (fields: string[]) => Promise<void>,
): Promise<RollbackReport> {
  let report: RollbackReport;
  try {
    const latest = await io.cxone.getCampaign(io.campaignId, io.callOpts);
    const result = await writeVersioned<RollbackPlan, RollbackPlan>(io, latest, (current) => {
      // A completed or cancelled campaign takes no writes at all: nothing to restore, and no 409s
      // to spend the PATCH budget on.
      if (isFinal(current.status)) return { stop: { body: {}, restored: [], conflicts: [], skipped: [] } };
      const plan = planRollback(written, current, local);
      return isEmptyUpdate(plan.body) ? { stop: plan } : { write: plan.body, meta: plan };
    });
    const plan = result.kind === 'written' ? result.meta : result.stop;
    const finalStatus =
      result.kind === 'stopped' && isFinal(result.latest.status) ? result.latest.status : undefined;
    const skipped = finalStatus
      ? { error: `campaign is ${finalStatus} on CXone, which takes no changes: nothing restored` }
      : plan.skipped.length
        ? { error: `not restorable through CXone (absent before): ${plan.skipped.join(', ')}` }
        : {};
    if (result.kind === 'stopped') {
      report = {
        outcome: plan.conflicts.length ? 'conflict' : 'nothing_to_restore',
        restored: [],
        conflicts: plan.conflicts,
        version: result.latest.version,
        ...skipped,
      };
    } else {
      report = {
        outcome: plan.conflicts.length ? 'partial' : 'restored',
        restored: plan.restored,
        conflicts: plan.conflicts,
        version: result.resource.version,
        ...skipped,
      };
      await effects.sync(result.resource);
      await effects.publish('campaign.settings.changed', {
        rollback: true,
        changes: plan.restored,
        version: result.resource.version,
      });
      await effects.followUp('settings', () => onRestored(plan.restored.map((c) => c.field)));
    }
  } catch (err) {
    report = {
      outcome: 'failed',
      restored: [],
      conflicts: [],
      error: err instanceof Error ? err.message : String(err),
    };
  }
  lifecycleRollbacks.inc({ outcome: report.outcome });
  await effects.audit('rollback', { ...report }, report.version);
  return report;
}
