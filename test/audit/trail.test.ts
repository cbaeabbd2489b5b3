import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Redis } from 'ioredis';
import { ManualClock } from '../../src/shared/clock.js';
import { createKeys, type Keys } from '../../src/shared/keys.js';
import { silentLogger } from '../../src/shared/logger.js';
import { hashRecord, sealRecord } from '../../src/shared/audit/canonical.js';
import { canonicalJson } from '../../src/shared/canonical-json.js';
import {
  AUDIT_PAGE_MAX,
  AuditAppendError,
  AuditGapsError,
  AuditTrimLockedError,
  AuditTrimLockLostError,
  createAuditTrail,
  InvalidCursorError,
  type AuditTrailStore,
} from '../../src/shared/audit/trail.js';
import { describeVerification } from '../../src/cli/audit.js';
import type { AuditInput } from '../../src/shared/audit/types.js';
import { connect, deletePrefix, knownCampaign, testPrefix } from './redis-helpers.js';

let redis: Redis;
let keys: Keys;
let prefix: string;
let trail: AuditTrailStore;

beforeAll(() => {
  redis = connect();
  prefix = testPrefix();
  keys = createKeys(prefix);
  trail = createAuditTrail({ redis, keys, logger: silentLogger });
});

afterAll(async () => {
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

const input = (campaignId: string, n: number, extra: Partial<AuditInput> = {}): AuditInput => ({
  campaignId,
  action: 'settings_changed',
  actor: 'api:test',
  cxoneVersion: n,
  details: { n, before: { callRate: 0.5 }, after: { callRate: 0.6 } },
  ...extra,
});

async function appendMany(campaignId: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) await trail.append(input(campaignId, i));
}

/** Rewrites the main stream with the same ids, letting `edit` change one stored record. */
async function rewriteStream(
  edit: (record: Record<string, unknown>) => string | void,
  auditId: string,
): Promise<void> {
  const entries = (await redis.xrange(keys.auditStream(), '-', '+')) as [string, string[]][];
  await redis.del(keys.auditStream());
  for (const [id, fields] of entries) {
    const record = JSON.parse(fields[3]!) as Record<string, unknown>;
    const replaced = record.auditId === auditId ? edit(record) : undefined;
    await redis.xadd(keys.auditStream(), id, 'c', fields[1]!, 'r', replaced ?? JSON.stringify(record));
  }
}

async function streamIdOf(campaignId: string, index: number): Promise<string> {
  const entries = (await redis.xrange(keys.auditCampaignIndex(campaignId), '-', '+')) as [string, string[]][];
  return entries[index]![0];
}

describe('canonical hashing', () => {
  it('is independent of key order and covers prevHash', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { y: 1, x: 2 }], c: undefined } })).toBe(
      '{"a":{"d":[2,{"x":2,"y":1}]},"b":1}',
    );
    const base = {
      auditId: 'a',
      timestamp: 't',
      occurredAt: 't',
      campaignId: 'c',
      action: 'state_changed' as const,
      actor: 'x',
      details: { from: 'active', to: 'paused' },
      prevHash: '',
    };
    expect(hashRecord(base)).toBe(hashRecord({ ...base, details: { to: 'paused', from: 'active' } }));
    expect(hashRecord(base)).not.toBe(hashRecord({ ...base, prevHash: 'x' }));
  });

  it('seals a record from its two halves exactly as canonicalJson of the whole record', () => {
    const details = [
      {},
      { from: 'active', to: 'paused', reason: undefined },
      { config: { name: 'Größe "x"\n', windows: [{ start: '09:00' }], 10: 'ten', 2: 'two', a: null } },
      { nested: { z: [1, { b: 2, a: [3, 'é'] }], '': 0, hash: 'not the top-level one' } },
    ];
    for (const [i, d] of details.entries()) {
      const before = {
        action: 'pacing_decision' as const,
        actor: 'worker:pacing',
        auditId: `aud_${i}`,
        campaignId: 'c-1',
        cxoneVersion: i % 2 === 0 ? 7 : undefined,
        dedupeKey: i % 2 === 1 ? `k-${i}` : undefined,
        details: d,
      };
      const after = {
        metrics:
          i === 3
            ? {
                efficiencyScore: 81.5,
                answerRate: 0.35,
                abandonmentRate: 0.01,
                complianceViolationFrequency: 0,
                totalCalls: 120,
              }
            : null,
        occurredAt: '2026-11-28T09:00:00.000Z',
        prevHash: i === 0 ? '' : 'f'.repeat(64),
        timestamp: '2026-11-28T09:00:00.123Z',
      };
      const sealed = sealRecord(canonicalJson(before), canonicalJson(after));
      const record = { ...before, ...after, hash: sealed.hash };
      expect(sealed.json).toBe(canonicalJson(record));
      expect(sealed.hash).toBe(hashRecord(record));
    }
  });
});

