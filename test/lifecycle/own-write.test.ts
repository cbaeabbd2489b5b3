import { describe, expect, it } from 'vitest';
import type { CxoneApi, HistoryPageRead } from '../../src/shared/cxone/api.js';
import type { HistoryRecord } from '../../src/shared/cxone/wire.js';
import { HistoryBehindError, ownWriteOverwritten } from '../../src/shared/lifecycle/own-write.js';
import { resource } from './fixtures.js';

/** A CXone whose history holds `records` (oldest first), in pages of two. */
function withHistory(records: HistoryRecord[]): CxoneApi {
  return {
    history: async function* (): AsyncIterable<HistoryPageRead> {
      for (let i = 0; i < records.length; i += 2) {
        yield { records: records.slice(i, i + 2), cursor: i === 0 ? null : `c${i}` };
      }
    },
  } as unknown as CxoneApi;
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

  it('refuses to decide on a history that lags the campaign: never taken for a write not applied', async () => {
    // The campaign is at version 4; CXone's history holds only up to 2 so far.
    await expect(
      ownWriteOverwritten(io(withHistory([created, activated])), [sent], latest, { status: 'active' }, {}),
    ).rejects.toThrow(HistoryBehindError);
  });
});
