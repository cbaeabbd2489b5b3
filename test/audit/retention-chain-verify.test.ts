import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runAuditCli } from '../../src/cli/audit.js';
import { createAuditTrail } from '../../src/shared/audit/trail.js';
import { CampaignStore } from '../../src/shared/campaign-store.js';
import { ManualClock } from '../../src/shared/clock.js';
import { createKeys } from '../../src/shared/keys.js';
import { silentLogger } from '../../src/shared/logger.js';
import { campaignConfig, resource } from '../lifecycle/fixtures.js';
import { startAuditHarness, type AuditHarness } from './cxone-harness.js';
import { actOnceAt, connect, deletePrefix, loseTrimLockOn, testPrefix, trimCliEnv } from './redis-helpers.js';

/**
 * Verify and the retention trim's removal of emptied chains, read at the same time (real Redis under
 * the harness's own prefix): a chain the trim removes while a verification reads it is no break, and
 * a chain deleted by hand around a verification is not passed as one the trim removed.
 */

const DAY = 86_400_000;
let harness: AuditHarness;
const now = Date.now();

beforeAll(async () => {
  harness = await startAuditHarness();
});

afterAll(async () => {
  await harness?.close();
});

/** A final campaign last written 5 days ago, with `n` records on its chain appended now. */
async function finishedWithRecords(id: string, n: number): Promise<void> {
  const store = new CampaignStore({ ...harness.ctx, clock: new ManualClock(now - 5 * DAY) });
  await store.syncFromCxone(resource({ id, status: 'completed' }), {
    config: campaignConfig(),
    launchId: `launch-${id}`,
  });
  for (let i = 0; i < n; i++) {
    await harness.trail.append({ campaignId: id, action: 'state_changed', actor: 'api:ops', details: { i } });
  }
}

/** A connection that runs `act` once, just before the first GET of `id`'s chain head. */
const beforeHeadRead = (id: string, act: () => Promise<void>) =>
  actOnceAt(harness.redis, 'get', harness.keys.auditChainHead(id), 'before', act);

const trim = () =>
  createAuditTrail({
    redis: harness.redis,
    keys: harness.keys,
    logger: silentLogger,
    clock: new ManualClock(now + 3 * DAY),
    retentionDays: 1,
  }).applyRetention();

describe('a verification reading a chain the retention trim removes meanwhile', () => {
  it('reports no break when it read the records before the trim cut them (every chain, and the one)', async () => {
    const { keys } = harness;
    for (const verifyAll of [true, false]) {
      const id = `read-then-removed-${verifyAll ? 'all' : 'one'}`;
      await finishedWithRecords(id, 3);
      // Never cut before: the trim that removes the chain is the one that cuts it, after the walk
      // read its records and before it read its head.
      const racing = beforeHeadRead(id, async () => {
        expect((await trim()).removedChains).toBeGreaterThanOrEqual(1);
      });
      const reader = createAuditTrail({ redis: racing.redis, keys, logger: silentLogger });
      const result = verifyAll ? await reader.verify() : await reader.verify(id);
      expect(racing.ran()).toBe(true);
      expect(result).toMatchObject({ ok: true, broken: [] });
      if (!verifyAll) expect(result).toMatchObject({ checked: 0, campaigns: 1 });
    }
  });

  it('still fails a chain deleted by hand around its records while it was read: its records left in the stream are unchained', async () => {
    const { redis, keys } = harness;
    const id = 'deleted-by-hand';
    await finishedWithRecords(id, 3);
    const racing = beforeHeadRead(id, async () => {
      // What a purge removes, but the records are inside the retention and stay in the stream.
      await redis.del(keys.auditChainHead(id), keys.auditCampaignIndex(id));
      await redis.hdel(keys.custom('audit-anchor'), id);
      await redis.srem(keys.custom('audit-campaigns'), id);
    });
    const reader = createAuditTrail({ redis: racing.redis, keys, logger: silentLogger });
    const result = await reader.verify();
    expect(racing.ran()).toBe(true);
    expect(result.ok).toBe(false);
    expect(result.broken.filter((b) => b.campaignId === id).length).toBeGreaterThanOrEqual(1);
    // Put back for the rest of the file: the stream's records of it, trimmed by the next trims.
    await trim();
  });

  it('does not read a chain whose index still names records as removed when its head, anchor and set entry go', async () => {
    const { redis, keys } = harness;
    const id = 'index-left';
    await finishedWithRecords(id, 2);
    // Its records passed over as older than an anchored cut (a trim that stopped before trimming its
    // index), then head, anchor and set entry deleted by hand while verify reads it.
    const [first] = (await redis.xrange(keys.auditCampaignIndex(id), '-', '+')) as [string, string[]][];
    await redis.hset(
      keys.custom('audit-anchor'),
      id,
      JSON.stringify({ prevHash: 'f'.repeat(64), cutBefore: `${now + DAY}-0` }),
    );
    expect(first).toBeDefined();
    const racing = beforeHeadRead(id, async () => {
      await redis.del(keys.auditChainHead(id));
      await redis.hdel(keys.custom('audit-anchor'), id);
      await redis.srem(keys.custom('audit-campaigns'), id);
    });
    const reader = createAuditTrail({ redis: racing.redis, keys, logger: silentLogger });
    const result = await reader.verify(id);
    expect(racing.ran()).toBe(true);
    expect(result.ok).toBe(false);
    expect(result.firstBroken).toMatchObject({ campaignId: id, reason: 'head_mismatch' });
    await redis.del(keys.auditCampaignIndex(id));
  });
});

describe('`trim` stopped after cutting the stream, before clearing its cut', () => {
  it('says how many records it had removed', async () => {
    // A trail of its own: the CLI trims by the real clock, so its records are written with old ids.
    const prefix = testPrefix('trim-report');
    const keys = createKeys(prefix);
    const redis = connect();
    try {
      for (let i = 1; i <= 3; i++) {
        await redis.xadd(keys.auditStream(), `${1_000 + i}-0`, 'c', 'old', 'r', '{}');
      }
      const trimKey = keys.custom('audit-trim');
      const spy = loseTrimLockOn('del', (a) => a[0] === trimKey);
      const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
      try {
        const env = trimCliEnv(prefix);
        expect(await runAuditCli(['trim'], env)).toBe(1);
        const lines = error.mock.calls.map(([line]) => String(line));
        expect(lines).toHaveLength(2);
        expect(lines[1]).toMatch(
          /^before it stopped, the trim had: begun cutting records before stream id \d+-0 \(3 record\(s\) removed so far\), not finished/,
        );
      } finally {
        error.mockRestore();
        spy.mockRestore();
      }
      expect(await redis.xlen(keys.auditStream())).toBe(0);
    } finally {
      await deletePrefix(redis, prefix);
      redis.disconnect();
    }
  });
});
