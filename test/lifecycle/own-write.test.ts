import { describe, expect, it } from 'vitest';
import type { CxoneApi, HistoryPageRead } from '../../src/shared/cxone/api.js';
import { CXONE_ENDPOINTS, type HistoryRecord } from '../../src/shared/cxone/wire.js';
import { CxoneBadRequestError } from '../../src/shared/errors.js';
import {
  HistoryBehindError,
  movedAway,
  ownWriteOverwritten,
  sentChanges,
} from '../../src/shared/lifecycle/own-write.js';
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

describe('ownWriteOverwritten, across a settings write and the status write after it', () => {
  const pausedAt2 = record(2, { status: { from: 'draft', to: 'paused' } });
  const rate = (v: number, from: number, to: number, actor?: string) =>
    record(v, { 'dialerSettings.callRate': { from, to } }, actor);

  it('judges only the writes CXone can have applied: one sent on the current version is not read for', async () => {
    // The settings write (sent on 2, applied as 3) changed back in the console (4); the status write
    // after it was sent on 4 and never applied: the history cannot hold a 5, and need not.
    const history = [created, activated, rate(3, 0.5, 0.3), rate(4, 0.3, 0.5, 'console-operator')];
    const sent = [
      { version: 2, changes: { 'dialerSettings.callRate': 0.3 } },
      { version: 4, changes: { status: 'paused' } },
    ];
    const latest = resource({ id: 'c1', version: 4, status: 'active' });
    const ours = { 'dialerStrategy.callRate': 0.3 };
    const report = await ownWriteOverwritten(io(withHistory(history)), sent, latest, {}, ours);
    // The requester named no base for it: the value before the write.
    expect(report?.conflicts).toEqual([
      { field: 'dialerStrategy.callRate', base: 0.5, ours: 0.3, theirs: 0.5 },
    ]);
    // The value the requester saw, when it names one.
    const seen = await ownWriteOverwritten(
      io(withHistory(history)),
      sent,
      latest,
      { 'dialerStrategy.callRate': 0.45 },
      ours,
    );
    expect(seen?.conflicts).toEqual([
      { field: 'dialerStrategy.callRate', base: 0.45, ours: 0.3, theirs: 0.5 },
    ]);
  });

  it("takes its own later write's value over its earlier one: a safe start riding the resume is no one's change", async () => {
    // Settings write on 2 (callRate 0.3, applied as 3); the resume sent on 3 carried pacing's safe
    // start (0.1, applied as 4); an operator paused in the console (5).
    const history = [
      created,
      pausedAt2,
      rate(3, 0.5, 0.3),
      record(4, {
        status: { from: 'paused', to: 'active' },
        'dialerSettings.callRate': { from: 0.3, to: 0.1 },
      }),
      record(5, { status: { from: 'active', to: 'paused' } }, 'console-operator'),
    ];
    const report = await ownWriteOverwritten(
      io(withHistory(history)),
      // In any order: the run keeps the settings write and the last one sent apart.
      [
        { version: 3, changes: { status: 'active', 'dialerSettings.callRate': 0.1 } },
        { version: 2, changes: { 'dialerSettings.callRate': 0.3 } },
      ],
      resource({
        id: 'c1',
        version: 5,
        status: 'paused',
        dialerSettings: { ...resource().dialerSettings, callRate: 0.1 },
      }),
      { status: 'paused' },
      { 'dialerStrategy.callRate': 0.3 },
    );
    expect(report?.conflicts).toEqual([
      { field: 'status', base: 'paused', ours: 'active', theirs: 'paused' },
    ]);
    expect(report?.reason).toContain('write was applied as version 4');
  });

  it("names only the requester's fields: a safe start it carried unasked, changed since, is no conflict", async () => {
    // A resume sent on 2 with the safe start (applied as 3); an operator paused (4) and set a rate (5).
    const history = [
      created,
      pausedAt2,
      record(3, {
        status: { from: 'paused', to: 'active' },
        'dialerSettings.callRate': { from: 0.5, to: 0.1 },
      }),
      record(4, { status: { from: 'active', to: 'paused' } }, 'console-operator'),
      rate(5, 0.1, 0.4, 'console-operator'),
    ];
    const report = await ownWriteOverwritten(
      io(withHistory(history)),
      [{ version: 2, changes: { status: 'active', 'dialerSettings.callRate': 0.1 } }],
      resource({
        id: 'c1',
        version: 5,
        status: 'paused',
        dialerSettings: { ...resource().dialerSettings, callRate: 0.4 },
      }),
      { status: 'paused' },
      {},
    );
    expect(report?.conflicts).toEqual([
      { field: 'status', base: 'paused', ours: 'active', theirs: 'paused' },
    ]);
  });

  it('reads no history when every field of its own still holds the value sent, however far CXone moved', async () => {
    // Only the safe start it carried unasked was changed since; the history lags (it would refuse to decide).
    const cxone = withHistory([created, pausedAt2]);
    const report = await ownWriteOverwritten(
      io(cxone),
      [{ version: 2, changes: { status: 'active', 'dialerSettings.callRate': 0.1 } }],
      resource({
        id: 'c1',
        version: 5,
        status: 'active',
        dialerSettings: { ...resource().dialerSettings, callRate: 0.4 },
      }),
      { status: 'paused' },
      {},
    );
    expect(report).toBeNull();
    expect(cxone.pages).toBe(0);
  });

  it("starts at the import's mark when the mark is the very version the write would have made", async () => {
    const earlier = [3, 4].map((v) => rate(v, 0.1, 0.2));
    const ours = record(5, { status: { from: 'active', to: 'paused' } });
    const resumed = record(6, { status: { from: 'paused', to: 'active' } }, 'console-operator');
    const cxone = withHistory([created, activated, ...earlier, ours, resumed]);
    const report = await ownWriteOverwritten(
      { ...io(cxone), historyMark: { cursor: 'c4', version: 5 } },
      [{ version: 4, changes: { status: 'paused' } }],
      resource({ id: 'c1', version: 6, status: 'active' }),
      { status: 'active' },
      {},
    );
    expect(report?.conflicts).toHaveLength(1);
    expect(cxone.pages).toBe(1);
  });
});

describe('sentChanges and movedAway', () => {
  it("names a PATCH body's fields by CXone's dotted paths, leaving out those it does not set", () => {
    expect(
      sentChanges({ status: 'paused', dialerSettings: { callRate: 0.3, agentCapacity: undefined } } as never),
    ).toStrictEqual({ status: 'paused', 'dialerSettings.callRate': 0.3 });
  });

  it('finds nothing moved while CXone is still at the version the write named (it cannot have been applied)', () => {
    const sent = { version: 4, changes: { status: 'paused' } };
    expect(movedAway(sent, resource({ version: 4, status: 'active' }), {})).toEqual([]);
    expect(movedAway(sent, resource({ version: 5, status: 'active' }), {})).toEqual(['status']);
    expect(movedAway(undefined, resource({ version: 5, status: 'active' }), {})).toEqual([]);
  });
});
