import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { ManualClock } from '../../src/shared/clock.js';
import { createKeys, type Keys } from '../../src/shared/keys.js';
import { silentLogger } from '../../src/shared/logger.js';
import { createAuditTrail } from '../../src/shared/audit/trail.js';
import type { AuditInput } from '../../src/shared/audit/types.js';
import { actOnceAt, connect, deletePrefix, knownCampaign, testPrefix } from './redis-helpers.js';

/**
 * A verification that runs while a retention trim cuts part of a chain it is reading (real Redis):
 * the chain is healthy before, during and after the trim, so no moment of it may read as broken.
 * The trim is run at the worst moments a verify can meet it: after the verify read the chain's
 * anchor (none yet) and before it read the index, and after it read the index and before it read
 * the records.
 */

let redis: Redis;

beforeAll(() => {
  redis = connect();
});

afterAll(() => {
  redis.disconnect();
});

const input = (campaignId: string, n: number): AuditInput => ({
  campaignId,
  action: 'settings_changed',
  actor: 'api:test',
  details: { n, before: { callRate: 0.5 }, after: { callRate: 0.6 } },
});

/** A chain of 3 records older than the cut and 2 newer, and a trim whose cut falls between them. */
async function splitChain(keys: Keys, id: string) {
  const clock = new ManualClock(Date.now());
  const writer = createAuditTrail({ redis, keys, logger: silentLogger });
  await knownCampaign(redis, keys, id);
  for (let i = 0; i < 3; i++) await writer.append(input(id, i));
  // Stream ids are Redis's real time: the cut falls after the first three and before the rest.
  await sleep(20);
  const cutAt = Date.now();
  await sleep(20);
  for (let i = 3; i < 5; i++) await writer.append(input(id, i));
  clock.set(cutAt + 86_400_000);
  const trimmer = createAuditTrail({ redis, keys, logger: silentLogger, clock, retentionDays: 1 });
  return { trim: () => trimmer.applyRetention() };
}

/** A connection on which `act` runs once, right after the first call of `method` on `key` is answered. */
const after = (method: 'hget' | 'xrange', key: string, act: () => Promise<unknown>) =>
  actOnceAt(redis, method, key, 'after', act);

describe('verify while a retention trim cuts part of the chain', () => {
  it('reports no break when the trim runs between its read of the anchor and its read of the records', async () => {
    const prefix = testPrefix();
    const keys = createKeys(prefix);
    try {
      const id = 'c-cut-after-anchor-read';
      const { trim } = await splitChain(keys, id);
      const racing = after('hget', keys.custom('audit-anchor'), async () => {
        expect(await trim()).toMatchObject({ removedRecords: 3 });
      });
      const reader = createAuditTrail({ redis: racing.redis, keys, logger: silentLogger });
      for (const one of [true, false]) {
        const result = one ? await reader.verify(id) : await reader.verify();
        expect(result.firstBroken).toBeUndefined();
        expect(result).toMatchObject({ ok: true, checked: 2 });
      }
      expect(racing.ran()).toBe(true);
    } finally {
      await deletePrefix(redis, prefix);
    }
  });

  it('reports no break when the trim runs between its read of the index and its read of the records', async () => {
    const prefix = testPrefix();
    const keys = createKeys(prefix);
    try {
      const id = 'c-cut-after-index-read';
      const { trim } = await splitChain(keys, id);
      const racing = after('xrange', keys.auditCampaignIndex(id), async () => {
        expect(await trim()).toMatchObject({ removedRecords: 3 });
      });
      const reader = createAuditTrail({ redis: racing.redis, keys, logger: silentLogger });
      const result = await reader.verify(id);
      expect(racing.ran()).toBe(true);
      expect(result.firstBroken).toBeUndefined();
      expect(result).toMatchObject({ ok: true, checked: 2 });
      expect(await reader.verify()).toMatchObject({ ok: true, checked: 2 });
    } finally {
      await deletePrefix(redis, prefix);
    }
  });

  it('still reports a record edited after the cut when a trim ran during the walk', async () => {
    const prefix = testPrefix();
    const keys = createKeys(prefix);
    try {
      const id = 'c-cut-and-edited';
      const { trim } = await splitChain(keys, id);
      const [last] = (await redis.xrevrange(keys.auditCampaignIndex(id), '+', '-', 'COUNT', 1)) as [
        string,
        string[],
      ][];
      const lastId = last![0];
      const [entry] = (await redis.xrange(keys.auditStream(), lastId, lastId)) as [string, string[]][];
      const fields = entry![1];
      const rIndex = fields.indexOf('r') + 1;
      const edited = fields[rIndex]!.replace('"actor":"api:test"', '"actor":"api:someone-else"');
      // Same stream id, edited text: the stream is rewritten around it.
      const all = (await redis.xrange(keys.auditStream(), '-', '+')) as [string, string[]][];
      await redis.del(keys.auditStream());
      for (const [sid, f] of all) {
        const copy = [...f];
        if (sid === lastId) copy[rIndex] = edited;
        await redis.xadd(keys.auditStream(), sid, ...copy);
      }
      const racing = after('hget', keys.custom('audit-anchor'), async () => {
        await trim();
      });
      const reader = createAuditTrail({ redis: racing.redis, keys, logger: silentLogger });
      const result = await reader.verify(id);
      expect(racing.ran()).toBe(true);
      expect(result).toMatchObject({ ok: false, firstBroken: { reason: 'hash_mismatch', index: 1 } });
    } finally {
      await deletePrefix(redis, prefix);
    }
  });
});

