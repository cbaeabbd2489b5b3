import { describe, expect, it } from 'vitest';
import type { CxoneApi, HistoryPageRead } from '../../src/shared/cxone/api.js';
import { CXONE_ENDPOINTS, type HistoryRecord } from '../../src/shared/cxone/wire.js';
import { CxoneBadRequestError } from '../../src/shared/errors.js';
import { HistoryBehindError, ownWriteOverwritten } from '../../src/shared/lifecycle/own-write.js';
import { resource } from './fixtures.js';

/**
 * A CXone whose history holds `records` (oldest first), in pages of two, from the page its cursor
 * `from` names (`c<index>`); `pages` counts the pages it served. A cursor it does not know is refused
 * with a 400, as CXone refuses an expired one.
 */
function withHistory(records: HistoryRecord[]): CxoneApi & { pages: number } {
  const api = {
    pages: 0,
    history: async function* (_id: string, opts: { from?: string } = {}): AsyncIterable<HistoryPageRead> {
      const start = opts.from === undefined ? 0 : Number(opts.from.slice(1));
      if (!(start >= 0 && start < records.length && start % 2 === 0)) {
        throw new CxoneBadRequestError({ endpoint: CXONE_ENDPOINTS.getHistory, status: 400 });
      }
      for (let i = start; i < records.length; i += 2) {
        api.pages++;
        yield { records: records.slice(i, i + 2), cursor: i === 0 ? null : `c${i}` };
      }
    },
  };
  return api as unknown as CxoneApi & { pages: number };
}

function record(version: number, changes: HistoryRecord['changes'], actor = 'sandbox-client'): HistoryRecord {
  return {
    id: `h${version}`,
    campaignId: 'c1',
    version,
    occurredAt: new Date(0).toISOString(),
    action: 'updated',
    actor,
    changes,
  };
}

const created = record(1, { status: { from: null, to: 'draft' } });
const activated = record(2, { status: { from: 'draft', to: 'active' } });
/** The pause a run sent on version 2 (its answer lost), and an operator's resume after it. */
const sent = { version: 2, changes: { status: 'paused' } };
const ourPause = record(3, { status: { from: 'active', to: 'paused' } });
const operatorResume = record(4, { status: { from: 'paused', to: 'active' } }, 'console-operator');
const latest = resource({ id: 'c1', version: 4, status: 'active' });
const io = (cxone: CxoneApi) => ({ cxone, campaignId: 'c1', callOpts: {} });

describe('ownWriteOverwritten', () => {
  it('finds its own write in the history, changed since: a conflict on status', async () => {
    const report = await ownWriteOverwritten(
      io(withHistory([created, activated, ourPause, operatorResume])),
      [sent],
      latest,
      { status: 'active' },
      {},
    );
    expect(report?.conflicts).toEqual([
      { field: 'status', base: 'active', ours: 'paused', theirs: 'active' },
    ]);
  });

  it('finds another write at the version after: none', async () => {
    const someoneElse = record(3, { 'dialerSettings.callRate': { from: 0.5, to: 0.4 } }, 'console-operator');
    const report = await ownWriteOverwritten(
      io(withHistory([created, activated, someoneElse, operatorResume])),
      [sent],
      latest,
      { status: 'active' },
      {},
    );
    expect(report).toBeNull();
  });

  it("starts the walk where the audit's last import ended, not at the first page", async () => {
    // A long history before the write: the pause was sent on version 6, the import reached 5 (page c4).
    const earlier = [3, 4, 5, 6].map((v) => record(v, { 'dialerSettings.callRate': { from: 0.1, to: 0.2 } }));
    const ours = record(7, { status: { from: 'active', to: 'paused' } });
    const resumed = record(8, { status: { from: 'paused', to: 'active' } }, 'console-operator');
    const cxone = withHistory([created, activated, ...earlier, ours, resumed]);
    const report = await ownWriteOverwritten(
      { ...io(cxone), historyMark: { cursor: 'c4', version: 5 } },
      [{ version: 6, changes: { status: 'paused' } }],
      resource({ id: 'c1', version: 8, status: 'active' }),
      { status: 'active' },
      {},
    );
    expect(report?.conflicts).toEqual([
      { field: 'status', base: 'active', ours: 'paused', theirs: 'active' },
    ]);
    expect(cxone.pages).toBe(2);
  });

  it('walks from the first page when CXone refuses the cursor', async () => {
    const cxone = withHistory([created, activated, ourPause, operatorResume]);
    const report = await ownWriteOverwritten(
      { ...io(cxone), historyMark: { cursor: 'c-expired', version: 2 } },
      [sent],
      latest,
      { status: 'active' },
      {},
    );
    expect(report?.conflicts).toHaveLength(1);
  });

  it("walks from the first page when the cursor's page starts past the version the import reached", async () => {
    // The import reached version 3 on page c4; that cursor now hands over the page from version 5
    // (an offset shifted by CXone's retention, say), past the pause the run sent on 3, applied as 4.
    const other = record(3, { 'dialerSettings.callRate': { from: 0.1, to: 0.2 } });
    const ours = record(4, { status: { from: 'active', to: 'paused' } });
    const resumed = record(5, { status: { from: 'paused', to: 'active' } }, 'console-operator');
    const after = record(6, { 'dialerSettings.callRate': { from: 0.2, to: 0.3 } });
    const report = await ownWriteOverwritten(
      {
        ...io(withHistory([created, activated, other, ours, resumed, after])),
        historyMark: { cursor: 'c4', version: 3 },
      },
      [{ version: 3, changes: { status: 'paused' } }],
      resource({ id: 'c1', version: 6, status: 'active' }),
      { status: 'active' },
      {},
    );
    expect(report?.conflicts).toEqual([
      { field: 'status', base: 'active', ours: 'paused', theirs: 'active' },
    ]);
  });

  it("walks from the first page when the import's mark is past the write", async () => {
    const other = record(3, { 'dialerSettings.callRate': { from: 0.1, to: 0.2 } });
    const ours = record(4, { status: { from: 'active', to: 'paused' } });
    const resumed = record(5, { status: { from: 'paused', to: 'active' } }, 'console-operator');
    const after = record(6, { 'dialerSettings.callRate': { from: 0.2, to: 0.3 } });
    const cxone = withHistory([created, activated, other, ours, resumed, after]);
    const report = await ownWriteOverwritten(
      { ...io(cxone), historyMark: { cursor: 'c4', version: 5 } },
      [{ version: 3, changes: { status: 'paused' } }],
      resource({ id: 'c1', version: 6, status: 'active' }),
      { status: 'active' },
      {},
    );
    expect(report?.conflicts).toHaveLength(1);
    expect(cxone.pages).toBe(2);
  });

  it('refuses to decide on a history that lags the campaign: never taken for a write not applied', async () => {
    // The campaign is at version 4; CXone's history holds only up to 2 so far.
    await expect(
      ownWriteOverwritten(io(withHistory([created, activated])), [sent], latest, { status: 'active' }, {}),
    ).rejects.toThrow(HistoryBehindError);
  });
});
