import { beforeAll, describe, expect, it } from 'vitest';
import { historyPageSchema, type HistoryRecord } from '../../src/shared/cxone/wire.js';
import { sandboxForSuite } from '../support/sandbox-suite.js';
import { call, CONSOLE, createCampaign, patch, tokenFor } from './helpers.js';

describe('sandbox campaign history paging', () => {
  const suite = sandboxForSuite({ rateLimit: { perWindow: 10_000, windowMs: 60_000 } });
  let id: string;
  let version = 1;

  async function change(rate: number): Promise<void> {
    const res = await patch(suite.sandbox, suite.token, id, version, { dialerSettings: { callRate: rate } });
    expect(res.status).toBe(200);
    version = res.body.version as number;
  }

  async function page(query: string) {
    return call(suite.sandbox, 'GET', `/api/v2/outbound/campaigns/${id}/history${query}`, {
      token: suite.token,
    });
  }

  beforeAll(async () => {
    id = (await createCampaign(suite.sandbox, suite.token)).body.id as string;
    // 1 create + 24 changes = 25 records.
    for (let i = 0; i < 24; i += 1) await change(i % 2 === 0 ? 0.6 : 0.4);
  });

  it('walks every record exactly once, in version order, even while records are appended mid-walk', async () => {
    const seen: HistoryRecord[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await page(`?pageSize=7${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(res.status).toBe(200);
      const body = historyPageSchema.parse(res.body);
      seen.push(...body.records);
      cursor = body.nextCursor;
      pages += 1;
      // Appending during the walk must neither repeat nor skip records.
      if (pages === 2) await change(0.55);
    } while (cursor !== null);
    expect(seen).toHaveLength(26);
    expect(seen.map((r) => r.version)).toEqual(Array.from({ length: 26 }, (_, i) => i + 1));
    expect(new Set(seen.map((r) => r.id)).size).toBe(26);
    expect(seen.every((r) => r.campaignId === id)).toBe(true);
  });

  it('ends with nextCursor null and uses the default page size without pageSize', async () => {
    const all = historyPageSchema.parse((await page('')).body);
    expect(all.records.length).toBe(26);
    expect(all.nextCursor).toBeNull();
    const exact = historyPageSchema.parse((await page('?pageSize=26')).body);
    expect(exact.nextCursor).toBeNull();
  });

  it('refuses page sizes outside 1..500 and cursors it did not issue for this campaign', async () => {
    for (const size of ['0', '501', 'ten', '-1', '2.5', '002']) {
      const res = await page(`?pageSize=${size}`);
      expect(res.status, size).toBe(400);
      expect(res.body.errors).toEqual([expect.objectContaining({ field: 'pageSize' })]);
    }
    expect((await page('?pageSize=1')).status).toBe(200);
    expect((await page('?pageSize=500')).status).toBe(200);
    // A repeated or misspelt parameter is refused, naming it, not resolved or ignored.
    for (const [query, field] of [
      ['?pageSize=600&pageSize=2', 'pageSize'],
      ['?limit=1', 'limit'],
      ['?page_size=1', 'page_size'],
    ] as const) {
      const res = await page(query);
      expect(res.status, query).toBe(400);
      expect(res.body.errors, query).toEqual([expect.objectContaining({ field })]);
    }

    const other = (await createCampaign(suite.sandbox, suite.token)).body.id as string;
    const first = historyPageSchema.parse(
      (
        await call(suite.sandbox, 'GET', `/api/v2/outbound/campaigns/${other}/history?pageSize=1`, {
          token: suite.token,
        })
      ).body,
    );
    // The other campaign has one record, so it has no next page; forge one from this campaign instead.
    expect(first.nextCursor).toBeNull();
    const mine = historyPageSchema.parse((await page('?pageSize=1')).body);
    const foreign = await call(
      suite.sandbox,
      'GET',
      `/api/v2/outbound/campaigns/${other}/history?cursor=${encodeURIComponent(mine.nextCursor as string)}`,
      { token: suite.token },
    );
    expect(foreign.status).toBe(400);
    expect(foreign.body.error).toBe('invalid_cursor');
    expect((await page('?cursor=%%%garbage')).status).toBe(400);
    // A cursor made up to point past the end is not one the endpoint issued either.
    const madeUp = Buffer.from(JSON.stringify({ c: id, o: 9999 })).toString('base64url');
    const pastEnd = await page(`?cursor=${madeUp}`);
    expect(pastEnd.status).toBe(400);
    expect(pastEnd.body.error).toBe('invalid_cursor');
  });

  it('refuses cursors a client made or altered itself, naming cursor, and honours only issued ones', async () => {
    const expectRefused = async (cursor: string, why: string): Promise<void> => {
      const res = await page(`?pageSize=2&cursor=${encodeURIComponent(cursor)}`);
      expect(res.status, why).toBe(400);
      expect(res.body.error, why).toBe('invalid_cursor');
      expect(res.body.errors, why).toEqual([expect.objectContaining({ field: 'cursor' })]);
      expect(String(res.body.message), why).toMatch(/cursor/);
    };
    // An offset inside the history, in the shape a client could guess from a readable cursor: CXone's
    // cursors are opaque, so a product that builds its own would break there.
    for (const forged of [
      Buffer.from(JSON.stringify({ c: id, o: 3 })).toString('base64url'),
      Buffer.from('3').toString('base64url'),
      '3',
    ])
      await expectRefused(forged, `forged ${forged}`);

    const issued = historyPageSchema.parse((await page('?pageSize=2')).body).nextCursor as string;
    expect(issued).toEqual(expect.any(String));
    // One character changed anywhere (the position it marks or its signature) makes it a stranger.
    for (const at of [0, Math.floor(issued.length / 2), issued.length - 1]) {
      const flipped = issued[at] === 'A' ? 'B' : 'A';
      await expectRefused(`${issued.slice(0, at)}${flipped}${issued.slice(at + 1)}`, `altered at ${at}`);
    }
    await expectRefused(`${issued}x`, 'extended');
    // Nor does a last character that differs only in bits base64 decoding drops (the same bytes).
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(issued.at(-1) as string);
    for (const spare of [1, 2, 3]) {
      const variant = `${issued.slice(0, -1)}${alphabet[last ^ spare]}`;
      await expectRefused(variant, `last character ${alphabet[last ^ spare]}`);
    }

    // The issued one still works, for any client of the same tenant.
    const consoleToken = await tokenFor(suite.sandbox, CONSOLE);
    for (const who of [suite.token, consoleToken]) {
      const res = await call(
        suite.sandbox,
        'GET',
        `/api/v2/outbound/campaigns/${id}/history?pageSize=2&cursor=${encodeURIComponent(issued)}`,
        { token: who },
      );
      expect(res.status).toBe(200);
      expect(historyPageSchema.parse(res.body).records.map((r) => r.version)).toEqual([3, 4]);
    }
  });

  it('answers 404 for the history of an unknown campaign', async () => {
    const res = await call(suite.sandbox, 'GET', '/api/v2/outbound/campaigns/nope/history', {
      token: suite.token,
    });
    expect(res.status).toBe(404);
  });
});
