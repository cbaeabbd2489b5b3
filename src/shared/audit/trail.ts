import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { z } from 'zod';
import { systemClock, type Clock } from '../clock.js';
import type { AppContext } from '../context.js';
import type { Keys } from '../keys.js';
import type { Logger } from '../logger.js';
import { auditWrites } from '../metrics.js';
import { canonicalJson } from '../canonical-json.js';
import { evalScript } from '../redis-script.js';
import { isWrongType } from '../redis.js';
import { releaseIfHolder, renewIfHolder } from '../held-key.js';
import { streamField } from '../stream-entry.js';
import { purgeFinishedCampaigns, purgeOrphanChains, type AuditChainKeys } from '../campaign-retention.js';
import { hashRecord, sealRecord, type SealedRecord } from './canonical.js';
import {
  AUDIT_APPEND_LUA,
  RESEND_LOOKBACK,
  type AuditScriptOutcome,
  type PreparedAudit,
} from './audit-script.js';
import type { AuditInput, AuditRecord, AuditTrail } from './types.js';
import type {
  auditGapSchema,
  auditPageFieldsSchema,
  auditTrimLockHolderSchema,
  chainBreakSchema,
  verifyResultSchema,
} from '../responses/audit.js';

/**
 * The audit trail: one Redis Stream for every campaign (`keys.auditStream()`), a per-campaign index
 * stream whose entry ids are the ids of that campaign's records in the main stream, and a
 * per-campaign chain head holding the hash of the campaign's latest record.
 *
 * Appends are an optimistic compare-and-set: Node builds the record on the head it expects, hashes it
 * (Redis Lua has no SHA-256), and a Lua script appends only if the head is still the one the hash
 * was built on; otherwise it returns the new head and Node rebuilds. That keeps the chain linear
 * across any number of processes without a lock that a crashed worker could leave behind, and
 * without WATCH, which is per-connection state and breaks on the shared connection every module uses.
 * Writers that lost a race queue up per chain and are served in the order they joined (see
 * APPEND_SCRIPT), so none starves.
 */

export const AUDIT_PAGE_MAX = 500;
export const AUDIT_PAGE_DEFAULT = 50;
/**
 * Races a writer may lose when it is its turn before it gives up. Waiting its turn in the queue does
 * not count: only a reply that the chain moved on while the writer was at the front (or nobody was
 * queued) does, which happens about once per turn.
 */
const CAS_MAX_ATTEMPTS = 200;
/** How long one append may take, waiting in the queue included, before it gives up (a wedged chain). */
const APPEND_TIMEOUT_MS = 30_000;
/** The longest pause between two polls of a queued writer. */
const QUEUE_POLL_MAX_MS = 5;

/**
 * Between two polls of a writer `rank` places behind the front: the next in line only yields to the
 * event loop, since the chain waits for it as soon as the front's record is in; writers further back
 * poll less often, so a long queue does not load Redis with polls that cannot succeed.
 */
async function pollPause(rank: number): Promise<void> {
  if (rank <= 1) await new Promise<void>((resolve) => setImmediate(resolve));
  else await sleep(Math.min(rank - 1, QUEUE_POLL_MAX_MS));
}
/** Chain heads remembered per process (campaigns this process appended to recently). */
const KNOWN_HEADS_MAX = 10_000;
const SCAN_BATCH = 500;
/** How often one campaign's walk reads on after records appended meanwhile before its head counts as broken. */
const HEAD_CHASES = 5;
/**
 * Walks of one chain a verification makes when retention trims cut it meanwhile, before it reports
 * the break it finds (a trim a walk: one more than trims that could run back to back).
 */
const TRIM_REWALKS = 3;
/** Unchained records named in one verification's result (the first ones; one is enough to fail). */
const UNCHAINED_REPORT_MAX = 100;

/** Whether a parsed value holds an own "__proto__" member at any depth (JSON.parse creates one). */
function hasOwnProtoKey(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.some(hasOwnProtoKey);
  if (Object.prototype.hasOwnProperty.call(value, '__proto__')) return true;
  return Object.values(value).some(hasOwnProtoKey);
}
const STREAM_ID_PART_MAX = 18_446_744_073_709_551_615n;
const LAST_STREAM_ID = `${STREAM_ID_PART_MAX}-${STREAM_ID_PART_MAX}`;

/**
 * Pure: a regular expression source matching the decimal numbers of at most `max`'s digits (leading
 * zeros allowed, as Redis reads them) whose value is at most `max`: every shorter number, and those of
 * its length that stay at or below it digit by digit. Written out so that the pattern the OpenAPI
 * document publishes refuses what the route refuses, rather than `\d+` promising any length.
 */
export function decimalAtMostPattern(max: string): string {
  const alternatives = max.length > 1 ? [`\\d{1,${max.length - 1}}`] : [];
  for (let i = 0; i < max.length; i++) {
    const digit = Number(max[i]);
    if (digit === 0) continue;
    const below = digit === 1 ? '0' : `[0-${digit - 1}]`;
    const rest = max.length - 1 - i;
    alternatives.push(`${max.slice(0, i)}${below}${rest > 0 ? `\\d{${rest}}` : ''}`);
  }
  alternatives.push(max);
  return `(?:${alternatives.join('|')})`;
}

const STREAM_ID_PART = decimalAtMostPattern(STREAM_ID_PART_MAX.toString());
/**
 * A page cursor: the stream id of the last record of the previous page, both parts unsigned 64-bit
 * numbers as Redis takes them. A larger one (a mangled or made-up cursor) would otherwise reach Redis,
 * whose refusal is no invalid cursor but a server error. The OpenAPI document publishes this pattern.
 */
export const AUDIT_CURSOR = new RegExp(`^${STREAM_ID_PART}-${STREAM_ID_PART}$`);

/** Whether `cursor` is a stream id Redis takes (AUDIT_CURSOR). */
export function isAuditCursor(cursor: string): boolean {
  return AUDIT_CURSOR.test(cursor);
}

/** Whether stream id `a` comes before `b` (both `ms-seq`). */
function streamIdBefore(a: string, b: string): boolean {
  const [am = 0n, as = 0n] = a.split('-').map(BigInt);
  const [bm = 0n, bs = 0n] = b.split('-').map(BigInt);
  return am < bm || (am === bm && as < bs);
}

// The verification's and the page's shapes are their response schemas' (src/shared/responses/audit.ts),
// so what the routes answer cannot drift from what is documented.
export type ChainBreak = z.output<typeof chainBreakSchema>;
export type ChainBreakReason = ChainBreak['reason'];
export type VerifyResult = z.output<typeof verifyResultSchema>;

/**
 * Where a retention trim cut a chain: the prevHash its first surviving record links to, and the
 * stream id records older than were removed (null: a cut of an earlier release, which stored the bare
 * hash and not when it cut). Stored as JSON; a value in any other form was not written by a trim.
 */