describe('export and paging while a retention trim cuts part of the chain', () => {
  it('export leaves out, without calling them missing, the records the trim removed after it read the index', async () => {
    const prefix = testPrefix();
    const keys = createKeys(prefix);
    try {
      const id = 'c-export-during-cut';
      const { trim } = await splitChain(keys, id);
      const racing = after('xrange', keys.auditCampaignIndex(id), async () => {
        expect(await trim()).toMatchObject({ removedRecords: 3 });
      });
      const reader = createAuditTrail({ redis: racing.redis, keys, logger: silentLogger });
      const missing: unknown[] = [];
      const lines: string[] = [];
      for await (const line of reader.exportJsonl(id, { onMissing: (m) => missing.push(m) }))
        lines.push(line);
      expect(racing.ran()).toBe(true);
      expect(missing).toEqual([]);
      expect(lines.map((l) => (JSON.parse(l) as { details: { n: number } }).details.n)).toEqual([3, 4]);
    } finally {
      await deletePrefix(redis, prefix);
    }
  });

  it('a page has no gaps for the records the trim removed after it read the index', async () => {
    const prefix = testPrefix();
    const keys = createKeys(prefix);
    try {
      const id = 'c-page-during-cut';
      const { trim } = await splitChain(keys, id);
      const racing = after('xrange', keys.auditCampaignIndex(id), async () => {
        expect(await trim()).toMatchObject({ removedRecords: 3 });
      });
      const reader = createAuditTrail({ redis: racing.redis, keys, logger: silentLogger });
      const page = await reader.page(id, null, 10);
      expect(racing.ran()).toBe(true);
      expect(page.gaps).toBeUndefined();
      expect(page.records.map((r) => r.details.n)).toEqual([3, 4]);
    } finally {
      await deletePrefix(redis, prefix);
    }
  });

  it('still reports a record deleted from the stream after the cut as missing', async () => {
    const prefix = testPrefix();
    const keys = createKeys(prefix);
    try {
      const id = 'c-deleted-after-cut';
      const { trim } = await splitChain(keys, id);
      await trim();
      const [last] = (await redis.xrevrange(keys.auditCampaignIndex(id), '+', '-', 'COUNT', 1)) as [
        string,
        string[],
      ][];
      await redis.xdel(keys.auditStream(), last![0]);
      const reader = createAuditTrail({ redis, keys, logger: silentLogger });
      const missing: { streamId: string }[] = [];
      for await (const _ of reader.exportJsonl(id, { onMissing: (m) => missing.push(m) })) void _;
      expect(missing.map((m) => m.streamId)).toEqual([last![0]]);
      expect((await reader.page(id, null, 10)).gaps).toEqual([
        expect.objectContaining({ streamId: last![0], reason: 'missing' }),
      ]);
    } finally {
      await deletePrefix(redis, prefix);
    }
  });
});
