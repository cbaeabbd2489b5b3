import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/shared/logger.js';
import { owedAuditKey, settleOwedAudits } from '../../src/shared/webhooks/owed-audit.js';
import { cleanupsAfterEach } from './harness.js';
import { harnessOwingBehindStuck } from './owed-audit-helpers.js';

/**
 * The sweep appends owed audit records a batch at a time. It read the batch from the start of the
 * hash every time (HSCAN from cursor 0): records whose append kept failing (a chain whose keys are
 * damaged, say) filled every batch, and the records behind them were never appended.
 */
const cleanups = cleanupsAfterEach();

describe('owed webhook audit records behind ones that keep failing', () => {
  it('are appended by the sweeps that follow', async () => {
    const h = await harnessOwingBehindStuck();
    cleanups.push(() => h.close());

    const deps = { redis: h.redis, keys: h.keys, audit: h.audit, logger: silentLogger };
    for (let sweep = 0; sweep < 10; sweep++) await settleOwedAudits(deps);
    expect(await h.audit.list('camp-fine')).toHaveLength(30);
    expect(await h.redis.hlen(owedAuditKey(h.keys))).toBe(400);
  });
});
