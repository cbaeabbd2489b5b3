import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/shared/logger.js';
import { owedAuditKey, settleOwedAudits } from '../../src/shared/webhooks/owed-audit.js';
import { cleanupsAfterEach } from './harness.js';
import { harnessOwingBehindStuck } from './owed-audit-helpers.js';

/**
 * HSCAN's COUNT is a hint: a reply may hold more entries than asked (Redis 7.2+ finishes the bucket
 * it stopped in; a listpack-encoded hash comes back whole). The sweep moves its cursor past the whole
 * reply, so entries of it left unread are not read again before the walk wraps — and, if they sit
 * behind records whose append keeps failing, not then either: owed for good.
 */
const cleanups = cleanupsAfterEach();

describe('an HSCAN reply with more owed records than the COUNT asked for', () => {
  it('has every record in it tried, none left behind the cursor', async () => {
    const h = await harnessOwingBehindStuck();
    cleanups.push(() => h.close());
    // A server that answers the whole hash at once, as it does for a listpack-encoded one.
    const hscan = h.redis.hscan.bind(h.redis) as (...args: unknown[]) => Promise<[string, string[]]>;
    const redis = Object.create(h.redis) as typeof h.redis;
    redis.hscan = ((key: string, cursor: string) =>
      hscan(key, cursor, 'COUNT', 100_000)) as typeof redis.hscan;

    const deps = { redis, keys: h.keys, audit: h.audit, logger: silentLogger };
    for (let sweep = 0; sweep < 5; sweep++) await settleOwedAudits(deps);
    expect(await h.audit.list('camp-fine')).toHaveLength(30);
    expect(await h.redis.hlen(owedAuditKey(h.keys))).toBe(400);
  });
});
