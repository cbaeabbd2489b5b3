import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAuditHarness, type AuditHarness } from './cxone-harness.js';

/**
 * A chain deleted whole by hand — its records, its index and its head — while its campaign is still
 * listed among the audited ones. A walk finds nothing to check, and nothing links to the records that
 * went; without a reason of its own the verification vouched for the chain as whole (`ok`, 0 checked).
 * Real Redis under the harness's prefix.
 */

let harness: AuditHarness;
beforeAll(async () => {
  harness = await startAuditHarness();
});
afterAll(async () => {
  await harness?.close();
});

async function chainOf(id: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await harness.trail.append({ campaignId: id, action: 'state_changed', actor: 'api:ops', details: { i } });
  }
}

/** Deletes the chain's records from the main stream, its index and its head; its listing stays. */
async function deleteChainByHand(id: string): Promise<void> {
  const { redis, keys } = harness;
  const indexed = await redis.xrange(keys.auditCampaignIndex(id), '-', '+');
  const streamIds = indexed.map(([streamId]) => streamId);
  if (streamIds.length > 0) await redis.xdel(keys.auditStream(), ...streamIds);
  await redis.del(keys.auditCampaignIndex(id), keys.auditChainHead(id));
}

describe('an audit chain deleted whole, its campaign still listed', () => {
  it('fails verification as missing_chain, for the campaign and for every campaign', async () => {
    await chainOf('whole-gone', 3);
    await chainOf('intact', 2);
    expect(await harness.trail.verify('whole-gone')).toMatchObject({ ok: true, checked: 3 });

    await deleteChainByHand('whole-gone');

    const one = await harness.trail.verify('whole-gone');
    expect(one).toMatchObject({
      ok: false,
      checked: 0,
      firstBroken: { campaignId: 'whole-gone', auditId: null, index: 0, reason: 'missing_chain' },
    });
    const all = await harness.trail.verify();
    expect(all.ok).toBe(false);
    expect(all.broken).toEqual([
      { campaignId: 'whole-gone', auditId: null, index: 0, reason: 'missing_chain' },
    ]);
    // The other chain is still vouched for.
    expect(await harness.trail.verify('intact')).toMatchObject({ ok: true, checked: 2 });
  });

  it('is not said of a campaign that never had a record, nor of one whose chain was unlisted too', async () => {
    expect(await harness.trail.verify('never-audited')).toMatchObject({ ok: true, checked: 0, broken: [] });
    await chainOf('unlisted-too', 2);
    await deleteChainByHand('unlisted-too');
    await harness.redis.srem(harness.keys.custom('audit-campaigns'), 'unlisted-too');
    // Nothing left of it at all reads as a chain that is gone, as a purge leaves it (no break).
    expect(await harness.trail.verify('unlisted-too')).toMatchObject({ ok: true, checked: 0, broken: [] });
  });
});