describe('audit trail', () => {
  it('chains each campaign separately and verifies', async () => {
    await appendMany('c-chain-a', 3);
    await appendMany('c-chain-b', 2);
    const a = await trail.list('c-chain-a');
    expect(a.map((r) => r.details.n)).toEqual([0, 1, 2]);
    expect(a[0]!.prevHash).toBe('');
    expect(a[1]!.prevHash).toBe(a[0]!.hash);
    expect(a[2]!.prevHash).toBe(a[1]!.hash);
    expect(a.every((r) => r.hash === hashRecord(r) && r.auditId.startsWith('aud_'))).toBe(true);
    expect(await trail.verify('c-chain-a')).toMatchObject({ ok: true, checked: 3, broken: [] });
    expect((await trail.list('c-chain-b'))[0]!.prevHash).toBe('');
  });

  it('keeps one valid chain under concurrent appends from several connections', async () => {
    const writers = [connect(), connect(), connect(), connect()];
    try {
      const trails = writers.map((r) => createAuditTrail({ redis: r, keys, logger: silentLogger }));
      await Promise.all(
        trails.flatMap((t, w) =>
          Array.from({ length: 25 }, (_, i) => t.append(input('c-concurrent', w * 100 + i))),
        ),
      );
    } finally {
      for (const w of writers) w.disconnect();
    }
    const records = await trail.list('c-concurrent');
    expect(records).toHaveLength(100);
    expect(new Set(records.map((r) => r.prevHash)).size).toBe(100);
    // A writer that lost the race rebuilt its record later, so chain order is also time order.
    const times = records.map((r) => Date.parse(r.timestamp));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(await trail.verify('c-concurrent')).toMatchObject({ ok: true, checked: 100 });
  });

  it('gets every writer through when several append to one chain in loops', async () => {
    // A writer in a loop gets each success's reply first and so sends its next record first. Without
    // the waiting set, the same few writers won round after round and another one lost until it gave
    // up (200 attempts): its audit record lost. Each loop here is longer than that.
    const connections = Array.from({ length: 8 }, () => connect());
    try {
      const trails = connections.map((r) => createAuditTrail({ redis: r, keys, logger: silentLogger }));
      await Promise.all(
        trails.map(async (t, w) => {
          for (let i = 0; i < 250; i++) await t.append(input('c-loops', w * 1000 + i));
        }),
      );
    } finally {
      for (const c of connections) c.disconnect();
    }
    expect(await trail.verify('c-loops')).toMatchObject({ ok: true, checked: 2000 });
    // Nobody is left queued once everyone got through.
    expect(
      await redis.exists(keys.custom('audit-queue', 'c-loops'), keys.custom('audit-queue-seen', 'c-loops')),
    ).toBe(0);
  });

  it('builds on the real head when another process appended since this one last did', async () => {
    const other = createAuditTrail({ redis, keys, logger: silentLogger });
    const { record: first } = await trail.appendWithOutcome(input('c-stale-head', 1));
    const { record: second } = await other.appendWithOutcome(input('c-stale-head', 2));
    // `trail` still remembers `first` as the head; the append script corrects it.
    const { record: third } = await trail.appendWithOutcome(input('c-stale-head', 3));
    expect(second!.prevHash).toBe(first!.hash);
    expect(third!.prevHash).toBe(second!.hash);
    expect(await redis.get(keys.auditChainHead('c-stale-head'))).toBe(third!.hash);
    expect(await trail.verify('c-stale-head')).toMatchObject({ ok: true, checked: 3 });
  });

  it('detects an edited record and names it', async () => {
    await appendMany('c-edit', 5);
    const victim = (await trail.list('c-edit'))[2]!;
    await rewriteStream((r) => {
      (r.details as Record<string, unknown>).after = { callRate: 1 };
    }, victim.auditId);
    const result = await trail.verify('c-edit');
    expect(result.ok).toBe(false);
    expect(result.firstBroken).toMatchObject({
      campaignId: 'c-edit',
      auditId: victim.auditId,
      index: 2,
      reason: 'hash_mismatch',
    });
  });

  it('detects content forged under a "__proto__" member, which the hash would not see', async () => {
    await appendMany('c-proto', 3);
    const victim = (await trail.list('c-proto'))[1]!;
    await rewriteStream((r) => {
      const json = JSON.stringify(r);
      // Injected as text: assigning it on an object would set the prototype instead.
      return json.replace('"details":{', '"details":{"__proto__":{"approvedBy":"FORGED"},');
    }, victim.auditId);
    // The hash alone still matches: canonical JSON leaves "__proto__" out.
    const stored = (await redis.xrange(keys.auditStream(), '-', '+')) as [string, string[]][];
    const forged = stored.map(([, f]) => f[3]!).find((r) => r.includes('FORGED'))!;
    const parsed = JSON.parse(forged) as { hash: string };
    expect(hashRecord(parsed as never)).toBe(parsed.hash);
    expect((await trail.verify('c-proto')).firstBroken).toMatchObject({
      auditId: victim.auditId,
      index: 1,
      reason: 'forbidden_key',
    });
  });

  it('detects text forged where the parsed record, and so the hash, does not show it', async () => {
    await appendMany('c-text', 4);
    const [, dup, overflow] = await trail.list('c-text');
    // A duplicate member: JSON.parse keeps the last one (what was hashed), a first-wins reader the
    // forged one.
    await rewriteStream(
      (r) => JSON.stringify(r).replace('{"action":', '{"action":"compliance_override","action":'),
      dup!.auditId,
    );
    const first = await trail.verify('c-text');
    expect(first.firstBroken).toMatchObject({ auditId: dup!.auditId, index: 1, reason: 'not_canonical' });
    // Restored (re-serialized as it was parsed): whole again.
    await rewriteStream((r) => JSON.stringify(r), dup!.auditId);
    expect((await trail.verify('c-text')).ok).toBe(true);
    // A number that overflows to Infinity, which canonical JSON writes as null, as the stored null.
    await rewriteStream((r) => {
      const json = JSON.stringify(r);
      expect(json).toContain('"metrics":null');
      return json.replace('"metrics":null', '"metrics":1e999');
    }, overflow!.auditId);
    expect((await trail.verify('c-text')).firstBroken).toMatchObject({
      auditId: overflow!.auditId,
      index: 2,
      reason: 'not_canonical',
    });
  });

  it('detects an edited record whose hash was recomputed, at the next link', async () => {
    await appendMany('c-rehash', 4);
    const records = await trail.list('c-rehash');
    await rewriteStream((r) => {
      r.actor = 'api:someone-else';
      r.hash = hashRecord(r as never);
    }, records[1]!.auditId);
    expect((await trail.verify('c-rehash')).firstBroken).toMatchObject({
      auditId: records[2]!.auditId,
      index: 2,
      reason: 'missing_previous',
      expected: expect.not.stringMatching(records[1]!.hash),
      actual: records[1]!.hash,
    });
  });

  it('reports a damaged (unparseable) record', async () => {
    await appendMany('c-damaged', 2);
    const victim = (await trail.list('c-damaged'))[0]!;
    await rewriteStream(() => '{"auditId": "truncat', victim.auditId);
    expect((await trail.verify('c-damaged')).firstBroken).toMatchObject({
      auditId: victim.auditId,
      index: 0,
      reason: 'unparseable',
    });
  });

  it('detects a record deleted from the stream and its index', async () => {
    await appendMany('c-delete', 5);
    const records = await trail.list('c-delete');
    const id = await streamIdOf('c-delete', 2);
    await redis.xdel(keys.auditStream(), id);
    await redis.xdel(keys.auditCampaignIndex('c-delete'), id);
    const result = await trail.verify('c-delete');
    expect(result.firstBroken).toMatchObject({
      auditId: records[3]!.auditId,
      index: 2,
      reason: 'missing_previous',
      actual: records[2]!.hash,
    });
  });

  it('detects a record deleted from the stream only, and one deleted from the end', async () => {
    await appendMany('c-delete-2', 3);
    const records = await trail.list('c-delete-2');
    await redis.xdel(keys.auditStream(), await streamIdOf('c-delete-2', 1));
    expect((await trail.verify('c-delete-2')).firstBroken).toMatchObject({
      auditId: records[1]!.auditId,
      index: 1,
      reason: 'missing_record',
    });

    await appendMany('c-delete-last', 3);
    const last = await trail.list('c-delete-last');
    const lastId = await streamIdOf('c-delete-last', 2);
    await redis.xdel(keys.auditStream(), lastId);
    await redis.xdel(keys.auditCampaignIndex('c-delete-last'), lastId);
    expect((await trail.verify('c-delete-last')).firstBroken).toMatchObject({
      auditId: last[1]!.auditId,
      reason: 'head_mismatch',
    });
  });

  it('verify() without a campaign checks every campaign and reports each broken one', async () => {
    const all = await trail.verify();
    expect(all.ok).toBe(false);
    expect(all.campaigns).toBeGreaterThanOrEqual(7);
    expect(all.broken.map((b) => b.campaignId).sort()).toEqual(
      ['c-damaged', 'c-delete', 'c-delete-2', 'c-delete-last', 'c-edit', 'c-proto', 'c-rehash'].sort(),
    );
  });

  it('pages the whole trail without gaps or repeats, also while appending', async () => {
    await appendMany('c-page', 40);
    const seen: string[] = [];
    const appending = (async () => {
      for (let i = 40; i < 100; i++) await trail.append(input('c-page', i));
    })();
    let cursor: string | null = null;
    do {
      const page: Awaited<ReturnType<AuditTrailStore['page']>> = await trail.page('c-page', cursor, 7);
      expect(page.records.length).toBeLessThanOrEqual(7);
      seen.push(...page.records.map((r) => r.auditId));
      cursor = page.nextCursor;
    } while (cursor);
    await appending;
    const all = (await trail.list('c-page')).map((r) => r.auditId);
    expect(all).toHaveLength(100);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(all.slice(0, seen.length));
    expect(seen.length).toBeGreaterThanOrEqual(40);
  });

  it('list() refuses to pass a chain with records it cannot return for the whole chain (AuditGapsError)', async () => {
    const p = testPrefix();
    const k = createKeys(p);
    try {
      const t = createAuditTrail({ redis, keys: k, logger: silentLogger });
      for (let i = 0; i < 4; i++) await t.append(input('c-list-gap', i));
      const [, missing, damaged] = (await redis.xrange(k.auditCampaignIndex('c-list-gap'), '-', '+')) as [
        string,
        string[],
      ][];
      // One record deleted from the stream, one damaged in place (the same id, text that is no record).
      await redis.xdel(k.auditStream(), missing![0]);
      const entries = (await redis.xrange(k.auditStream(), '-', '+')) as [string, string[]][];
      await redis.del(k.auditStream());
      for (const [id, fields] of entries) {
        await redis.xadd(
          k.auditStream(),
          id,
          'c',
          fields[1]!,
          'r',
          id === damaged![0] ? '{"not":' : fields[3]!,
        );
      }
      const err = await t.list('c-list-gap').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AuditGapsError);
      expect(err).toMatchObject({
        campaignId: 'c-list-gap',
        readable: 2,
        gaps: [
          { streamId: missing![0], reason: 'missing', auditId: missing![1][1] },
          { streamId: damaged![0], reason: 'unparseable', auditId: damaged![1][1] },
        ],
      });
      expect((err as Error).message).toMatch(
        /^audit trail of campaign c-list-gap incomplete: 2 record\(s\) could not be read .*run npm run audit -- verify c-list-gap$/,
      );
    } finally {
      await deletePrefix(redis, p);
    }
  });

  it('rejects a malformed cursor and clamps the limit', async () => {
    await expect(trail.page('c-page', 'not-a-cursor')).rejects.toBeInstanceOf(InvalidCursorError);
    // The right shape, but past what a stream id holds: Redis would refuse it as a server error.
    await expect(trail.page('c-page', '18446744073709551616-0')).rejects.toBeInstanceOf(InvalidCursorError);
    // One record more than a page holds: asked for 10 000, a page stops at the maximum.
    await appendMany('c-page-max', AUDIT_PAGE_MAX + 1);
    const clamped = await trail.page('c-page-max', null, 10_000);
    expect(clamped.records).toHaveLength(AUDIT_PAGE_MAX);
    expect(clamped.nextCursor).not.toBeNull();
    expect((await trail.page('c-page', null, 0)).records).toHaveLength(1);
  });

  it('never appends the same dedupe key twice', async () => {
    const first = await trail.appendWithOutcome(input('c-dedupe', 1, { dedupeKey: 'hist-1' }));
    const again = await trail.appendWithOutcome(input('c-dedupe', 2, { dedupeKey: 'hist-1' }));
    expect(first.duplicate).toBe(false);
    expect(again).toEqual({ record: first.record, duplicate: true });
    expect(await trail.list('c-dedupe')).toHaveLength(1);
  });

  it('exports JSONL for one campaign and for all', async () => {
    const lines: string[] = [];
    for await (const line of trail.exportJsonl('c-chain-a')) lines.push(line);
    expect(lines).toHaveLength(3);
    expect(lines.every((l) => l.endsWith('\n'))).toBe(true);
    expect(JSON.parse(lines[0]!)).toMatchObject({ campaignId: 'c-chain-a', prevHash: '' });
    let total = 0;
    for await (const line of trail.exportJsonl()) {
      // The damaged record from the test above is exported as stored, so auditors see it too.
      if (!line.includes('truncat')) expect(() => JSON.parse(line)).not.toThrow();
      total++;
    }
    expect(total).toBe(Number(await redis.xlen(keys.auditStream())));
  });

  it("exports a campaign's records exactly as stored, forged or damaged ones too, and names those missing", async () => {
    const exported = async (campaignId: string) => {
      const lines: string[] = [];
      const missing: { streamId: string; auditId: string | null }[] = [];
      for await (const line of trail.exportJsonl(campaignId, { onMissing: (m) => missing.push(m) }))
        lines.push(line);
      return { lines, missing };
    };
    const stored = async (campaignId: string) => {
      const index = (await redis.xrange(keys.auditCampaignIndex(campaignId), '-', '+')) as [
        string,
        string[],
      ][];
      const texts: string[] = [];
      for (const [id] of index) {
        const [entry] = (await redis.xrange(keys.auditStream(), id, id)) as [string, string[]][];
        if (entry) texts.push(`${entry[1][3]}\n`);
      }
      return texts;
    };
    // Forged under "__proto__" (which canonical JSON leaves out), damaged: as stored, so the export
    // shows what verify failed on instead of a rewritten record that verifies clean offline.
    for (const [campaignId, mark] of [
      ['c-proto', 'FORGED'],
      ['c-damaged', 'truncat'],
    ] as const) {
      const { lines, missing } = await exported(campaignId);
      expect(lines, campaignId).toEqual(await stored(campaignId));
      expect(
        lines.some((l) => l.includes(mark)),
        campaignId,
      ).toBe(true);
      expect(missing).toEqual([]);
    }
    // A record the index names and the stream lacks cannot be written; the caller hears of it.
    const { lines, missing } = await exported('c-delete-2');
    const [, gone] = (await redis.xrange(keys.auditCampaignIndex('c-delete-2'), '-', '+')) as [
      string,
      string[],
    ][];
    expect(lines).toHaveLength(2);
    expect(missing).toEqual([{ streamId: gone![0], auditId: gone![1][1] }]);
  });
});

