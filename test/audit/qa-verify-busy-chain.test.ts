import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createKeys } from '../../src/shared/keys.js';
import { silentLogger } from '../../src/shared/logger.js';
import { createAuditTrail } from '../../src/shared/audit/trail.js';
import { connect, deletePrefix, testPrefix } from './redis-helpers.js';

/**
 * Verify on a chain that writers append to without pause (a history import, a burst of pacing
 * decisions from several processes): the chain is healthy throughout, so no verification may call it
 * broken, however many records land while it reads.
 */

let redis: Redis;
const writers: Redis[] = [];

beforeAll(() => {
  redis = connect();
  for (let i = 0; i < 3; i++) writers.push(connect());
});

afterAll(() => {
  redis.disconnect();
  for (const w of writers) w.disconnect();
});

describe('verify on a chain appended to without pause', () => {
  it('never reports the healthy chain broken', async () => {
    const prefix = testPrefix();
    const keys = createKeys(prefix);
    const id = 'c-busy';
    let stop = false;
    try {
      const loops = writers.map(async (conn, w) => {
        const t = createAuditTrail({ redis: conn, keys, logger: silentLogger });
        for (let n = 0; !stop; n++) {
          await t.append({ campaignId: id, action: 'pacing_decision', actor: `worker:${w}`, details: { n } });
        }
      });
      const reader = createAuditTrail({ redis, keys, logger: silentLogger });
      while ((await redis.xlen(keys.auditCampaignIndex(id))) < 50) await new Promise((r) => setTimeout(r, 5));
      const results = [];
      for (let i = 0; i < 30; i++) {
        results.push(await reader.verify(id));
        results.push(await reader.verify());
      }
      stop = true;
      await Promise.all(loops);
      expect(results.filter((r) => !r.ok).map((r) => r.firstBroken)).toEqual([]);
      expect(await reader.verify(id)).toMatchObject({ ok: true });
    } finally {
      stop = true;
      await deletePrefix(redis, prefix);
    }
  }, 60_000);
});
