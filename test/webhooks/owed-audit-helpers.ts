import type { AuditInput } from '../../src/shared/audit/types.js';
import { owedAuditKey } from '../../src/shared/webhooks/owed-audit.js';
import { startHarness, type Harness } from './harness.js';

/** The audit record a webhook failure owes, as the dead letter's script stores it; one per (campaign, n). */
export function owedRecord(campaignId: string, n: number): AuditInput {
  const at = new Date(Date.UTC(2026, 10, 1, 0, 0, 0, n)).toISOString();
  return {
    campaignId,
    action: 'webhook_failure',
    actor: 'worker:webhook',
    details: { eventType: 'campaign.state.changed', eventId: `evt_${campaignId}_${n}`, at },
    dedupeKey: `webhook_failure:evt_${campaignId}_${n}:${at}`,
    occurredAt: at,
  };
}

/**
 * A harness (no sweep of its own) owing 400 records of camp-stuck, whose appends always fail (a chain
 * whose keys are damaged), and 30 of camp-fine, which append: the sweeps that follow must reach the 30.
 * Closed by the caller.
 */
export async function harnessOwingBehindStuck(): Promise<Harness> {
  const h = await startHarness(undefined, { sweepIntervalMs: 0 });
  const appendWithOutcome = h.audit.appendWithOutcome.bind(h.audit);
  h.audit.appendWithOutcome = (input) =>
    input.campaignId === 'camp-stuck'
      ? Promise.reject(new Error('chain keys damaged'))
      : appendWithOutcome(input);
  const all = [
    ...Array.from({ length: 400 }, (_, i) => owedRecord('camp-stuck', i)),
    ...Array.from({ length: 30 }, (_, i) => owedRecord('camp-fine', i)),
  ];
  await h.redis.hset(owedAuditKey(h.keys), ...all.flatMap((o) => [o.dedupeKey!, JSON.stringify(o)]));
  return h;
}