/**
 * A writer on its own connection that loses two races on `campaignId` and so joins the chain's queue,
 * then is held there until `release()` (never, for a writer that crashed) without coming back. Its
 * first loss is its stale guess of the head (a fresh process), which does not queue it; before it
 * tries again a rival record (n = 0) is appended, so that it loses a real race.
 */
function heldWriter(campaignId: string) {
  const conn = connect();
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let joined!: (auditId: string) => void;
  const queuedAs = new Promise<string>((resolve) => (joined = resolve));
  let replies = 0;
  interceptScripts(conn, async (reply, args) => {
    const n = ++replies;
    if (n > 2) return;
    expect((reply as string[])[0]).toBe('conflict');
    const auditId = String(args.find((a) => typeof a === 'string' && a.startsWith('aud_')));
    const queued = (await redis.zscore(queueKeys(campaignId)[0]!, auditId)) !== null;
    if (n === 1) {
      // A stale guess alone does not queue a writer.
      expect(queued).toBe(false);
      await trail.append(input(campaignId, 0));
      return;
    }
    expect(queued).toBe(true);
    joined(auditId);
    await released;
  });
  return { conn, release, queuedAs, trail: createAuditTrail({ redis: conn, keys, logger: silentLogger }) };
}

/**
 * Runs the first script sent on `conn` twice and answers with the second run's reply, as when
 * ioredis sends a command again after its connection dropped before the reply came. Returns whether
 * that has happened.
 */
function resendFirstScript(conn: Redis, between?: () => Promise<void>): () => boolean {
  let resent = false;
  const target = conn as unknown as Record<'evalsha', (...args: unknown[]) => Promise<unknown>>;
  const evalsha = target.evalsha.bind(conn);
  target.evalsha = async (...args: unknown[]) => {
    const first = await evalsha(...args);
    if (resent) return first;
    resent = true;
    // What other writers did while the connection was down, before the command went again.
    await between?.();
    return evalsha(...args);
  };
  return () => resent;
}

