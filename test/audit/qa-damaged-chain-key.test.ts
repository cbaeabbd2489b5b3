import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runAuditCli } from '../../src/cli/audit.js';
import { startAuditHarness, type AuditHarness } from './cxone-harness.js';
import { REDIS_URL } from './redis-helpers.js';

/**
 * A key of one chain that holds another type than the trail writes there — its index or its head
 * replaced by hand (a `SET` over the index stream, say, which also hides every record it named). Redis
 * answers WRONGTYPE to every read of it. Verification used to fail whole on that answer: `verify` of
 * every campaign exited 1 ("audit verify failed: WRONGTYPE …", the code for a Redis or usage error,
 * naming no campaign), the API answered 500, no alert went out, and no other chain was verified, so
 * one damaged key hid any tampering elsewhere. Real Redis under the harness's prefix.
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

describe('a chain key of the wrong type', () => {
  it('is a broken chain named by campaign, and the other chains are still verified', async () => {
    const { redis, keys, trail } = harness;
    await chainOf('dmg-index', 2);
    await chainOf('dmg-head', 2);
    await chainOf('dmg-intact', 3);
    await redis.del(keys.auditCampaignIndex('dmg-index'));
    await redis.set(keys.auditCampaignIndex('dmg-index'), 'x');
    await redis.del(keys.auditChainHead('dmg-head'));
    await redis.hset(keys.auditChainHead('dmg-head'), 'h', 'x');

    expect(await trail.verify('dmg-index')).toMatchObject({
      ok: false,
      checked: 0,
      firstBroken: {
        campaignId: 'dmg-index',
        auditId: null,
        index: 0,
        reason: 'damaged_key',
        expected: 'index: stream',
        actual: 'index: string',
      },
    });
    expect((await trail.verify('dmg-head')).firstBroken).toMatchObject({
      campaignId: 'dmg-head',
      reason: 'damaged_key',
      expected: 'head: string',
      actual: 'head: hash',
    });
    const all = await trail.verify();
    expect(all.ok).toBe(false);
    expect(all.broken.map((b) => [b.campaignId, b.reason])).toEqual([
      ['dmg-head', 'damaged_key'],
      ['dmg-index', 'damaged_key'],
    ]);
    // The intact chain was verified too (2 records of dmg-head walked before its head was read).
    expect(all.checked).toBeGreaterThanOrEqual(3);
    expect(await trail.verify('dmg-intact')).toMatchObject({ ok: true, checked: 3 });

    // Over HTTP: the verification, not an internal error.
    const answer = await harness.app.inject({ method: 'GET', url: '/v1/campaigns/dmg-index/audit/verify' });
    expect(answer.statusCode).toBe(200);
    expect(answer.json()).toMatchObject({ ok: false, firstBroken: { reason: 'damaged_key' } });

    // The CLI: exit 2 (broken), naming the campaign, not exit 1 (a Redis or usage error).
    const out = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const err = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const env = { REDIS_URL, KEY_PREFIX: keys.prefix, LOG_LEVEL: 'silent' as const };
      expect(await runAuditCli(['verify'], env)).toBe(2);
      const printed = out.mock.calls.map((c) => String(c[0])).join('\n');
      // Which key, and what it holds: the line names no record to look at.
      expect(printed).toContain(
        'BROKEN campaign dmg-index: record (none) at index 0: damaged_key (index: string, where the trail writes index: stream)',
      );
      expect(printed).toContain(
        'BROKEN campaign dmg-head: record (none) at index 0: damaged_key (head: hash, where the trail writes head: string)',
      );
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
  });

  it('is still a Redis error when the damaged key is none of the chain’s own', async () => {
    const { redis, keys, trail } = harness;
    await chainOf('dmg-anchor', 1);
    const anchors = keys.custom('audit-anchor');
    const saved = await redis.type(anchors);
    expect(saved).toBe('none');
    await redis.set(anchors, 'x');
    try {
      await expect(trail.verify('dmg-anchor')).rejects.toThrow(/WRONGTYPE/);
    } finally {
      await redis.del(anchors);
    }
  });
});