interface RetentionAnchor {
  prevHash: string;
  cutBefore: string | null;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

function parseAnchor(raw: string): RetentionAnchor | null {
  // An earlier release's anchor: the bare hash, or '' for a chain it found nothing to cut from.
  if (raw === '' || SHA256_HEX.test(raw)) return { prevHash: raw, cutBefore: null };
  try {
    const value = JSON.parse(raw) as Partial<RetentionAnchor> | null;
    return typeof value?.prevHash === 'string' &&
      typeof value.cutBefore === 'string' &&
      AUDIT_CURSOR.test(value.cutBefore)
      ? { prevHash: value.prevHash, cutBefore: value.cutBefore }
      : null;
  } catch {
    return null;
  }
}

/** A record the campaign's index names that a page could not return. */
export type AuditGap = z.output<typeof auditGapSchema>;

export type AuditPage = z.output<typeof auditPageFieldsSchema>;

export interface AppendOutcome {
  /**
   * The appended record, or for a duplicate the earlier one; null when the earlier record has since
   * been trimmed by retention. An appended record is parsed from its stored text when first read.
   */
  record: AuditRecord | null;
  /** True when `dedupeKey` was already recorded: nothing was appended. */
  duplicate: boolean;
}

export interface RetentionResult {
  applied: boolean;
  retentionDays: number;
  minId?: string;
  /** The cut of an earlier trim that had not finished (crashed midway), which this one finished. */
  resumed?: string;
  removedRecords: number;
  campaigns: number;
  /**
   * Finished campaigns (completed or cancelled, last written before the retention) whose chain has
   * no record left inside it: their record and campaigns-index entry removed (campaign-retention.ts).
   */
  removedCampaigns: number;
  /** Compliance keys (state and log) removed with those campaigns. */
  removedComplianceKeys: number;
  /**
   * Audit chains removed whole, every record of them trimmed (head, index, dedupe entries, anchor,
   * entry in `audit-campaigns`): those of the campaigns removed, those of launches
   * (`launch:<launchId>`) whose launch record has expired, and those of which no campaign record
   * exists (campaign-retention.ts purgeOrphanChains), no writer queued on any.
   */
  removedChains: number;
}

/**
 * What a trim has done so far, kept up to date while it works: a trim that stops midway (its lock
 * lost, Redis gone) throws, and its caller still learns from this what it removed before then.
 */
export interface RetentionProgress {
  /** Its cut, once recorded. */
  minId?: string;
  /** True once the trail's cut is done (chains anchored, indexes and stream trimmed, cut cleared). */
  trailTrimmed: boolean;
  removedRecords: number;
  removedCampaigns: number;
  removedComplianceKeys: number;
  removedChains: number;
}

export interface RetentionOptions {
  /** Filled in as the trim goes (see RetentionProgress). */
  progress?: RetentionProgress;
}

export interface AuditTrailStore extends AuditTrail {
  appendWithOutcome(input: AuditInput): Promise<AppendOutcome>;
  page(campaignId: string, cursor?: string | null, limit?: number): Promise<AuditPage>;
  /** The whole chain, oldest first; AuditGapsError when records of it cannot be returned (see page()). */
  list(campaignId: string): Promise<AuditRecord[]>;
  verify(campaignId?: string): Promise<VerifyResult>;
  /**
   * One record per line (newline included), in append order, each exactly as stored: all campaigns
   * (the main stream) or one (its index). A record the campaign's index names but the stream no
   * longer has cannot be written: `onMissing` hears of each, and the export goes on without it.
   */
  exportJsonl(campaignId?: string, opts?: ExportOptions): AsyncIterable<string>;
  campaignIds(): Promise<string[]>;
  /**
   * Trims records older than the retention period; does nothing when retention is 0. Always logged.
   * One at a time across processes: throws AuditTrimLockedError, changing nothing, while another
   * trim holds the trim lock. A trim that fails midway throws; `opts.progress` then says what it did.
   */
  applyRetention(opts?: RetentionOptions): Promise<RetentionResult>;
}

export interface ExportOptions {
  /** Called for each record a campaign's index names that the main stream no longer has. */
  onMissing?: (missing: { streamId: string; auditId: string | null }) => void;
}

export type AuditTrimLockHolder = z.output<typeof auditTrimLockHolderSchema>;

function describeHolder(holder: AuditTrimLockHolder | null): string {
  return holder ? `held by ${holder.host} pid ${holder.pid} since ${holder.since}` : 'held (holder unknown)';
}

/**
 * Another retention trim holds the lock: this one did nothing. Two trims at once would share the one
 * cut key (`{cxo}:audit-trim`): the first to finish would clear it while the other still works, and a
 * crash of the other would then leave no record of its unfinished trim.
 */
export class AuditTrimLockedError extends Error {
  constructor(
    readonly lockKey: string,
    readonly holder: AuditTrimLockHolder | null,
    /** Milliseconds the holder's lease still runs unless it renews it (it does every third of it while it works). */
    readonly expiresInMs: number,
  ) {
    super(
      `another audit retention trim is running: lock ${lockKey} ${describeHolder(holder)} ` +
        `(its lease is renewed while it works; a crashed holder's runs out within ${Math.max(Math.ceil(expiresInMs / 1000), 0)} s); ` +
        'this trim changed nothing',
    );
    this.name = 'AuditTrimLockedError';
  }
}

/**
 * The trim could no longer prove it held its lock (a renewal refused, or none confirmed for most of
 * the lease: Redis unreachable, the process paused): it stopped before its next write. Its cut stays
 * recorded, so verify reports the trim unfinished and the next trim finishes it.
 */
export class AuditTrimLockLostError extends Error {
  constructor(
    readonly lockKey: string,
    why: string,
  ) {
    super(
      `audit retention trim stopped: it no longer holds its lock ${lockKey} (${why}); run the trim again to finish it`,
    );
    this.name = 'AuditTrimLockLostError';
  }
}

/** list() met records of the chain it cannot return: the list would not be the whole chain. */
export class AuditGapsError extends Error {
  constructor(
    readonly campaignId: string,
    readonly gaps: AuditGap[],
    /** Records it could read. */
    readonly readable: number,
  ) {
    const [first] = gaps;
    super(
      `audit trail of campaign ${campaignId} incomplete: ${gaps.length} record(s) could not be read ` +
        `(first: ${first?.auditId ?? 'a record'} at stream id ${first?.streamId}, ${first?.reason}); ` +
        `${readable} record(s) readable; run npm run audit -- verify ${campaignId}`,
    );
    this.name = 'AuditGapsError';
  }
}

export class InvalidCursorError extends Error {
  constructor(readonly cursor: string) {
    super(`invalid audit cursor ${JSON.stringify(cursor)}: pass back a nextCursor from a previous page`);
    this.name = 'InvalidCursorError';
  }
}

export class AuditAppendError extends Error {
  constructor(
    message: string,
    readonly campaignId: string,
    /** Races lost when it was this writer's turn (waiting in the queue is not counted). */
    readonly attempt: number,
    /** Milliseconds the append ran for, queueing included. */
    readonly elapsedMs = 0,
  ) {
    super(message);
    this.name = 'AuditAppendError';
  }
}

/**
 * How long a queued writer stays in the queue without calling again before it counts as gone
 * (crashed, or gave up without leaving): a crashed writer at the front holds the chain this long.
 * It is also how long the queue's keys outlive the last call that touched them.
 */
const QUEUE_LIVENESS_MS = 2_000;
/** How often a queued writer's polls refresh its liveness (and the queue keys' expiry). */
const QUEUE_REFRESH_MS = 500;

// KEYS: head, stream, index, dedupe, campaigns, queue (ZSET auditId -> ticket, the join order),
//       seen (ZSET auditId -> Redis time in ms of that writer's last call)
// ARGV: expectedPrevHash, newHash, recordJson, campaignId, dedupeKey ('' = none), auditId,
//       '1' while this writer has lost no race yet
// Replies: {'ok', streamId[, head when others appended after it]} | {'dup', streamId} | {'conflict', head}: the chain moved on, rebuild
//          and call again at once | {'wait', head, rank}: writers ahead in the queue, call again soon
//
// Fairness: a writer appending in a loop gets each success's reply first and so sends its next record
// first; on the head it has just written, that record would win every race. So a writer that loses
// joins the chain's queue, and while anyone is queued only the front may append: everyone else,
// including a writer coming back with its next record, joins at the back and waits its turn. Since
// nobody else can move the head meanwhile, the front loses at most once per turn (to the record
// before it). Tickets count up from the last one queued, so the order does not depend on clocks;
// liveness uses Redis's own clock, one clock for every process. Nobody queued (the usual case):
// one EXISTS on top of the compare-and-set, no clock, no queue writes. A writer's first lost race
// with nobody queued does not queue it either: that is a stale guess of the head (a chain two
// processes write in turn), not contention, and queueing for it would cost every such append the
// queue's writes. It queues when it loses again.
//
// This record (its auditId) among the chain's latest means the script already ran for it and only
// the reply was lost: ioredis sends a command again after a reconnect, by which time other writers may
// have appended behind it. It answers 'ok' with the record's id instead of a conflict that would make
// Node append the record a second time. Looked for only when the head is not the one this append
// builds on (a race lost, or this), among the last ${RESEND_LOOKBACK} records: a reconnect takes
// moments, and a chain written faster than that has its writers queued, one record per turn.
const APPEND_SCRIPT = `${AUDIT_APPEND_LUA}
local me = ARGV[6]
local head = redis.call('GET', KEYS[1]) or ''
-- Before the dedupe check: a resent record with a dedupe key is this writer's own, not a duplicate.
if head ~= ARGV[1] and head ~= '' then
  for _, entry in ipairs(redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', ${RESEND_LOOKBACK})) do
    if entry[2][2] == me then
      if redis.call('ZREM', KEYS[6], me) == 1 then redis.call('ZREM', KEYS[7], me) end
      return {'ok', entry[1], head}
    end
  end
end
if ARGV[5] ~= '' then
  local existing = redis.call('HGET', KEYS[4], ARGV[5])
  if existing then
    if redis.call('ZREM', KEYS[6], me) == 1 then redis.call('ZREM', KEYS[7], me) end
    return {'dup', existing}
  end
end
local queued = false
local now
local function clock()
  if not now then
    local t = redis.call('TIME')
    now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return now
end
local function stay()
  if queued then
    -- Seen lately: its liveness and the keys' expiry (refreshed with it) still hold; a poll that
    -- wrote them every few ms would load Redis in proportion to the queue's length.
    local seen = tonumber(redis.call('ZSCORE', KEYS[7], me))
    if seen and clock() - seen < ${QUEUE_REFRESH_MS} and seen <= clock() then return end
  else
    local last = redis.call('ZRANGE', KEYS[6], -1, -1, 'WITHSCORES')
    redis.call('ZADD', KEYS[6], (tonumber(last[2]) or 0) + 1, me)
  end
  redis.call('ZADD', KEYS[7], clock(), me)
  redis.call('PEXPIRE', KEYS[6], ${QUEUE_LIVENESS_MS})
  redis.call('PEXPIRE', KEYS[7], ${QUEUE_LIVENESS_MS})
end
local anyQueued = redis.call('EXISTS', KEYS[6]) == 1
if anyQueued then
  local cutoff = clock() - ${QUEUE_LIVENESS_MS}
  -- Gone: silent for longer than the liveness, or seen "in the future" (Redis's clock stepped back,
  -- a failover to a replica whose clock is behind), which would otherwise hold the chain for the skew.
  local gone = redis.call('ZRANGEBYSCORE', KEYS[7], '-inf', cutoff)
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[7], '(' .. (clock() + ${QUEUE_LIVENESS_MS}), '+inf')) do
    table.insert(gone, m)
  end
  if #gone > 0 then
    for _, m in ipairs(gone) do
      redis.call('ZREM', KEYS[6], m)
      redis.call('ZREM', KEYS[7], m)
    end
  end
  queued = redis.call('ZSCORE', KEYS[6], me) ~= false
  local front = redis.call('ZRANGE', KEYS[6], 0, 0)[1]
  -- A front with no liveness entry (one key evicted without the other) would hold the chain forever.
  while front and front ~= me and not redis.call('ZSCORE', KEYS[7], front) do
    redis.call('ZREM', KEYS[6], front)
    front = redis.call('ZRANGE', KEYS[6], 0, 0)[1]
  end
  if front and front ~= me then
    stay()
    return {'wait', head, redis.call('ZRANK', KEYS[6], me)}
  end
end
if head ~= ARGV[1] then
  if anyQueued or ARGV[7] ~= '1' then stay() end
  return {'conflict', head}
end
-- Redis does not roll a script back: an index or set of the wrong type met after the record's XADD
-- would leave it in the stream unchained, reported by every verify and exported. (The head is only
-- SET; the dedupe hash, when used, was read above.)
require_types(KEYS[2], 'stream', KEYS[3], 'stream', KEYS[5], 'set')
local id = audit_record_write(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], ARGV[2], ARGV[3], ARGV[4], ARGV[5], me)
if queued then
  redis.call('ZREM', KEYS[6], me)
  redis.call('ZREM', KEYS[7], me)
end
return {'ok', id}
`;

export interface AuditTrailOptions {
  redis: Redis;
  keys: Keys;
  logger: Logger;
  clock?: Clock;
  /** Records older than this many days may be trimmed by `applyRetention`; 0 keeps everything. */
  retentionDays?: number;
  /**
   * Called once for each record this store appends (never for a duplicate), with the record as
   * stored, before the append resolves. The record is in by then: a hook that fails is logged and
   * the append still succeeds. Unset (the default), appending does nothing more.
   */
  onAppended?: ((record: AuditRecord) => Promise<void>) | undefined;
  /**
   * How long one append may take, waiting its turn included, before it fails with AuditAppendError
   * (default 30 s). Bounds a worker's wait on a chain that does not move; not the Redis command timeout.
   */
  appendTimeoutMs?: number;
  /**
   * The retention trim's lock lease (default 60 s): renewed every third of it while the trim works,
   * so it only runs out for a trim that crashed (or cannot reach Redis), which holds the lock that long.
   */
  trimLockLeaseMs?: number;
}

/** Default lease of the retention trim's lock. */
export const TRIM_LOCK_LEASE_MS = 60_000;

// KEYS: lock. ARGV: holder (JSON, unique per trim), lease ms.
// Replies: {1} taken | {0, current holder ('' when it just expired), its remaining lease in ms}.
const TRIM_LOCK_ACQUIRE = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {1} end
return {0, redis.call('GET', KEYS[1]) or '', redis.call('PTTL', KEYS[1])}
`;

function parseHolder(raw: string | null): AuditTrimLockHolder | null {
  if (!raw) return null;
  try {
    const v = JSON.parse(raw) as Partial<AuditTrimLockHolder>;
    return typeof v.host === 'string' && typeof v.pid === 'number' && typeof v.since === 'string'
      ? { host: v.host, pid: v.pid, since: v.since }
      : null;
  } catch {
    return null;
  }
}

type StreamEntry = [id: string, fields: string[]];

function parseRecord(json: string): AuditRecord | undefined {
  try {
    const value: unknown = JSON.parse(json);
    if (value === null || typeof value !== 'object' || typeof (value as AuditRecord).hash !== 'string') {
      return undefined;
    }
    return value as AuditRecord;
  } catch {
    return undefined;
  }
}

function newProgress(): RetentionProgress {
  return {
    trailTrimmed: false,
    removedRecords: 0,
    removedCampaigns: 0,
    removedComplianceKeys: 0,
    removedChains: 0,
  };
}

export function createAuditTrail(opts: AuditTrailOptions): AuditTrailStore {
  const { redis, keys } = opts;
  const clock = opts.clock ?? systemClock;
  const retentionDays = opts.retentionDays ?? 0;
  const onAppended = opts.onAppended;
  const logger = opts.logger.child({ component: 'audit' });
  const campaignsKey = keys.custom('audit-campaigns');
  const anchorsKey = keys.custom('audit-anchor');
  /** The cut (minId) of a retention trim under way: set before its first write, deleted after its last. */
  const trimKey = keys.custom('audit-trim');
  /**
   * Held by the one retention trim running (across processes): the cut key above is one key, so two
   * trims at once would clear each other's record of an unfinished trim.
   */
  const trimLockKey = keys.custom('audit-trim-lock');
  const trimLockLeaseMs = opts.trimLockLeaseMs ?? TRIM_LOCK_LEASE_MS;
  const dedupeKey = (campaignId: string) => keys.custom('audit-dedupe', campaignId);
  const appendTimeoutMs = opts.appendTimeoutMs ?? APPEND_TIMEOUT_MS;
  const queueKey = (campaignId: string) => keys.custom('audit-queue', campaignId);
  const queueSeenKey = (campaignId: string) => keys.custom('audit-queue-seen', campaignId);
  /** A chain's keys, in the order APPEND_SCRIPT and AUDIT_APPEND_LUA take them (audit-script.ts). */
  const chainKeys = (campaignId: string) => [
    keys.auditChainHead(campaignId),
    keys.auditStream(),
    keys.auditCampaignIndex(campaignId),
    dedupeKey(campaignId),
    campaignsKey,
    queueKey(campaignId),
  ];
  /** Takes a writer that gives up out of the queue at once rather than after the liveness timeout. */
  async function leaveQueue(campaignId: string, auditId: string): Promise<void> {
    try {
      await redis.multi().zrem(queueKey(campaignId), auditId).zrem(queueSeenKey(campaignId), auditId).exec();
    } catch (err) {
      logger.debug({ err, campaignId, auditId }, 'audit append gave up; its queue place expires on its own');
    }
  }
  /**
   * The head this process last saw for a campaign: the first attempt is built on it (or on the empty
   * head of a new chain) instead of reading the head first. Only a guess — the append script still
   * compares it with the real head and answers a conflict with that head — so a stale entry (another
   * process appended meanwhile) costs the round trip the read would have cost, and a fresh one saves it.
   */
  const knownHeads = new Map<string, string>();
  const rememberHead = (campaignId: string, head: string) => {
    knownHeads.delete(campaignId);
    if (knownHeads.size >= KNOWN_HEADS_MAX) {
      const oldest = knownHeads.keys().next();
      if (!oldest.done) knownHeads.delete(oldest.value);
    }
    knownHeads.set(campaignId, head);
  };

  /** The stored JSON of each id (null when the stream no longer has it). */
  async function fetchRaw(ids: string[]): Promise<(string | null)[]> {
    if (ids.length === 0) return [];
    const pipeline = redis.pipeline();
    for (const id of ids) pipeline.xrange(keys.auditStream(), id, id);
    const results = (await pipeline.exec()) ?? [];
    return results.map(([err, value]) => {
      if (err) throw err;
      const entry = (value as StreamEntry[])[0];
      return (entry ? streamField(entry[1], 'r') : undefined) ?? null;
    });
  }

  async function fetchRecords(ids: string[]): Promise<(AuditRecord | null)[]> {
    return (await fetchRaw(ids)).map((json) => (json === null ? null : (parseRecord(json) ?? null)));
  }

  /**
   * Whether a record the campaign's index named, and the stream no longer has, was removed by a
   * retention trim since the index was read: it is older than the cut the trim anchored the chain at
   * (written before the trim removes anything). Out of retention, not missing: a page or an export
   * read while a trim cuts the chain would otherwise report it as a gap, and the export as incomplete.
   */
  async function trimmedByRetention(campaignId: string, streamId: string): Promise<boolean> {
    const raw = await redis.hget(anchorsKey, campaignId);
    const anchor = raw === null ? null : parseAnchor(raw);
    return !!anchor?.prevHash && anchor.cutBefore !== null && streamIdBefore(streamId, anchor.cutBefore);
  }

  /**
   * A record in two halves (see sealRecord): the members that sort before `hash`, the same on every
   * attempt, and those after it, built per attempt on the head it links to. A new member goes into
   * the half on its side.
   */
  function recordBuilder(input: AuditInput, auditId: string): (prevHash: string) => SealedRecord {
    const beforeHash = canonicalJson({
      action: input.action,
      actor: input.actor,
      auditId,
      campaignId: input.campaignId,
      cxoneVersion: input.cxoneVersion,
      dedupeKey: input.dedupeKey,
      details: input.details ?? {},
    });
    return (prevHash) => {
      // Taken per attempt so that a record rebuilt after losing a race is not older than its predecessor.
      const timestamp = new Date(clock.now()).toISOString();
      return sealRecord(
        beforeHash,
        canonicalJson({
          metrics: input.metrics ?? null,
          occurredAt: input.occurredAt ?? timestamp,
          prevHash,
          timestamp,
        }),
      );
    };
  }

  /** What follows a record's append, by this store or by a host script (prepareAppend). */
  async function appended(
    input: AuditInput,
    auditId: string,
    streamId: string,
    stored: string,
    head: string,
  ): Promise<AppendOutcome> {
    rememberHead(input.campaignId, head);
    auditWrites.inc({ action: input.action });
    logger.debug(
      { campaignId: input.campaignId, action: input.action, auditId, streamId },
      'audit record appended',
    );
    // Parsed only if asked for (every writer in the product ignores it) or for the hook.
    let record: AuditRecord | undefined;
    if (onAppended) {
      record = JSON.parse(stored) as AuditRecord;
      try {
        await onAppended(record);
      } catch (err) {
        logger.error(
          { err, campaignId: input.campaignId, action: input.action, auditId },
          'audit record appended, but its after-append hook failed',
        );
      }
    }
    return {
      get record() {
        return (record ??= JSON.parse(stored) as AuditRecord);
      },
      duplicate: false,
    };
  }

  /** The earlier record of a duplicate dedupe key (null when retention has trimmed it since). */
  async function duplicateOf(input: AuditInput, streamId: string): Promise<AppendOutcome> {
    const [existing] = await fetchRecords([streamId]);
    if (!existing) {
      // Retention trimmed the record, not its dedupe entry: it was recorded, so it stays recorded
      // once (appending it again would bring trimmed history back on every re-import).
      logger.debug(
        { campaignId: input.campaignId, dedupeKey: input.dedupeKey, streamId },
        'audit record already recorded and since trimmed by retention; not appended again',
      );
    }
    return { record: existing ?? null, duplicate: true };
  }

  /**
   * A record for a host script to append with the change it records (audit-script.ts), built on the
   * head this process knows for the chain (a new chain's empty head otherwise). No I/O until settled.
   */
  function prepareAppend(input: AuditInput): PreparedAudit {
    const { campaignId } = input;
    if (!campaignId) throw new AuditAppendError('audit records need a campaignId', '', 0);
    const auditId = `aud_${randomUUID()}`;
    const prevHash = knownHeads.get(campaignId) ?? '';
    const sealed = recordBuilder(input, auditId)(prevHash);
    return {
      keys: chainKeys(campaignId),
      args: [prevHash, sealed.hash, sealed.json, campaignId, input.dedupeKey ?? '', auditId],
      async settle([outcome, streamId, head]: AuditScriptOutcome): Promise<boolean> {
        try {
          if (outcome === 'ok' && streamId) {
            // A script sent again found the record behind others' answers with the head they left.
            await appended(input, auditId, streamId, sealed.json, head ?? sealed.hash);
            return true;
          }
          if (outcome === 'dup') return false;
          // Not written with the host's change (writers queued on the chain, another head, a broken
          // key): appended on its own now, through the queue, as any other record.
          return !(await appendWithOutcome(input)).duplicate;
        } catch (err) {
          logger.error({ err, campaignId, action: input.action }, 'audit write failed');
          return true;
        }
      },
    };
  }

  async function appendWithOutcome(input: AuditInput): Promise<AppendOutcome> {
    const { campaignId } = input;
    if (!campaignId) throw new AuditAppendError('audit records need a campaignId', '', 0);
    const auditId = `aud_${randomUUID()}`;
    let prevHash = knownHeads.get(campaignId) ?? '';
    const build = recordBuilder(input, auditId);
    const started = performance.now();
    // Races lost when it was this writer's turn; waiting behind others in the queue is not one.
    let lost = 0;
    let queued = false;
    const giveUp = async (why: string): Promise<never> => {
      const elapsedMs = Math.round(performance.now() - started);
      if (queued) await leaveQueue(campaignId, auditId);
      throw new AuditAppendError(
        `could not append to the audit chain of campaign ${campaignId}: ${why} (${lost} races lost at its turn, ${elapsedMs} ms)`,
        campaignId,
        lost,
        elapsedMs,
      );
    };
    for (;;) {
      const sealed = build(prevHash);
      let reply: [outcome: string, value: string, third?: number | string];
      try {
        reply = (await evalScript(
          redis,
          APPEND_SCRIPT,
          7,
          ...chainKeys(campaignId),
          queueSeenKey(campaignId),
          prevHash,
          sealed.hash,
          sealed.json,
          campaignId,
          input.dedupeKey ?? '',
          auditId,
          lost === 0 ? '1' : '0',
        )) as typeof reply;
      } catch (err) {
        // Out of the queue now rather than holding the chain until the liveness timeout; not awaited,
        // since Redis failing may be why this append failed.
        if (queued) void leaveQueue(campaignId, auditId);
        throw err;
      }
      const [outcome, value, third] = reply;
      if (outcome === 'ok') {
        // A resent append found behind others' records answers with the head they left.
        return appended(input, auditId, value, sealed.json, typeof third === 'string' ? third : sealed.hash);
      }
      if (outcome === 'dup') return duplicateOf(input, value);
      // 'conflict' or 'wait': either way this writer is now queued, and rebuilds on the head seen.
      queued = true;
      prevHash = value;
      if (outcome === 'conflict' && ++lost >= CAS_MAX_ATTEMPTS) await giveUp('heavy contention');
      if (performance.now() - started >= appendTimeoutMs) {
        await giveUp(`not appended within ${appendTimeoutMs} ms`);
      }
      // Writers further back poll less often: only the next in line needs to notice the turn at once.
      if (outcome === 'wait') await pollPause(typeof third === 'number' ? third : 1);
    }
  }

  async function page(
    campaignId: string,
    cursor?: string | null,
    limit = AUDIT_PAGE_DEFAULT,
  ): Promise<AuditPage> {
    if (cursor && !isAuditCursor(cursor)) throw new InvalidCursorError(cursor);
    // Nothing comes after the largest stream id (and Redis refuses an exclusive range from it).
    if (cursor === LAST_STREAM_ID) return { records: [], nextCursor: null };
    const count = Number.isFinite(limit)
      ? Math.min(Math.max(Math.trunc(limit), 1), AUDIT_PAGE_MAX)
      : AUDIT_PAGE_DEFAULT;
    // Stream ids only grow, so an exclusive range from the last id seen never repeats or skips a
    // record, whatever is appended meanwhile.
    const entries = (await redis.xrange(
      keys.auditCampaignIndex(campaignId),
      cursor ? `(${cursor}` : '-',
      '+',
      'COUNT',
      count + 1,
    )) as StreamEntry[];
    const pageEntries = entries.slice(0, count);
    const raws = await fetchRaw(pageEntries.map(([id]) => id));
    const records: AuditRecord[] = [];
    const gaps: AuditGap[] = [];
    for (const [i, [streamId, fields]] of pageEntries.entries()) {
      const raw = raws[i] ?? null;
      const record = raw === null ? undefined : parseRecord(raw);
      if (record) {
        records.push(record);
        continue;
      }
      // Cut by a retention trim since the index was read: out of retention, not a gap.
      if (raw === null && (await trimmedByRetention(campaignId, streamId))) continue;
      // Told to the client, not only logged: a page (and an export built from pages) must not pass
      // for the whole trail when it is not.
      const auditId = streamField(fields, 'a');
      const gap: AuditGap = {
        streamId,
        reason: raw === null ? 'missing' : 'unparseable',
        ...(auditId ? { auditId } : {}),
      };
      gaps.push(gap);
      logger.warn(
        { campaignId, streamId, auditId },
        gap.reason === 'missing'
          ? 'audit index points at a record the stream no longer has; left out of the page as a gap; run `npm run audit -- verify`'
          : 'audit record is not parseable; left out of the page as a gap; run `npm run audit -- verify`',
      );
    }
    const last = pageEntries[pageEntries.length - 1];
    return {
      records,
      nextCursor: entries.length > count && last ? last[0] : null,
      ...(gaps.length > 0 ? { gaps } : {}),
    };
  }

  /**
   * Every record of one campaign's chain, oldest first, read a page at a time; throws AuditGapsError
   * when the chain has records the pages could not return. Its callers (in-process tools, and tests
   * of every area: compliance reports compared before and after, pacing decisions counted) take the
   * array as the campaign's whole chain, and one record short would read as "never recorded". A
   * caller that can work around gaps pages with page(), which returns them; the HTTP API, cxo audit
   * and the demo do. Returning the gaps alongside would change the type every caller reads.
   */
  async function list(campaignId: string): Promise<AuditRecord[]> {
    const all: AuditRecord[] = [];
    const gaps: AuditGap[] = [];
    let cursor: string | null = null;
    do {
      const p: AuditPage = await page(campaignId, cursor, AUDIT_PAGE_MAX);
      all.push(...p.records);
      gaps.push(...(p.gaps ?? []));
      cursor = p.nextCursor;
    } while (cursor);
    if (gaps.length > 0) throw new AuditGapsError(campaignId, gaps, all.length);
    return all;
  }

  type ChainWalk = { checked: number; broken?: ChainBreak; cut?: { before: string | null; anchor: string } };

  /**
   * One chain's verification (walkUntilSettled): a chain key of the wrong type is that chain's break
   * (`damaged_key`), not the whole verification's failure.
   */
  async function verifyCampaign(
    campaignId: string,
    seen?: Set<string>,
    pending?: Set<string>,
  ): Promise<ChainWalk> {
    try {
      return await walkUntilSettled(campaignId, seen, pending);
    } catch (err) {
      // Redis answers WRONGTYPE to every read of a key that holds another type than the trail writes
      // there (replaced by hand). One of this chain's own is a break of this chain, like any other
      // damage: failing the whole verification on it named no campaign, verified no other chain and
      // alerted nobody. The anchors or the main stream damaged is the whole trail's: thrown.
      const damaged = isWrongType(err) ? await damagedChainKey(campaignId) : null;
      if (!damaged) throw err;
      return {
        checked: 0,
        broken: { campaignId, auditId: null, index: 0, reason: 'damaged_key', ...damaged },
      };
    }
  }

  /** The first of a chain's own keys that holds another type than the trail writes there, if any. */
  async function damagedChainKey(campaignId: string): Promise<{ expected: string; actual: string } | null> {
    const wanted = [
      ['head', keys.auditChainHead(campaignId), 'string'],
      ['index', keys.auditCampaignIndex(campaignId), 'stream'],
    ] as const;
    const types = (await redis.pipeline(wanted.map(([, key]) => ['type', key])).exec()) ?? [];
    for (const [i, [role, , type]] of wanted.entries()) {
      const [err, found] = types[i] ?? [];
      if (err) throw err;
      if (found !== 'none' && found !== type)
        return { expected: `${role}: ${type}`, actual: `${role}: ${String(found)}` };
    }
    return null;
  }

  /**
   * One chain walked until no trim moves its anchor under the walk. A break found while a retention
   * trim cut the chain (its anchor is no longer the one the walk started from) may be the trim's
   * doing, not the chain's: a walk that read the old anchor and then the cut index finds the first
   * kept record linking to the new anchor (`missing_previous`), one that read index entries whose
   * records the trim then removed from the stream finds them gone (`missing_record`). The chain is
   * walked again from its new anchor, and only a break that stands on a walk no trim moved the anchor
   * under is reported.
   */
  async function walkUntilSettled(
    campaignId: string,
    seen?: Set<string>,
    pending?: Set<string>,
  ): Promise<ChainWalk> {
    for (let walks = 1; ; walks++) {
      const walked: string[] = [];
      const { rawAnchor, ...result } = await walkChain(campaignId, walked, seen, pending);
      if (
        !result.broken &&
        result.checked === 0 &&
        rawAnchor === null &&
        (await listedButEmpty(campaignId))
      ) {
        return {
          checked: 0,
          broken: { campaignId, auditId: null, index: 0, reason: 'missing_chain' },
        };
      }
      if (!result.broken || walks >= TRIM_REWALKS) return result;
      if ((await redis.hget(anchorsKey, campaignId)) === rawAnchor) return result;
      for (const streamId of walked) {
        seen?.delete(streamId);
        pending?.delete(streamId);
      }
    }
  }

  async function walkChain(
    campaignId: string,
    /** Filled with the stream ids this walk put in `seen` and `pending`. */
    walked: string[],
    seen?: Set<string>,
    pending?: Set<string>,
  ): Promise<ChainWalk & { rawAnchor: string | null }> {
    const rawAnchor = await redis.hget(anchorsKey, campaignId);
    const anchor = rawAnchor === null ? null : parseAnchor(rawAnchor);
    if (rawAnchor !== null && anchor === null) {
      // An accepted start no trim wrote: records deleted from the chain's start would verify from it.
      return {
        rawAnchor,
        checked: 0,
        broken: { campaignId, auditId: null, index: 0, reason: 'unexplained_anchor', actual: rawAnchor },
      };
    }
    let expectedPrev = anchor?.prevHash ?? '';
    const cut =
      anchor && anchor.prevHash !== '' ? { cut: { before: anchor.cutBefore, anchor: anchor.prevHash } } : {};
    // A trim writes a chain's anchor before it removes anything, and removes the index's entries
    // before the stream's: until it has finished, records older than its cut may still be there.
    // They are out of retention, so they are passed over (counted in `pending`) up to the first
    // record the anchor names as the chain's start: the first that links to it, or the first at or
    // after the cut (a record appended after the trim by a clock behind the trimmer's may be before it).
    let pendingBefore = anchor?.prevHash && anchor.cutBefore ? anchor.cutBefore : null;
    let index = 0;
    let lastAuditId: string | null = null;
    let start = '-';
    /** The last index entry the walk read (null: none yet). */
    let lastRead: string | null = null;
    /** Where the walk reads to ('+': the index's end) and, once bounded, the head it must end on. */
    let end = '+';
    let endHead: string | null = null;
    // Records appended while the chain is walked move the head on. Each append writes its record, its
    // index entry and the head at once, so the head and the index's last entry read together are a
    // pair: the walk reads on up to that entry and must end on that head. Writers that never pause
    // (a history import, several processes' pacing) moved the head on again after every read of it,
    // and a walk that only chased the head called the healthy chain broken (head_mismatch).
    for (let chases = 0; ; chases++) {
      for await (const { streamId, fields, raw } of indexedRaw(campaignId, start, end)) {
        start = `(${streamId}`;
        lastRead = streamId;
        const record = raw === null ? undefined : parseRecord(raw);
        if (pendingBefore !== null) {
          if (streamIdBefore(streamId, pendingBefore) && record?.prevHash !== expectedPrev) {
            pending?.add(streamId);
            walked.push(streamId);
            continue;
          }
          pendingBefore = null;
        }
        const at = (reason: ChainBreakReason, extra: Partial<ChainBreak> = {}) => ({
          rawAnchor,
          checked: index,
          broken: {
            campaignId,
            auditId: record?.auditId ?? streamField(fields, 'a') ?? null,
            index,
            reason,
            streamId,
            ...extra,
          },
        });
        if (raw === null) return at('missing_record');
        if (record === undefined) return at('unparseable');
        if (record.campaignId !== campaignId) return at('wrong_campaign', { actual: record.campaignId });
        // The product never writes a "__proto__" member, and canonical JSON leaves one out of the hash
        // (a rebuilt object cannot hold it): content under it would pass the hash check unseen.
        if (hasOwnProtoKey(record)) return at('forbidden_key', { actual: '__proto__' });
        const recomputed = hashRecord(record);
        if (recomputed !== record.hash)
          return at('hash_mismatch', { expected: recomputed, actual: record.hash });
        // Records are stored as their canonical JSON. Text that parses to the hashed content without
        // being it carries what the hash never saw: a duplicate member (the parser keeps the last,
        // another reader the first), a number that overflows to what canonical JSON writes as null.
        if (raw !== canonicalJson(record)) return at('not_canonical');
        if (record.prevHash !== expectedPrev) {
          return at('missing_previous', { expected: expectedPrev, actual: record.prevHash });
        }
        expectedPrev = record.hash;
        lastAuditId = record.auditId;
        seen?.add(streamId);
        walked.push(streamId);
        index++;
      }
      // Walked up to the entry of the head read with it: the chain ends on that head or is broken.
      if (endHead !== null && endHead === expectedPrev) break;
      end = '+';
      endHead = null;
      // A record deleted from the end leaves no later link to betray it; the head still names it.
      if (((await redis.get(keys.auditChainHead(campaignId))) ?? '') === expectedPrev) break;
      const pair = await redis
        .multi()
        .get(keys.auditChainHead(campaignId))
        .xrevrange(keys.auditCampaignIndex(campaignId), '+', '-', 'COUNT', 1)
        .exec();
      for (const [err] of pair ?? []) if (err) throw err;
      const head = (pair?.[0]?.[1] as string | null) ?? '';
      if (head === expectedPrev) break;
      const [lastEntry] = (pair?.[1]?.[1] ?? []) as StreamEntry[];
      if (
        chases < HEAD_CHASES &&
        lastEntry &&
        (lastRead === null || streamIdBefore(lastRead, lastEntry[0]))
      ) {
        // Appended to since the walk read on: read on up to the entry of the head read with it.
        end = lastEntry[0];
        endHead = head;
        continue;
      }
      if (chases < HEAD_CHASES) continue;
      // Removed whole by a retention purge while it was read (campaign-retention.ts): its head gone
      // since, and its index, anchor and set entry, every record trimmed first — whether this walk
      // read only the anchor or the records too (a trim that cut them after the walk read them). No
      // chain any more, not a break. What the walk passed over is vouched for no more: a record of it
      // still in the stream (a chain deleted by hand around its records, not trimmed) is then
      // unchained to the verification of every chain.
      if (head === '' && (await chainRemoved(campaignId))) {
        for (const streamId of walked) {
          seen?.delete(streamId);
          pending?.delete(streamId);
        }
        return { rawAnchor, checked: 0 };
      }
      return {
        rawAnchor,
        checked: index,
        broken: {
          campaignId,
          auditId: lastAuditId,
          index: Math.max(index - 1, 0),
          reason: 'head_mismatch',
          expected: head,
          actual: expectedPrev,
        },
      };
    }
    return { rawAnchor, checked: index, ...cut };
  }

  /**
   * What is left of a chain, read in one step (a purge, one script, is seen whole or not at all): its
   * head, index entries and anchor, and whether it is listed among the audited campaigns. Null when
   * the read was aborted.
   */
  async function chainRemnants(
    campaignId: string,
  ): Promise<{ head: boolean; indexed: boolean; anchored: boolean; listed: boolean } | null> {
    const replies = await redis
      .multi()
      .exists(keys.auditChainHead(campaignId))
      .xlen(keys.auditCampaignIndex(campaignId))
      .hexists(anchorsKey, campaignId)
      .sismember(campaignsKey, campaignId)
      .exec();
    if (!replies) return null;
    const [head, indexed, anchored, listed] = replies.map(([err, value]) => {
      if (err) throw err;
      return value !== 0;
    });
    return { head: head!, indexed: indexed!, anchored: anchored!, listed: listed! };
  }

  /**
   * Whether a chain is still listed among the audited campaigns with nothing else of it left: no
   * head, no index entry, no anchor. Its first append listed it with its first record, in one script,
   * and only a purge (one script too) unlists it, taking the rest with it; so this is a chain whose
   * records, index and head were deleted by hand — which a walk that finds nothing would otherwise
   * vouch for as whole. A purge running meanwhile reads as removed, not as this.
   */
  async function listedButEmpty(campaignId: string): Promise<boolean> {
    const left = await chainRemnants(campaignId);
    return left !== null && left.listed && !left.head && !left.indexed && !left.anchored;
  }

  /**
   * Whether nothing is left of a chain: no head, no index entry, no anchor, not in the set of audited
   * campaigns. A chain whose index still names records was not removed by a purge (which removes only
   * emptied chains), whatever else of it is gone.
   */
  async function chainRemoved(campaignId: string): Promise<boolean> {
    const left = await chainRemnants(campaignId);
    return left !== null && !left.listed && !left.head && !left.indexed && !left.anchored;
  }

  async function campaignIds(): Promise<string[]> {
    return (await redis.smembers(campaignsKey)).sort();
  }

  /**
   * A chain's index entries after `start` ('-': from its first) up to `end` ('+': its last), oldest
   * first, each with its record's stored text: null when the main stream no longer holds it. Read a
   * batch at a time.
   */
  async function* indexedRaw(
    campaignId: string,
    start = '-',
    end = '+',
  ): AsyncIterable<{ streamId: string; fields: string[]; raw: string | null }> {
    for (;;) {
      const entries = (await redis.xrange(
        keys.auditCampaignIndex(campaignId),
        start,
        end,
        'COUNT',
        SCAN_BATCH,
      )) as StreamEntry[];
      if (entries.length === 0) return;
      const raws = await fetchRaw(entries.map(([id]) => id));
      for (let i = 0; i < entries.length; i++) {
        const [streamId, fields] = entries[i]!;
        yield { streamId, fields, raw: raws[i] ?? null };
      }
      start = `(${entries[entries.length - 1]![0]}`;
    }
  }

  /** The main stream's entries, oldest first, a batch at a time, up to the entry `upTo` ('+': the end). */
  async function* streamEntries(upTo = '+'): AsyncIterable<StreamEntry> {
    let start = '-';
    for (;;) {
      const entries = (await redis.xrange(
        keys.auditStream(),
        start,
        upTo,
        'COUNT',
        SCAN_BATCH,
      )) as StreamEntry[];
      if (entries.length === 0) return;
      yield* entries;
      start = `(${entries[entries.length - 1]![0]}`;
    }
  }

  /**
   * Records in the main stream (what the export of every campaign reads) that no verified chain
   * reached: added to the stream without an index entry, or of a campaign missing from the set of
   * chains. Without this check, verifying "everything" would vouch for less than an export outputs.
   */
  async function unchainedRecords(
    seen: ReadonlySet<string>,
    upTo: string,
    pending: Set<string>,
  ): Promise<ChainBreak[]> {
    const found: ChainBreak[] = [];
    // `audit trim` anchors each chain, removes the indexes' entries, then the stream's: until it has
    // finished (or after it crashed), the stream may hold records older than their chain's cut that
    // no index names any more. They are out of retention, not unchained: the trim removes them.
    const cuts = new Map<string, string>();
    for (const [campaignId, raw] of Object.entries(await redis.hgetall(anchorsKey))) {
      const anchor = parseAnchor(raw);
      if (anchor?.prevHash && anchor.cutBefore) cuts.set(campaignId, anchor.cutBefore);
    }
    for await (const [streamId, fields] of streamEntries(upTo)) {
      if (seen.has(streamId)) continue;
      const campaignId = streamField(fields, 'c') ?? '';
      const cutBefore = cuts.get(campaignId);
      if (cutBefore !== undefined && streamIdBefore(streamId, cutBefore)) {
        pending.add(streamId);
        continue;
      }
      found.push({
        campaignId,
        auditId: streamField(fields, 'a') ?? null,
        index: -1,
        reason: 'unchained_record',
        streamId,
      });
      if (found.length >= UNCHAINED_REPORT_MAX) break;
    }
    return found;
  }

  /** The id of the stream's last record, or null for an empty stream. */
  async function streamEnd(): Promise<string | null> {
    const [last] = (await redis.xrevrange(keys.auditStream(), '+', '-', 'COUNT', 1)) as StreamEntry[];
    return last ? last[0] : null;
  }

  async function verify(campaignId?: string): Promise<VerifyResult> {
    // The stream's end before the chains are read: records appended while this runs (each with its
    // index entry and its campaign, atomically) are past it, so they are not taken for unchained.
    const upTo = campaignId ? undefined : await streamEnd();
    const ids = campaignId ? [campaignId] : await campaignIds();
    let checked = 0;
    const broken: ChainBreak[] = [];
    const retentionCuts: NonNullable<VerifyResult['retentionCuts']> = [];
    const seen = campaignId ? undefined : new Set<string>();
    const pending = new Set<string>();
    for (const id of ids) {
      const result = await verifyCampaign(id, seen, pending);
      checked += result.checked;
      if (result.broken) broken.push(result.broken);
      else if (result.cut !== undefined) {
        const { before, anchor } = result.cut;
        retentionCuts.push({
          campaignId: id,
          before: before === null ? null : new Date(Number(before.split('-')[0])).toISOString(),
          anchor,
        });
      }
    }
    // Only when every chain verified whole: a broken chain stops early and leaves its later records unseen.
    if (seen && upTo && broken.length === 0) {
      broken.push(...(await unchainedRecords(seen, upTo, pending)));
    }
    if (broken.length > 0) logger.error({ broken }, 'audit chain verification failed');
    // Said, not silent: the trim's cut, and how many records it has still to remove.
    // And whether that trim is running now (it holds the lock) or crashed (nobody does).
    const [trimCut = null, lockRaw = null] = await redis.mget(trimKey, trimLockKey);
    const runningBy = parseHolder(lockRaw);
    const unfinishedTrim =
      trimCut !== null && AUDIT_CURSOR.test(trimCut)
        ? {
            before: new Date(Number(trimCut.split('-')[0])).toISOString(),
            pendingRecords: pending.size,
            ...(runningBy ? { runningBy } : {}),
          }
        : undefined;
    return {
      ok: broken.length === 0,
      checked,
      campaigns: ids.length,
      ...(broken[0] ? { firstBroken: broken[0] } : {}),
      broken,
      ...(retentionCuts.length > 0 ? { retentionCuts } : {}),
      ...(unfinishedTrim ? { unfinishedTrim } : {}),
    };
  }

  async function* exportJsonl(campaignId?: string, opts: ExportOptions = {}): AsyncIterable<string> {
    if (campaignId) {
      // The stored text, not the record parsed and written again: that would drop content forged
      // under "__proto__", normalise text that is not canonical, and leave out a damaged record —
      // an export that verifies clean offline while `verify` fails on the trail it came from.
      for await (const { streamId, fields, raw } of indexedRaw(campaignId)) {
        if (raw !== null) {
          yield `${raw}\n`;
          continue;
        }
        // Cut by a retention trim since the index was read: out of retention, not missing.
        if (await trimmedByRetention(campaignId, streamId)) continue;
        const auditId = streamField(fields, 'a') ?? null;
        logger.warn(
          { campaignId, streamId, auditId },
          'audit index points at a missing record; not exported',
        );
        opts.onMissing?.({ streamId, auditId });
      }
      return;
    }
    for await (const [, fields] of streamEntries()) {
      const json = streamField(fields, 'r');
      if (json !== undefined) yield `${json}\n`;
    }
  }

  /**
   * Takes the retention trim's lock, or throws AuditTrimLockedError naming who holds it. The lease
   * renews itself every third of its length until released; `check()` throws AuditTrimLockLostError
   * once this trim can no longer prove it holds the lock: a renewal refused (the lease ran out and
   * another trim took it), or none confirmed for 80 % of the lease (Redis unreachable, the process
   * paused). The trim calls it before each of its writes, so a trim that lost the lock stops before
   * its next one rather than write alongside another.
   */
  async function takeTrimLock(): Promise<{ check: () => void; release: () => Promise<void> }> {
    const holder = JSON.stringify({
      host: hostname(),
      pid: process.pid,
      since: new Date().toISOString(),
      token: randomUUID(),
    });
    // The lease runs from when Redis took the command, no earlier than it was sent.
    let confirmedAt = performance.now();
    const [taken, current, pttl] = (await evalScript(
      redis,
      TRIM_LOCK_ACQUIRE,
      1,
      trimLockKey,
      holder,
      trimLockLeaseMs,
    )) as [number, string?, number?];
    if (taken !== 1) {
      throw new AuditTrimLockedError(trimLockKey, parseHolder(current ?? null), Number(pttl ?? 0));
    }
    let lost: string | undefined;
    let renewing = false;
    const timer = setInterval(
      () => {
        if (renewing || lost !== undefined) return;
        renewing = true;
        const sentAt = performance.now();
        renewIfHolder(redis, trimLockKey, holder, trimLockLeaseMs)
          .then(
            (renewed) => {
              if (renewed) confirmedAt = sentAt;
              else lost = 'its lease ran out, and the lock is gone or another trim took it';
            },
            (err: unknown) =>
              logger.warn({ err, lockKey: trimLockKey }, 'audit retention: could not renew the trim lock'),
          )
          .finally(() => {
            renewing = false;
          });
      },
      Math.max(Math.floor(trimLockLeaseMs / 3), 1),
    );
    timer.unref();
    return {
      check() {
        if (lost !== undefined) throw new AuditTrimLockLostError(trimLockKey, lost);
        const age = performance.now() - confirmedAt;
        if (age >= trimLockLeaseMs * 0.8) {
          throw new AuditTrimLockLostError(
            trimLockKey,
            `no renewal of its ${trimLockLeaseMs} ms lease confirmed for ${Math.round(age)} ms`,
          );
        }
      },
      async release() {
        clearInterval(timer);
        try {
          await releaseIfHolder(redis, trimLockKey, holder);
        } catch (err) {
          logger.warn(
            { err, lockKey: trimLockKey },
            'audit retention: could not release the trim lock; it runs out with its lease',
          );
        }
      },
    };
  }

  async function applyRetention(opts: RetentionOptions = {}): Promise<RetentionResult> {
    // One trim at a time, across processes: trims share the cut key, and one that cleared it while
    // another still worked would leave no record of the other's trim if that one then crashed.
    const lock = await takeTrimLock();
    const progress = opts.progress ?? newProgress();
    try {
      return await trim(lock.check, progress);
    } finally {
      await lock.release();
    }
  }

  /** A chain's keys the retention purges remove with it (campaign-retention.ts). */
  const retentionChainKeys = (id: string): AuditChainKeys => ({
    head: keys.auditChainHead(id),
    index: keys.auditCampaignIndex(id),
    dedupe: dedupeKey(id),
    queue: queueKey(id),
    queueSeen: queueSeenKey(id),
  });

  /** The trim itself, under the trim lock; `held()` before each write stops it once the lock is lost. */
  async function trim(held: () => void, progress: RetentionProgress): Promise<RetentionResult> {
    // A trim that crashed midway left its cut: this one cuts at least as far, so that every chain's
    // anchor and the stream agree again (a shorter retention set since, or none, would leave its
    // records half trimmed: out of their chains' indexes, still in the stream).
    const unfinished = await redis.get(trimKey);
    const resumed = unfinished !== null && AUDIT_CURSOR.test(unfinished) ? unfinished : undefined;
    if (retentionDays <= 0 && !resumed) {
      logger.info('audit retention is 0 (keep everything): nothing trimmed');
      return {
        applied: false,
        retentionDays,
        removedRecords: 0,
        campaigns: 0,
        removedCampaigns: 0,
        removedComplianceKeys: 0,
        removedChains: 0,
      };
    }
    const dueMs = clock.now() - retentionDays * 86_400_000;
    const due = retentionDays > 0 ? `${dueMs}-0` : undefined;
    const minId = resumed && (!due || streamIdBefore(due, resumed)) ? resumed : due!;
    if (resumed) {
      // Not one running now: this trim holds the lock.
      logger.warn(
        { unfinishedCut: resumed, minId },
        'audit retention: finishing a trim that did not finish (it crashed)',
      );
    }
    // Order: the cut recorded, each chain anchored then its index trimmed, the stream trimmed, the
    // cut cleared. Verification passes over records older than a chain's anchored cut, so a crash
    // between any two steps leaves a trail that verifies (saying that a trim is unfinished), and
    // the next trim finishes it.
    held();
    await redis.set(trimKey, minId);
    progress.minId = minId;
    const ids = await campaignIds();
    // Anchor each chain before trimming: the first surviving record's prevHash (or, when nothing
    // survives, the head the next record will link to) becomes the accepted start of the chain.
    for (const id of ids) {
      // One snapshot: read apart, an append between the two reads made the anchor the new record's
      // own hash, and verify then reported a healthy chain as broken (missing_previous).
      const snapshot = await redis
        .multi()
        .get(keys.auditChainHead(id))
        .xrange(keys.auditCampaignIndex(id), minId, '+', 'COUNT', 1)
        .exec();
      for (const [err] of snapshot ?? []) if (err) throw err;
      const head = snapshot?.[0]?.[1] as string | null;
      const [first] = (snapshot?.[1]?.[1] ?? []) as StreamEntry[];
      const anchor = first ? (await fetchRecords([first[0]]))[0]?.prevHash : (head ?? '');
      if (anchor !== undefined) {
        const value: RetentionAnchor = { prevHash: anchor, cutBefore: minId };
        held();
        await redis.hset(anchorsKey, id, JSON.stringify(value));
      }
      held();
      await redis.xtrim(keys.auditCampaignIndex(id), 'MINID', minId);
    }
    // Dedupe entries are kept on purpose: a trimmed record was recorded, and re-imports of CXone
    // history (which CXone keeps returning) must not append it again. The append script then finds
    // an entry whose record is gone and treats it as a duplicate. (They go with their chain when the
    // purges below remove it whole, its campaign or launch gone: no automatic import runs for it, and
    // an import by hand afterwards appends that history again, into a new chain.)
    held();
    const removedRecords = await redis.xtrim(keys.auditStream(), 'MINID', minId);
    progress.removedRecords = removedRecords;
    held();
    await redis.del(trimKey);
    progress.trailTrimmed = true;
    // Then what Redis keeps of campaigns that ended before the retention, and the chains this cut
    // emptied whose launch or campaign record is gone, under the same lock. After the cut is
    // cleared: the audit trim's crash recovery stays as it was, and a purge that stops midway (lock
    // lost, Redis gone) left only whole campaigns and chains removed; the next trim goes on. Only
    // with a retention: finishing an unfinished cut with retention 0 keeps every campaign and chain.
    if (due) {
      const purge = {
        redis,
        keys,
        logger,
        held,
        chain: retentionChainKeys,
        anchorsKey,
        auditedKey: campaignsKey,
        into: progress,
      };
      await purgeFinishedCampaigns({ ...purge, cutoffMs: dueMs, keepFromStreamId: due });
      await purgeOrphanChains(purge);
    }
    const purged = {
      removedCampaigns: progress.removedCampaigns,
      removedComplianceKeys: progress.removedComplianceKeys,
      removedChains: progress.removedChains,
    };
    logger.warn(
      { retentionDays, minId, removedRecords, campaigns: ids.length, ...purged },
      'audit retention applied: records older than the retention period were trimmed, and finished campaigns older than it removed, with the chains nothing appends to any more',
    );
    return {
      applied: true,
      retentionDays,
      minId,
      ...(resumed ? { resumed } : {}),
      removedRecords,
      campaigns: ids.length,
      ...purged,
    };
  }

  return {
    append: async (input) => {
      await appendWithOutcome(input);
    },
    appendWithOutcome,
    prepareAppend,
    page,
    list,
    verify,
    exportJsonl,
    campaignIds,
    applyRetention,
  };
}

/**
 * The full store behind ctx.audit. The context factory builds ctx.audit with createAuditTrail, so
 * this is normally ctx.audit itself; a context built with a plain AuditTrail (tests, tools) gets a
 * store over the same Redis keys, which is equivalent because all state lives in Redis.
 */
export function auditStoreFor(
  ctx: Pick<AppContext, 'audit' | 'redis' | 'keys' | 'logger' | 'clock' | 'config'>,
): AuditTrailStore {
  const candidate = ctx.audit as Partial<AuditTrailStore>;
  if (typeof candidate.page === 'function' && typeof candidate.appendWithOutcome === 'function') {
    return ctx.audit as AuditTrailStore;
  }
  return createAuditTrail({
    redis: ctx.redis,
    keys: ctx.keys,
    logger: ctx.logger,
    clock: ctx.clock,
    retentionDays: ctx.config.auditRetentionDays,
  });
}