/** Lets `onReply` see (and hold back) every reply of a script run on `conn`; returns the count so far. */
function interceptScripts(
  conn: Redis,
  onReply: (reply: unknown, args: unknown[]) => void | Promise<void>,
): () => number {
  let calls = 0;
  const target = conn as unknown as Record<'evalsha' | 'eval', (...args: unknown[]) => Promise<unknown>>;
  for (const name of ['evalsha', 'eval'] as const) {
    const original = target[name].bind(conn);
    target[name] = async (...args: unknown[]) => {
      const reply = await original(...args);
      calls++;
      await onReply(reply, args);
      return reply;
    };
  }
  return () => calls;
}

const queueKeys = (campaignId: string) => [
  keys.custom('audit-queue', campaignId),
  keys.custom('audit-queue-seen', campaignId),
];

describe('appending in turn', () => {
  /**
   * Appends `winner`'s next record while `held` waits in the queue, releasing `held` once the winner
   * has called the script `polls` times or finished. Keeps `held` alive meanwhile, as its process would.
   */
  async function comeBackWhileHeld(
    campaignId: string,
    polls: number,
  ): Promise<{ polled: number; finishedFirst: boolean }> {
    const winnerConn = connect();
    const held = heldWriter(campaignId);
    try {
      const calls = interceptScripts(winnerConn, () => {});
      const winner = createAuditTrail({ redis: winnerConn, keys, logger: silentLogger });
      await winner.append(input(campaignId, 1));
      // The held writer's guess of the head (none) is stale: it loses, and waits in the queue.
      const waiting = held.trail.append(input(campaignId, 2));
      const heldId = await held.queuedAs;
      const before = calls();
      let finished = false;
      // The winner comes back at once with its next record, built on the head it has just written.
      const again = winner.append(input(campaignId, 3)).finally(() => (finished = true));
      let refreshed = 0;
      while (!finished && calls() - before < polls) {
        if (Date.now() - refreshed > 200) {
          const [s, us] = await redis.time();
          await redis.zadd(
            queueKeys(campaignId)[1]!,
            Number(s) * 1000 + Math.floor(Number(us) / 1000),
            heldId,
          );
          refreshed = Date.now();
        }
        await sleep(1);
      }
      const result = { polled: calls() - before, finishedFirst: finished };
      held.release();
      await Promise.all([waiting, again]);
      return result;
    } finally {
      winnerConn.disconnect();
      held.conn.disconnect();
    }
  }

  it('serves a writer that lost a race before one that has just won and comes back', async () => {
    const outcome = await comeBackWhileHeld('c-fifo', 10);
    // Before the queue, the winner's second attempt overtook the writer that had been waiting.
    expect(outcome.finishedFirst).toBe(false);
    expect((await trail.list('c-fifo')).map((r) => r.details.n)).toEqual([1, 0, 2, 3]);
    expect(await trail.verify('c-fifo')).toMatchObject({ ok: true, checked: 4 });
    expect(await redis.exists(...queueKeys('c-fifo'))).toBe(0);
  });

  it('does not count waiting its turn toward the attempts after which an append gives up', async () => {
    // More polls than the 200 lost races an append survives: all of them spent waiting.
    const outcome = await comeBackWhileHeld('c-patient', 250);
    expect(outcome).toMatchObject({ finishedFirst: false });
    expect(outcome.polled).toBeGreaterThanOrEqual(250);
    expect((await trail.list('c-patient')).map((r) => r.details.n)).toEqual([1, 0, 2, 3]);
    expect(await redis.exists(...queueKeys('c-patient'))).toBe(0);
  });

  it('lets others past a waiter that crashed once its liveness runs out (2 s)', async () => {
    const crashed = heldWriter('c-crashed');
    try {
      await trail.append(input('c-crashed', 1));
      void crashed.trail.append(input('c-crashed', 2));
      await crashed.queuedAs;
      const started = Date.now();
      await trail.append(input('c-crashed', 3));
      const waited = Date.now() - started;
      // Held for the crashed writer's place until then, and not much longer.
      expect(waited).toBeGreaterThanOrEqual(1_500);
      expect(waited).toBeLessThan(5_000);
    } finally {
      crashed.conn.disconnect();
    }
    expect((await trail.list('c-crashed')).map((r) => r.details.n)).toEqual([1, 0, 3]);
    expect(await redis.exists(...queueKeys('c-crashed'))).toBe(0);
  });

  it('appends a record once when the reply to its append was lost and the command sent again', async () => {
    const conn = connect();
    try {
      const t = createAuditTrail({ redis: conn, keys, logger: silentLogger });
      await t.append(input('c-resent', 1));
      // As ioredis does after a reconnect: the script ran, its answer never came, the command goes
      // again. The second run must answer as the first did, not as a lost race.
      const resent = resendFirstScript(conn);
      const outcome = await t.appendWithOutcome(input('c-resent', 2));
      expect(resent()).toBe(true);
      expect(outcome.duplicate).toBe(false);
      const records = await trail.list('c-resent');
      expect(records.map((r) => r.details.n)).toEqual([1, 2]);
      expect(records[1]!.auditId).toBe(outcome.record?.auditId);
      expect(await trail.verify('c-resent')).toMatchObject({ ok: true, checked: 2 });
    } finally {
      conn.disconnect();
    }
  });

  it('appends a record once when its append was sent again after another writer appended behind it', async () => {
    const conn = connect();
    try {
      const t = createAuditTrail({ redis: conn, keys, logger: silentLogger });
      await t.append(input('c-resent-behind', 1));
      const other = createAuditTrail({ redis, keys, logger: silentLogger });
      const resent = resendFirstScript(conn, () =>
        other.append(input('c-resent-behind', 3)).then(() => undefined),
      );
      const outcome = await t.appendWithOutcome(input('c-resent-behind', 2));
      expect(resent()).toBe(true);
      expect(outcome.duplicate).toBe(false);
      // Not rebuilt on the other writer's head and appended a second time.
      const records = await trail.list('c-resent-behind');
      expect(records.map((r) => r.details.n)).toEqual([1, 2, 3]);
      expect(records[1]!.auditId).toBe(outcome.record?.auditId);
      expect(await trail.verify('c-resent-behind')).toMatchObject({ ok: true, checked: 3 });
      // The next append of the resent writer builds on the real head.
      await t.append(input('c-resent-behind', 4));
      expect((await trail.list('c-resent-behind')).map((r) => r.details.n)).toEqual([1, 2, 3, 4]);
      expect(await trail.verify('c-resent-behind')).toMatchObject({ ok: true, checked: 4 });
    } finally {
      conn.disconnect();
    }
  });

  it('answers a resent append with a dedupe key as appended, not as a duplicate of itself', async () => {
    const conn = connect();
    try {
      const announced: string[] = [];
      const t = createAuditTrail({
        redis: conn,
        keys,
        logger: silentLogger,
        onAppended: async (record) => void announced.push(record.auditId),
      });
      const resent = resendFirstScript(conn);
      const outcome = await t.appendWithOutcome(input('c-resent-key', 1, { dedupeKey: 'history:h-1' }));
      expect(resent()).toBe(true);
      expect(outcome.duplicate).toBe(false);
      // Announced once (audit.record.appended), as any record appended.
      expect(announced).toEqual([outcome.record?.auditId]);
      expect((await trail.list('c-resent-key')).map((r) => r.details.n)).toEqual([1]);
    } finally {
      conn.disconnect();
    }
  });

  it('does not queue a writer for a stale guess of the head on a chain two processes write in turn', async () => {
    const a = connect();
    const b = connect();
    try {
      // After each lost race: whether it put the writer in the queue.
      const queuedAfterConflict: boolean[] = [];
      const watch = async (reply: unknown, args: unknown[]) => {
        if ((reply as string[])[0] !== 'conflict') return;
        const auditId = String(args.find((x) => typeof x === 'string' && x.startsWith('aud_')));
        queuedAfterConflict.push((await redis.zscore(queueKeys('c-turns')[0]!, auditId)) !== null);
      };
      const callsA = interceptScripts(a, watch);
      const callsB = interceptScripts(b, watch);
      const ta = createAuditTrail({ redis: a, keys, logger: silentLogger });
      const tb = createAuditTrail({ redis: b, keys, logger: silentLogger });
      // The API and a worker, say: each one's guess of the head is the other's last record's parent.
      for (let i = 0; i < 10; i++) {
        await ta.append(input('c-turns', 2 * i));
        await tb.append(input('c-turns', 2 * i + 1));
      }
      // A stale guess costs a second call, never the queue's writes.
      expect(callsA() + callsB()).toBeLessThanOrEqual(2 * 20);
      expect(queuedAfterConflict.length).toBeGreaterThan(0);
      expect(queuedAfterConflict.every((queued) => !queued)).toBe(true);
      expect(await redis.exists(...queueKeys('c-turns'))).toBe(0);
      expect(await trail.verify('c-turns')).toMatchObject({ ok: true, checked: 20 });
    } finally {
      a.disconnect();
      b.disconnect();
    }
  });

  it('drops a queued writer seen "in the future" (a clock stepped back) instead of waiting out the skew', async () => {
    const [queue, seen] = queueKeys('c-skew');
    const [s] = await redis.time();
    await redis.zadd(queue!, 1, 'aud_future');
    await redis.zadd(seen!, Number(s) * 1000 + 60_000, 'aud_future');
    const started = Date.now();
    await trail.append(input('c-skew', 1));
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(await redis.exists(queue!, seen!)).toBe(0);
  });

  it('is not held by a queued writer whose liveness entry is missing', async () => {
    // As if memory pressure had evicted one of the two keys and not the other.
    await redis.zadd(queueKeys('c-orphan')[0]!, 1, 'aud_orphan');
    const started = Date.now();
    await trail.append(input('c-orphan', 1));
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(await redis.exists(...queueKeys('c-orphan'))).toBe(0);
  });

  it('gives up after its time limit with an AuditAppendError, and leaves the queue', async () => {
    const held = heldWriter('c-timeout');
    const impatient = createAuditTrail({ redis, keys, logger: silentLogger, appendTimeoutMs: 300 });
    try {
      await trail.append(input('c-timeout', 1));
      const waiting = held.trail.append(input('c-timeout', 2));
      const heldId = await held.queuedAs;
      const failure = await impatient.append(input('c-timeout', 3)).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(failure).toBeInstanceOf(AuditAppendError);
      expect(failure).toMatchObject({ campaignId: 'c-timeout', attempt: 0 });
      expect((failure as AuditAppendError).elapsedMs).toBeGreaterThanOrEqual(300);
      expect((failure as AuditAppendError).message).toMatch(/c-timeout.*not appended within 300 ms/);
      // Out of the queue at once: only the held writer is left in it.
      expect(await redis.zrange(queueKeys('c-timeout')[0]!, '0', '-1')).toEqual([heldId]);
      held.release();
      await waiting;
    } finally {
      held.conn.disconnect();
    }
    expect((await trail.list('c-timeout')).map((r) => r.details.n)).toEqual([1, 0, 2]);
    expect(await redis.exists(...queueKeys('c-timeout'))).toBe(0);
  });
});

