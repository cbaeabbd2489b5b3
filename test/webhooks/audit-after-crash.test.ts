import { describe, expect, it } from 'vitest';
import type { AuditTrailStore } from '../../src/shared/audit/trail.js';
import type { AuditRecord } from '../../src/shared/audit/types.js';
import { silentLogger } from '../../src/shared/logger.js';
import { owedAuditKey, settleOwedAudits } from '../../src/shared/webhooks/owed-audit.js';
import { deadLetterUndecided, listDeadLetters } from '../../src/shared/webhooks/store.js';
import {
  cleanupsAfterEach,
  publishOrphan,
  Receiver,
  startHarness,
  waitFor,
  type Harness,
} from './harness.js';

/**
 * A dead letter and a disabled destination are written by a script; their audit record came after
 * it, on its own. A process that died in between (or an append that failed: a chain too busy, Redis
 * dropping the connection) left the failure with no record, and nothing wrote it later. Each such
 * outcome now has exactly one record, whatever failed between the two.
 */

const cleanups = cleanupsAfterEach();

/** The worker's first audit appends fail, as the process that made the change died before them. */
function failFirstAppends(audit: AuditTrailStore, count: number): void {
  let left = count;
  const append = audit.append.bind(audit);
  const appendWithOutcome = audit.appendWithOutcome.bind(audit);
  const dying = () => {
    left -= 1;
    return Promise.reject(new Error('process died before its audit record'));
  };
  audit.append = (input) => (left > 0 ? dying() : append(input));
  audit.appendWithOutcome = (input) => (left > 0 ? dying() : appendWithOutcome(input));
}

async function setup(status: number): Promise<{ h: Harness; receiver: Receiver }> {
  const receiver = await new Receiver().start();
  receiver.respond = () => ({ status, body: 'no such hook' });
  const h = await startHarness(receiver.url, { retrySchedule: [0], sweepIntervalMs: 50, sweepGraceMs: 0 });
  cleanups.push(
    () => receiver.stop(),
    () => h.close(),
  );
  return { h, receiver };
}

async function records(h: Harness, campaignId: string, action: string): Promise<AuditRecord[]> {
  return (await h.audit.list(campaignId)).filter((r) => r.action === action);
}

/** Several sweeps after the record appeared: none of them adds a second one. */
async function settled(h: Harness, campaignId: string, action: string): Promise<AuditRecord[]> {
  await waitFor(async () => (await records(h, campaignId, action)).length > 0, 10_000, action);
  await new Promise((r) => setTimeout(r, 400));
  return records(h, campaignId, action);
}

describe('webhook failure audit records across a crash after the change', () => {
  it('a dead letter whose record was never appended gets exactly one', async () => {
    const { h } = await setup(400);
    failFirstAppends(h.audit, 1);
    const e = await h.events.publish('campaign.state.changed', 'camp-dl', { to: 'paused' });
    await waitFor(async () => (await listDeadLetters(h)).length === 1, 10_000, 'dead letter');
    const [letter] = await listDeadLetters(h);
    const found = await settled(h, 'camp-dl', 'webhook_failure');
    expect(found).toHaveLength(1);
    expect(found[0]!.details).toEqual({ eventType: 'campaign.state.changed', ...letter });
    expect(found[0]!.occurredAt).toBe(letter!.at);
    expect((await h.audit.verify('camp-dl')).ok).toBe(true);
    expect(e.id).toBe(letter!.eventId);
  });

  it('a destination disabled whose record was never appended gets exactly one', async () => {
    const { h } = await setup(410);
    failFirstAppends(h.audit, 1);
    await h.events.publish('campaign.state.changed', 'camp-410', { to: 'paused' });
    const found = await settled(h, 'camp-410', 'webhook_destination_disabled');
    expect(found).toHaveLength(1);
    expect(found[0]!.details).toMatchObject({ eventType: 'campaign.state.changed', status: 410 });
    expect((await h.audit.verify('camp-410')).ok).toBe(true);
  });

  it('an unharmed dead letter is recorded once, the sweeps after it adding none', async () => {
    const { h } = await setup(400);
    await h.events.publish('campaign.state.changed', 'camp-ok', { to: 'paused' });
    expect(await settled(h, 'camp-ok', 'webhook_failure')).toHaveLength(1);
  });

  it("the fallback's dead letter owes its record with it, and only when it writes the letter", async () => {
    const { h } = await setup(400);
    await h.worker.close();
    const e = await publishOrphan(h, 'camp-undecided');
    const letter = { eventId: e.id, reason: 'exhausted' as const, attempts: 3, at: new Date().toISOString() };
    const owe = (event: { type: string; campaignId: string }) => ({
      campaignId: event.campaignId,
      action: 'webhook_failure' as const,
      actor: 'worker:webhook',
      details: { eventType: event.type, ...letter },
      dedupeKey: `webhook_failure:${letter.eventId}:${letter.at}`,
    });
    const written = await deadLetterUndecided(h, letter, owe);
    expect(written?.owed?.dedupeKey).toBe(`webhook_failure:${e.id}:${letter.at}`);
    // The process dies here: the record is owed, not appended. A second fallback writes nothing.
    expect(
      await deadLetterUndecided(h, { ...letter, at: new Date(Date.now() + 1).toISOString() }, owe),
    ).toBeNull();
    expect(Object.keys(await h.redis.hgetall(owedAuditKey(h.keys)))).toEqual([written!.owed!.dedupeKey]);

    const deps = { redis: h.redis, keys: h.keys, audit: h.audit, logger: silentLogger };
    expect(await settleOwedAudits(deps)).toBe(1);
    expect(await settleOwedAudits(deps)).toBe(0);
    // Appended again by a process that owed it too: still one.
    expect(await settleOwedAudits(deps, written!.owed)).toBe(1);
    expect((await records(h, 'camp-undecided', 'webhook_failure')).map((r) => r.details)).toEqual([
      { eventType: 'campaign.state.changed', ...letter },
    ]);
    expect(await h.redis.exists(owedAuditKey(h.keys))).toBe(0);
  });
});
