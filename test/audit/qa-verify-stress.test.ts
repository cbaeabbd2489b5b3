import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createKeys } from '../../src/shared/keys.js';
import { silentLogger } from '../../src/shared/logger.js';
import { AuditTrimLockedError, createAuditTrail } from '../../src/shared/audit/trail.js';
import type { Clock } from '../../src/shared/clock.js';
import { connect, deletePrefix, knownCampaign, testPrefix } from './redis-helpers.js';

/**
 * Writers appending to a few chains without pause, retention trims cutting them every few tens of
 * milliseconds, and verifications, pages and exports running all along (real Redis, separate
 * connections): the trail is healthy throughout, so none of them may report a break, a gap or a
 * missing record.
 */

const conns: Redis[] = [];
let redis: Redis;

beforeAll(() => {
  redis = connect();
  for (let i = 0; i < 6; i++) conns.push(connect());
});

afterAll(() => {
  redis.disconnect();
  for (const c of conns) c.disconnect();
});

describe('verify, page and export while appends and retention trims run', () => {
  it('report no break, gap or missing record on a healthy trail', async () => {
    const prefix = testPrefix();
    const keys = createKeys(prefix);
    const ids = ['s-a', 's-b'];
    let stop = false;
    let trimmed = 0;
    const problems: unknown[] = [];
    try {
      for (const id of ids) await knownCampaign(redis, keys, id);
      // A cut 40 ms behind real time: a day's retention on a clock a day (less 40 ms) ahead.
      const clock: Clock = { now: () => Date.now() + 86_400_000 - 40 };
      const writers = [0, 1, 2].map(async (w) => {
        const t = createAuditTrail({ redis: conns[w]!, keys, logger: silentLogger });
        for (let n = 0; !stop; n++) {
          await t.append({
            campaignId: ids[n % 2]!,
            action: 'pacing_decision',
            actor: `worker:${w}`,
            details: { n },
          });
        }
      });
      const trimmer = createAuditTrail({
        redis: conns[3]!,
        keys,
        logger: silentLogger,
        clock,
        retentionDays: 1,
      });
      const trims = (async () => {
        while (!stop) {
          try {
            trimmed += (await trimmer.applyRetention()).removedRecords;
          } catch (err) {
            if (!(err instanceof AuditTrimLockedError)) throw err;
          }
          await new Promise((r) => setTimeout(r, 15));
        }
      })();
      const reader = createAuditTrail({ redis: conns[4]!, keys, logger: silentLogger });
      const started = Date.now();
      let verifies = 0;
      // At least four seconds and four full rounds: on a busy machine four seconds held two rounds,
      // and the run failed for the machine's sake. The cap ends a run whose trims never cut.
      const enough = () => Date.now() - started >= 4_000 && verifies >= 4 && trimmed > 0;
      while (!enough() && Date.now() - started < 40_000) {
        for (const id of ids) {
          const one = await reader.verify(id);
          if (!one.ok) problems.push({ verify: id, firstBroken: one.firstBroken });
          const page = await reader.page(id, null, 500);
          if (page.gaps) problems.push({ page: id, gaps: page.gaps });
          for await (const _ of reader.exportJsonl(id, {
            onMissing: (m) => problems.push({ export: id, m }),
          }))
            void _;
        }
        const all = await reader.verify();
        if (!all.ok) problems.push({ verifyAll: all.broken });
        verifies++;
      }
      stop = true;
      await Promise.all([...writers, trims]);
      expect(verifies).toBeGreaterThan(3);
      // The trims cut the chains while they were read: a run where none did proves nothing.
      expect(trimmed).toBeGreaterThan(0);
      expect(problems).toEqual([]);
    } finally {
      stop = true;
      await deletePrefix(redis, prefix);
    }
  }, 60_000);
});