describe('audit retention', () => {
  it('trims nothing when retention is 0', async () => {
    const p = testPrefix();
    const k = createKeys(p);
    try {
      const t = createAuditTrail({ redis, keys: k, logger: silentLogger });
      await t.append(input('c-keep', 1));
      expect(await t.applyRetention()).toMatchObject({ applied: false, removedRecords: 0 });
      expect(await redis.xlen(k.auditStream())).toBe(1);
    } finally {
      await deletePrefix(redis, p);
    }
  });

  it('trims old records explicitly and the chain still verifies from its anchor', async () => {
    const p = testPrefix();
    const k = createKeys(p);
    const clock = new ManualClock(Date.now());
    try {
      const t = createAuditTrail({ redis, keys: k, logger: silentLogger, clock, retentionDays: 1 });
      // A campaign the orchestrator knows: its chain, cut whole, is kept at its anchor.
      await knownCampaign(redis, k, 'c-old');
      for (let i = 0; i < 3; i++) await t.append(input('c-old', i));
      clock.advance(2 * 86_400_000);
      const result = await t.applyRetention();
      expect(result).toMatchObject({ applied: true, removedRecords: 3, campaigns: 1 });
      await t.append(input('c-old', 3));
      const left = await t.list('c-old');
      expect(left.map((r) => r.details.n)).toEqual([3]);
      expect(left[0]!.prevHash).not.toBe('');
      expect(await t.verify('c-old')).toMatchObject({
        ok: true,
        checked: 1,
        // The cut is said, not silent: records before it were removed on purpose.
        retentionCuts: [{ campaignId: 'c-old', before: new Date(clock.now() - 86_400_000).toISOString() }],
      });
    } finally {
      await deletePrefix(redis, p);
    }
  });

  it('verifying one campaign whose records were all trimmed reports an intact chain at its anchor', async () => {
    const p = testPrefix();
    const k = createKeys(p);
    const clock = new ManualClock(Date.now());
    try {
      const t = createAuditTrail({ redis, keys: k, logger: silentLogger, clock, retentionDays: 1 });
      await knownCampaign(redis, k, 'c-gone');
      for (let i = 0; i < 3; i++) await t.append(input('c-gone', i));
      const head = await redis.get(k.auditChainHead('c-gone'));
      clock.advance(2 * 86_400_000);
      expect(await t.applyRetention()).toMatchObject({ removedRecords: 3 });
      const result = await t.verify('c-gone');
      const before = new Date(clock.now() - 86_400_000).toISOString();
      expect(result).toEqual({
        ok: true,
        checked: 0,
        campaigns: 1,
        broken: [],
        retentionCuts: [{ campaignId: 'c-gone', before, anchor: head }],
      });
      expect(describeVerification(result)).toBe(
        `ok: campaign c-gone: every record was trimmed by retention (records before ${before} removed); its chain's head is its retention anchor ${head}`,
      );
    } finally {
      await deletePrefix(redis, p);
    }
  });

  it('keeps a chain verifiable when an append lands while the trim reads where to cut it', async () => {
    const p = testPrefix();
    const k = createKeys(p);
    const clock = new ManualClock(Date.now());
    const conn = connect();
    try {
      const t = createAuditTrail({ redis: conn, keys: k, logger: silentLogger, clock, retentionDays: 1 });
      const other = createAuditTrail({ redis, keys: k, logger: silentLogger });
      for (let i = 0; i < 3; i++) await t.append(input('c-race', i));
      // The cut falls just after those records and before anything appended from here on (stream ids
      // are Redis's real time).
      await sleep(20);
      clock.set(Date.now() + 86_400_000 - 5);
      // Another process appends the moment the trim has read the chain's index (and nothing of it
      // survives the cut), before it writes the anchor.
      let landed = false;
      const landOnce = async () => {
        if (landed) return;
        landed = true;
        await other.append(input('c-race', 3));
      };
      const raw = conn as unknown as {
        xrange: (...a: unknown[]) => Promise<unknown>;
        multi: (...a: unknown[]) => { exec: () => Promise<unknown> };
      };
      const xrange = raw.xrange.bind(conn);
      raw.xrange = async (...a) => {
        const result = await xrange(...a);
        if (String(a[0]).includes('audit-idx')) await landOnce();
        return result;
      };
      const multi = raw.multi.bind(conn);
      raw.multi = (...a) => {
        const m = multi(...a);
        const exec = m.exec.bind(m);
        m.exec = async () => {
          const result = await exec();
          await landOnce();
          return result;
        };
        return m;
      };
      await t.applyRetention();
      expect(landed).toBe(true);
      expect((await t.list('c-race')).map((r) => r.details.n)).toEqual([3]);
      expect(await t.verify('c-race')).toMatchObject({ ok: true, checked: 1 });
    } finally {
      conn.disconnect();
      await deletePrefix(redis, p);
    }
  });

  it('refuses an anchor no trim wrote, and names the chains that start at a cut of unknown date', async () => {
    const p = testPrefix();
    const k = createKeys(p);
    try {
      const t = createAuditTrail({ redis, keys: k, logger: silentLogger });
      for (let i = 0; i < 3; i++) await t.append(input('c-cut', i));
      const records = await t.list('c-cut');
      const index = (await redis.xrange(k.auditCampaignIndex('c-cut'), '-', '+')) as [string, string[]][];
      // The first two records deleted, and the third's link written as the chain's accepted start.
      for (const [id] of index.slice(0, 2)) {
        await redis.xdel(k.auditCampaignIndex('c-cut'), id);
        await redis.xdel(k.auditStream(), id);
      }
      // A value no trim writes is refused.
      await redis.hset(k.custom('audit-anchor'), 'c-cut', JSON.stringify({ prevHash: records[2]!.prevHash }));
      expect((await t.verify('c-cut')).firstBroken).toMatchObject({
        campaignId: 'c-cut',
        index: 0,
        reason: 'unexplained_anchor',
      });
      // The bare hash an earlier release's trim wrote is a cut of unknown date: accepted, and said.
      await redis.hset(k.custom('audit-anchor'), 'c-cut', records[2]!.prevHash);
      const legacy = await t.verify('c-cut');
      expect(legacy).toMatchObject({ ok: true, retentionCuts: [{ campaignId: 'c-cut', before: null }] });
      expect(describeVerification(legacy)).toMatch(
        /1 chain\(s\) start at a retention cut \(1 cut by an earlier release, date unknown\)/,
      );
    } finally {
      await deletePrefix(redis, p);
    }
  });

  it('after a trim, re-appending a trimmed dedupe key is a duplicate: no error, nothing appended', async () => {
    const p = testPrefix();
    const k = createKeys(p);
    const clock = new ManualClock(Date.now());
    try {
      const t = createAuditTrail({ redis, keys: k, logger: silentLogger, clock, retentionDays: 1 });
      await knownCampaign(redis, k, 'c-reimport');
      await t.append(input('c-reimport', 0, { dedupeKey: 'hist-old' }));
      clock.advance(2 * 86_400_000);
      expect(await t.applyRetention()).toMatchObject({ applied: true, removedRecords: 1 });
      await t.append(input('c-reimport', 1, { dedupeKey: 'hist-new' }));

      const again = await t.appendWithOutcome(input('c-reimport', 0, { dedupeKey: 'hist-old' }));
      expect(again).toEqual({ record: null, duplicate: true });
      expect(
        (await t.appendWithOutcome(input('c-reimport', 0, { dedupeKey: 'hist-old' }))).record,
      ).toBeNull();
      const kept = await t.appendWithOutcome(input('c-reimport', 1, { dedupeKey: 'hist-new' }));
      expect(kept.duplicate).toBe(true);
      expect(kept.record?.details.n).toBe(1);

      const left = await t.list('c-reimport');
      expect(left.map((r) => r.dedupeKey)).toEqual(['hist-new']);
      expect(await t.verify('c-reimport')).toMatchObject({ ok: true, checked: 1 });
    } finally {
      await deletePrefix(redis, p);
    }
  });
});

