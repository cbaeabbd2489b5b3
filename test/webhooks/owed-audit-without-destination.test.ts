import { describe, expect, it } from 'vitest';
import type { AuditInput } from '../../src/shared/audit/types.js';
import { owedAuditKey } from '../../src/shared/webhooks/owed-audit.js';
import { cleanupsAfterEach, startHarness, waitFor } from './harness.js';

/**
 * Audit records webhook outcomes owe (owed-audit.ts) are appended by the worker, or else by the
 * sweep. The sweep ran only with a destination configured: a fleet whose WEBHOOK_URL was removed
 * after a receiver's failures (and the appends that failed with them) left those records owed forever.
 */
const cleanups = cleanupsAfterEach();

describe('audit records owed by webhook outcomes, with no destination configured', () => {
  it('are still appended by the sweep', async () => {
    const h = await startHarness(undefined, { sweepIntervalMs: 50 });
    cleanups.push(() => h.close());
    const at = new Date().toISOString();
    const owed: AuditInput = {
      campaignId: 'camp-unset',
      action: 'webhook_failure',
      actor: 'worker:webhook',
      details: {
        eventType: 'campaign.state.changed',
        eventId: 'evt_1',
        reason: 'exhausted',
        attempts: 9,
        at,
      },
      dedupeKey: `webhook_failure:evt_1:${at}`,
      occurredAt: at,
    };
    // What a dead letter's script left owed, its process gone before the append.
    await h.redis.hset(owedAuditKey(h.keys), owed.dedupeKey!, JSON.stringify(owed));
    await waitFor(async () => (await h.audit.list('camp-unset')).length > 0, 5_000, 'owed record appended');
    const [record] = await h.audit.list('camp-unset');
    expect(record).toMatchObject({ action: 'webhook_failure', occurredAt: at, details: owed.details });
    await waitFor(
      async () => (await h.redis.exists(owedAuditKey(h.keys))) === 0,
      5_000,
      'owed entry removed',
    );
  });
});
