import { describe, expect, it } from 'vitest';
import type { AuditInput } from '../../src/shared/audit/types.js';
import { silentLogger } from '../../src/shared/logger.js';
import { owedAuditKey, settleOwedAudits } from '../../src/shared/webhooks/owed-audit.js';
import { cleanupsAfterEach, startHarness } from './harness.js';

/**
 * The sweep appends owed audit records a batch at a time. It read the batch from the start of the
 * hash every time (HSCAN from cursor 0): records whose append kept failing (a chain whose keys are
 * damaged, say) filled every batch, and the records behind them were never appended.
 */
const cleanups = cleanupsAfterEach();

function owed(campaignId: string, n: number): AuditInput {
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

describe('owed webhook audit records behind ones that keep failing', () => {
  it('are appended by the sweeps that follow', async () => {
    const h = await startHarness(undefined, { sweepIntervalMs: 0 });
    cleanups.push(() => h.close());
    const appendWithOutcome = h.audit.appendWithOutcome.bind(h.audit);
    h.audit.appendWithOutcome = (input) =>
      input.campaignId === 'camp-stuck'
        ? Promise.reject(new Error('chain keys damaged'))
        : appendWithOutcome(input);
    const all = [
      ...Array.from({ length: 400 }, (_, i) => owed('camp-stuck', i)),
      ...Array.from({ length: 30 }, (_, i) => owed('camp-fine', i)),
    ];
    await h.redis.hset(owedAuditKey(h.keys), ...all.flatMap((o) => [o.dedupeKey!, JSON.stringify(o)]));

    const deps = { redis: h.redis, keys: h.keys, audit: h.audit, logger: silentLogger };
    for (let sweep = 0; sweep < 10; sweep++) await settleOwedAudits(deps);
    expect(await h.audit.list('camp-fine')).toHaveLength(30);
    expect(await h.redis.hlen(owedAuditKey(h.keys))).toBe(400);
  });
});