describe('a retention trim that crashes midway', () => {
  it('leaves a trail that verifies after a crash at any step, says so, and the next trim finishes it', async () => {
    // Its writes, in order: the cut recorded; per campaign (2) the anchor, then the index trimmed;
    // the stream trimmed; the cut cleared. A crash is a write that fails: nothing after it runs.
    const STEPS = 7;
    for (let fail = 1; fail <= STEPS + 1; fail++) {
      const p = testPrefix();
      const k = createKeys(p);
      try {
        const plain = createAuditTrail({ redis, keys: k, logger: silentLogger });
        for (let i = 0; i < 2; i++) for (const c of ['x-a', 'x-b']) await plain.append(input(c, i));
        await sleep(5);
        // Stream ids are Redis's time (this machine's): the cut falls between the two halves.
        const boundary = Date.now();
        await sleep(5);
        for (let i = 2; i < 4; i++) for (const c of ['x-a', 'x-b']) await plain.append(input(c, i));
        const clock = new ManualClock(boundary + 86_400_000);
        let writes = 0;
        const crashing = new Proxy(redis, {
          get(target, prop) {
            const value = Reflect.get(target, prop, target) as unknown;
            if (typeof value !== 'function') return value;
            const call = value as (...a: unknown[]) => unknown;
            if (['set', 'hset', 'xtrim', 'del'].includes(String(prop))) {
              return (...a: unknown[]) =>
                ++writes === fail
                  ? Promise.reject(new Error(`crash at step ${fail}`))
                  : call.apply(target, a);
            }
            return call.bind(target);
          },
        });
        const t = createAuditTrail({
          redis: crashing,
          keys: k,
          logger: silentLogger,
          clock,
          retentionDays: 1,
        });
        const crashed = await t.applyRetention().then(
          () => false,
          () => true,
        );
        expect(crashed, `step ${fail}`).toBe(fail <= STEPS);

        const all = await plain.verify();
        expect(all, `crash at step ${fail}`).toMatchObject({ ok: true, broken: [], campaigns: 2 });
        for (const c of ['x-a', 'x-b']) expect((await plain.verify(c)).ok, `${c}, step ${fail}`).toBe(true);
        if (fail > 1 && fail <= STEPS) {
          // Said: a trim is unfinished, and how many records it has still to remove.
          expect(all.unfinishedTrim, `step ${fail}`).toEqual({
            before: new Date(boundary).toISOString(),
            // Anchored chains' records older than the cut, still stored (none once the stream is trimmed).
            pendingRecords: [0, 2, 2, 4, 4, 0][fail - 2],
          });
          expect(describeVerification(all)).toMatch(/a retention trim .* has not finished/);
        } else expect(all.unfinishedTrim, `step ${fail}`).toBeUndefined();

        // The next trim (a run later, the same retention) finishes it and says so.
        const next = createAuditTrail({ redis, keys: k, logger: silentLogger, clock, retentionDays: 1 });
        const finished = await next.applyRetention();
        expect(finished.resumed, `step ${fail}`).toBe(
          fail > 1 && fail <= STEPS ? `${boundary}-0` : undefined,
        );
        const after = await plain.verify();
        expect(after, `step ${fail}`).toMatchObject({ ok: true, checked: 4, campaigns: 2 });
        expect(after.unfinishedTrim).toBeUndefined();
        expect(after.retentionCuts).toHaveLength(2);
        expect(await redis.xlen(k.auditStream())).toBe(4);
        for (const c of ['x-a', 'x-b']) {
          expect((await plain.list(c)).map((r) => r.details.n)).toEqual([2, 3]);
          expect(await redis.xlen(k.auditCampaignIndex(c))).toBe(2);
        }
      } finally {
        await deletePrefix(redis, p);
      }
    }
  });

  it('a trim that crashed is finished by the next one even when retention was lengthened meanwhile', async () => {
    const p = testPrefix();
    const k = createKeys(p);
    try {
      const plain = createAuditTrail({ redis, keys: k, logger: silentLogger });
      for (let i = 0; i < 2; i++) await plain.append(input('y-a', i));
      await sleep(5);
      const boundary = Date.now();
      await sleep(5);
      for (let i = 2; i < 4; i++) await plain.append(input('y-a', i));
      const clock = new ManualClock(boundary + 86_400_000);
      // Crashed after the index was trimmed, before the stream was.
      const crashing = new Proxy(redis, {
        get(target, prop) {
          const value = Reflect.get(target, prop, target) as (...a: unknown[]) => unknown;
          if (prop === 'xtrim') {
            return (key: string, ...a: unknown[]) =>
              key === k.auditStream() ? Promise.reject(new Error('crash')) : value.call(target, key, ...a);
          }
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
      const t = createAuditTrail({ redis: crashing, keys: k, logger: silentLogger, clock, retentionDays: 1 });
      await expect(t.applyRetention()).rejects.toThrow('crash');
      // Retention lengthened to 30 days: its cut alone would keep the half-trimmed records.
      const longer = createAuditTrail({ redis, keys: k, logger: silentLogger, clock, retentionDays: 30 });
      expect(await longer.applyRetention()).toMatchObject({
        resumed: `${boundary}-0`,
        minId: `${boundary}-0`,
      });
      expect(await plain.verify()).toMatchObject({ ok: true, checked: 2 });
      expect(await redis.xlen(k.auditStream())).toBe(2);
    } finally {
      await deletePrefix(redis, p);
    }
  });
});

describe('two retention trims at once', () => {
  /** Records of `campaigns` in two halves, with the cut (a day of retention) between them. */
  async function twoHalves(k: Keys, campaigns: string[]): Promise<number> {
    const plain = createAuditTrail({ redis, keys: k, logger: silentLogger });
    for (let i = 0; i < 2; i++) for (const c of campaigns) await plain.append(input(c, i));
    await sleep(5);
    const boundary = Date.now();
    await sleep(5);
    for (let i = 2; i < 4; i++) for (const c of campaigns) await plain.append(input(c, i));
    return boundary;
  }

  /** `conn`, its first write of `method` held until `gate` settles, then done (or failed) as `gate` says. */
  /**
   * `conn` with its first `method` call held: `reached` resolves when that call is made, and it goes
   * on (or fails, as a crash at that step) once `release` says which.
   */
  function gated(
    conn: Redis,
    method: string,
  ): { redis: Redis; reached: Promise<void>; release: (how: 'write' | 'crash') => void } {
    let release!: (how: 'write' | 'crash') => void;
    const gate = new Promise<'write' | 'crash'>((resolve) => (release = resolve));
    let reached!: () => void;
    const atCall = new Promise<void>((resolve) => (reached = resolve));
    let first = true;
    const redis = new Proxy(conn, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target) as unknown;
        if (typeof value !== 'function') return value;
        const call = value as (...a: unknown[]) => unknown;
        if (prop === method) {
          return async (...a: unknown[]) => {
            if (first) {
              first = false;
              reached();
              if ((await gate) === 'crash') throw new Error('crash');
            }
            return call.apply(target, a);
          };
        }
        return call.bind(target);
      },
    });
    return { redis, reached: atCall, release };
  }

  /**
   * A retention trim a day past `campaigns`' first halves, with a 600 ms lock lease (renewed every
   * 200 ms: a shorter one was lost on a loaded machine's stalls), held at its first anchor write (its
   * cut already recorded) until `held.release` says whether that write goes on.
   */
  async function heldTrim(k: Keys, conn: Redis, campaigns: string[]) {
    const boundary = await twoHalves(k, campaigns);
    const clock = new ManualClock(boundary + 86_400_000);
    const held = gated(conn, 'hset');
    const trail = createAuditTrail({
      redis: held.redis,
      keys: k,
      logger: silentLogger,
      clock,
      retentionDays: 1,
      trimLockLeaseMs: 600,
    });
    const running = trail.applyRetention();
    running.catch(() => undefined);
    await held.reached;
    return { boundary, clock, held, trail, running };
  }

  it('refuses the second trim while the first works, naming the lock and its holder; a crash of the first stays on record', async () => {
    const p = testPrefix();
    const k = createKeys(p);
    const conn = connect();
    try {
      // A short lease: the first trim is held past it, so only its renewals keep the lock.
      const { boundary, clock, held, running } = await heldTrim(k, conn, ['t-a', 't-b']);
      await sleep(1_500);

      const second = createAuditTrail({ redis, keys: k, logger: silentLogger, clock, retentionDays: 1 });
      const refused = await second.applyRetention().then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(refused).toBeInstanceOf(AuditTrimLockedError);
      const locked = refused as AuditTrimLockedError;
      expect(locked.lockKey).toBe(k.custom('audit-trim-lock'));
      expect(locked.holder).toMatchObject({ host: hostname(), pid: process.pid });
      expect(locked.message).toContain(
        `lock ${k.custom('audit-trim-lock')} held by ${hostname()} pid ${process.pid}`,
      );
      // Said by verify too: the trim is unfinished because it is running.
      const during = await second.verify();
      expect(during).toMatchObject({ ok: true, unfinishedTrim: { runningBy: { pid: process.pid } } });
      expect(describeVerification(during)).toMatch(/it is running now .* finishes on its own/);

      // The first trim crashes while anchoring: its cut is still on record, the trail verifies and says so.
      held.release('crash');
      await expect(running).rejects.toThrow('crash');
      const after = await second.verify();
      expect(after).toMatchObject({ ok: true, unfinishedTrim: { before: new Date(boundary).toISOString() } });
      expect(after.unfinishedTrim?.runningBy).toBeUndefined();
      expect(describeVerification(after)).toMatch(/run npm run audit -- trim to finish it/);
      // The next trim finishes it.
      expect(await second.applyRetention()).toMatchObject({ resumed: `${boundary}-0`, removedRecords: 4 });
      const done = await second.verify();
      expect(done).toMatchObject({ ok: true, checked: 4, campaigns: 2 });
      expect(done.unfinishedTrim).toBeUndefined();
      expect(await redis.exists(k.custom('audit-trim-lock'), k.custom('audit-trim'))).toBe(0);
    } finally {
      conn.disconnect();
      await deletePrefix(redis, p);
    }
  });

  it('two trims started together: one trims, the other is refused and changes nothing', async () => {
    const p = testPrefix();
    const k = createKeys(p);
    const conns = [connect(), connect()];
    try {
      const boundary = await twoHalves(k, ['u-a', 'u-b', 'u-c']);
      const clock = new ManualClock(boundary + 86_400_000);
      const trims = conns.map((c) =>
        createAuditTrail({ redis: c, keys: k, logger: silentLogger, clock, retentionDays: 1 }),
      );
      const results = await Promise.allSettled(trims.map((t) => t.applyRetention()));
      const done = results.filter((r) => r.status === 'fulfilled');
      const refused = results.filter((r) => r.status === 'rejected');
      expect(done).toHaveLength(1);
      expect(refused).toHaveLength(1);
      expect((refused[0] as PromiseRejectedResult).reason).toBeInstanceOf(AuditTrimLockedError);
      expect((done[0] as PromiseFulfilledResult<unknown>).value).toMatchObject({ removedRecords: 6 });
      const all = await trims[0]!.verify();
      expect(all).toMatchObject({ ok: true, checked: 6, campaigns: 3 });
      expect(all.unfinishedTrim).toBeUndefined();
      expect(await redis.exists(k.custom('audit-trim-lock'), k.custom('audit-trim'))).toBe(0);
    } finally {
      for (const c of conns) c.disconnect();
      await deletePrefix(redis, p);
    }
  });

  it('a trim whose process dies holds the lock until its lease runs out; then the next trim finishes its cut', async () => {
    const p = testPrefix();
    const k = createKeys(p);
    const conn = connect();
    try {
      const boundary = await twoHalves(k, ['d-a', 'd-b']);
      const clock = new ManualClock(boundary + 86_400_000);
      // The process "dies" as it anchors the first chain: its connection is gone, so its lock is
      // neither renewed nor released.
      const dying = new Proxy(conn, {
        get(target, prop) {
          const value = Reflect.get(target, prop, target) as unknown;
          if (typeof value !== 'function') return value;
          const call = value as (...a: unknown[]) => unknown;
          if (prop === 'hset') {
            return (...a: unknown[]) => {
              target.disconnect();
              return call.apply(target, a);
            };
          }
          return call.bind(target);
        },
      });
      // Long enough for the refusal and the verify below to come before it runs out on a loaded machine.
      const lease = 1_500;
      const dead = createAuditTrail({
        redis: dying,
        keys: k,
        logger: silentLogger,
        clock,
        retentionDays: 1,
        trimLockLeaseMs: lease,
      });
      await expect(dead.applyRetention()).rejects.toThrow();
      const next = createAuditTrail({ redis, keys: k, logger: silentLogger, clock, retentionDays: 1 });
      const refused = await next.applyRetention().catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(AuditTrimLockedError);
      expect((refused as AuditTrimLockedError).expiresInMs).toBeGreaterThan(0);
      // Meanwhile the trail verifies, naming the unfinished trim (its holder's lease still runs).
      expect(await next.verify()).toMatchObject({
        ok: true,
        unfinishedTrim: { runningBy: { pid: process.pid } },
      });
      await vi.waitFor(async () => expect(await redis.exists(k.custom('audit-trim-lock'))).toBe(0), {
        timeout: lease + 5_000,
        interval: 50,
      });
      expect(await next.applyRetention()).toMatchObject({ resumed: `${boundary}-0`, removedRecords: 4 });
      const done = await next.verify();
      expect(done).toMatchObject({ ok: true, checked: 4, campaigns: 2 });
      expect(done.unfinishedTrim).toBeUndefined();
    } finally {
      conn.disconnect();
      await deletePrefix(redis, p);
    }
  });

  it('a trim that lost its lock to another stops before its next write and leaves the other its lock', async () => {
    const p = testPrefix();
    const k = createKeys(p);
    const conn = connect();
    try {
      const { trail: t, held, running } = await heldTrim(k, conn, ['l-a']);
      // Its lease ran out (a pause) and another trim took the lock.
      const other = JSON.stringify({
        host: 'other-host',
        pid: 1,
        since: new Date().toISOString(),
        token: 'x',
      });
      await redis.set(k.custom('audit-trim-lock'), other, 'PX', 60_000);
      // Past the lease: a renewal has found the lock taken, or none was confirmed for 80 % of it.
      await sleep(800);
      held.release('write');
      await expect(running).rejects.toThrow(AuditTrimLockLostError);
      expect(await redis.get(k.custom('audit-trim-lock'))).toBe(other);
      // Nothing trimmed: the anchor written before it noticed, the index and stream untouched.
      expect(await redis.xlen(k.auditCampaignIndex('l-a'))).toBe(4);
      expect(await redis.xlen(k.auditStream())).toBe(4);
      expect((await t.verify()).unfinishedTrim).toMatchObject({ runningBy: { host: 'other-host' } });
    } finally {
      conn.disconnect();
      await deletePrefix(redis, p);
    }
  });
});

describe('verifying every campaign vouches for every record the export outputs', () => {
  it('fails on a record in the stream no chain reaches, or of a campaign missing from the list', async () => {
    const own = testPrefix();
    const ownKeys = createKeys(own);
    const all = createAuditTrail({ redis, keys: ownKeys, logger: silentLogger });
    try {
      for (let i = 0; i < 3; i++) {
        await all.append(input('v-a', i));
        await all.append(input('v-b', i));
      }
      expect(await all.verify()).toMatchObject({ ok: true, checked: 6, campaigns: 2 });

      // A record added to the stream alone: exported, but in no chain.
      const extra = await redis.xadd(ownKeys.auditStream(), '*', 'c', 'v-a', 'r', '{"hash":"deadbeef"}');
      const withExtra = await all.verify();
      expect(withExtra.ok).toBe(false);
      expect(withExtra.firstBroken).toMatchObject({
        campaignId: 'v-a',
        reason: 'unchained_record',
        streamId: extra,
      });
      await redis.xdel(ownKeys.auditStream(), extra!);
      expect((await all.verify()).ok).toBe(true);

      // A campaign dropped from the list of chains: its records are still exported.
      await redis.srem(ownKeys.custom('audit-campaigns'), 'v-b');
      const hidden = await all.verify();
      expect(hidden.ok).toBe(false);
      expect(hidden.broken).toHaveLength(3);
      expect(hidden.broken.every((b) => b.campaignId === 'v-b' && b.reason === 'unchained_record')).toBe(
        true,
      );
      // Verifying one campaign still checks only its chain.
      expect((await all.verify('v-a')).ok).toBe(true);
    } finally {
      await deletePrefix(redis, own);
    }
  });

  it('does not take records appended while it runs for breaks or unchained ones', async () => {
    const own = testPrefix();
    const ownKeys = createKeys(own);
    const live = createAuditTrail({ redis, keys: ownKeys, logger: silentLogger });
    try {
      for (let i = 0; i < 100; i++) await live.append(input(`w-${i % 10}`, i));
      // Verification of everything while the fleet appends, to known campaigns and to new ones.
      const writer = (async () => {
        for (let i = 0; i < 400; i++) await live.append(input(i % 2 ? `w-${i % 10}` : `new-${i}`, i));
      })();
      const results = [];
      for (let run = 0; run < 3; run++) results.push(await live.verify());
      await writer;
      results.push(await live.verify());
      expect(results.map((r) => r.broken)).toEqual([[], [], [], []]);
      expect(results[3]?.checked).toBe(500);
    } finally {
      await deletePrefix(redis, own);
    }
  });
});
