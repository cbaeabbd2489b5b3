import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { EVENT_TTL_SECONDS, RECENT_EVENTS_MAX, recentEventsKey } from '../events/publisher.js';
import type { Keys } from '../keys.js';
import { evalScript } from '../redis-script.js';
import { streamField } from '../stream-entry.js';
import { webhookPendingKey } from './pending.js';
import { DEFAULT_RETRY_SCHEDULE_MS, webhookJobOptions } from './schedule.js';

/**
 * The publisher stores an event (one script, which also puts it in the pending index, pending.ts;
 * events/event-script.ts) and then queues its delivery job: a crash or a Redis error between the two leaves a `pending` event with
 * no job, which nothing would ever deliver. The sweep finds those and queues their job again, with the
 * same options (job id = event id, so two sweeps, or a sweep and a late publish, cannot queue it
 * twice). Delivered and dead-lettered events are never touched; a `pending` event whose job failed for
 * good is handed back to the worker to dead-letter.
 *
 * It reads only the pending index, oldest first, by publish time: its cost follows the pending events,
 * however many are published, and an orphan is found however old it is, until its stored event
 * expires (EVENT_TTL_SECONDS), when its entry is dropped. A bounded number per sweep; the next sweep
 * continues after the last one it read (a cursor in Redis, whichever process sweeps) and starts over
 * from the oldest once it has reached the grace.
 */

/** An event younger than this is left alone: its publisher may still be queueing its job. */
export const DEFAULT_SWEEP_GRACE_MS = 60_000;
/** How often a webhook worker process looks (one process at a time, under a Redis lock). */
export const DEFAULT_SWEEP_INTERVAL_MS = 30_000;
/** At most this many pending events are examined per sweep, oldest first. */
export const DEFAULT_SWEEP_MAX_SCAN = 5_000;

export interface SweepOptions {
  redis: Redis;
  keys: Keys;
  queue: Queue;
  nowMs: number;
  schedule?: readonly number[];
  graceMs?: number;
  maxScan?: number;
}

export interface SweepResult {
  /** Pending-index entries examined. */
  scanned: number;
  /** Pending events whose job was missing and has been queued again. */
  requeued: string[];
  /** Pending events whose job failed for good without settling them: `{eventId, reason, attempts}`. */
  failed: { eventId: string; reason: string; attempts: number }[];
}

const PIPELINE_BATCH = 500;

export function sweepCursorKey(keys: Keys): string {
  return keys.custom('webhook', 'sweep-cursor');
}

// KEYS: pending index, then the event hash of each id in ARGV (same order). Drops the entries whose
// event is no longer pending (settled by a path that could not remove it), no longer stored
// (expired) or names no type (no job could deliver it: the sweep's own test for "settled"). Atomic
// per entry, so a replay marking one pending again keeps its entry.
const DROP_SETTLED_SCRIPT = `
local dropped = 0
for i = 1, #ARGV do
  local h = redis.call('HMGET', KEYS[i + 1], 'state', 'type')
  if h[1] ~= 'pending' or not h[2] or h[2] == '' then
    dropped = dropped + redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
return dropped
`;

/**
 * The next `limit` index entries after the cursor (score, then id: the set's own order) up to
 * `maxScore`, and whether the index holds no more up to it. Scores are publish times in ms, so
 * several events can share one: those at the cursor's score are skipped up to and including the
 * cursor's id, reading on page by page however many share it.
 */
async function readAfterCursor(
  redis: Redis,
  key: string,
  cursor: { score: number; id: string } | null,
  maxScore: number,
  limit: number,
): Promise<{ entries: { id: string; score: number }[]; exhausted: boolean }> {
  const min = cursor ? String(cursor.score) : '-inf';
  const entries: { id: string; score: number }[] = [];
  for (let offset = 0; ;) {
    const flat = await redis.zrangebyscore(key, min, String(maxScore), 'WITHSCORES', 'LIMIT', offset, limit);
    const read = flat.length / 2;
    for (let i = 0; i < flat.length && entries.length < limit; i += 2) {
      const id = flat[i]!;
      const score = Number(flat[i + 1]);
      if (cursor && score === cursor.score && id <= cursor.id) continue;
      entries.push({ id, score });
    }
    if (entries.length >= limit) return { entries, exhausted: false };
    if (read < limit) return { entries, exhausted: true };
    offset += read;
  }
}

export async function sweepOrphanedEvents(opts: SweepOptions): Promise<SweepResult> {
  const { redis, keys, queue, nowMs } = opts;
  const graceMs = opts.graceMs ?? DEFAULT_SWEEP_GRACE_MS;
  const maxScan = Math.max(1, opts.maxScan ?? DEFAULT_SWEEP_MAX_SCAN);
  const schedule = opts.schedule ?? DEFAULT_RETRY_SCHEDULE_MS;
  const indexKey = webhookPendingKey(keys);
  const cursorKey = sweepCursorKey(keys);

  const rawCursor = await redis.get(cursorKey);
  const sep = rawCursor ? rawCursor.indexOf(':') : -1;
  const cursor =
    rawCursor && sep > 0 ? { score: Number(rawCursor.slice(0, sep)), id: rawCursor.slice(sep + 1) } : null;
  const { entries, exhausted } = await readAfterCursor(redis, indexKey, cursor, nowMs - graceMs, maxScan);
  // More to read: the next sweep continues after this page. Otherwise this one reached the grace,
  // and the next starts from the oldest again.
  if (!exhausted) {
    const last = entries[entries.length - 1]!;
    await redis.set(cursorKey, `${last.score}:${last.id}`, 'EX', 86_400);
  } else {
    await redis.del(cursorKey);
  }
  const ids = entries.map((e) => e.id);
  const result: SweepResult = { scanned: ids.length, requeued: [], failed: [] };

  for (let from = 0; from < ids.length; from += PIPELINE_BATCH) {
    const batch = ids.slice(from, from + PIPELINE_BATCH);
    const pipeline = redis.pipeline();
    // The event's state first, then its job: a job that finishes in between has already moved the
    // state on, so a stale `pending` with a vanished job can only queue a run that finds it delivered.
    for (const id of batch) pipeline.hmget(keys.webhookEvent(id), 'state', 'type');
    for (const id of batch) pipeline.hmget(queue.toKey(id), 'name', 'finishedOn', 'failedReason', 'atm');
    const replies = (await pipeline.exec()) ?? [];
    for (const [err] of replies) if (err) throw err;
    const values = replies.map(([, v]) => v as (string | null)[]);
    const settled: string[] = [];
    for (let i = 0; i < batch.length; i++) {
      const id = batch[i]!;
      const [state, type] = values[i]!;
      if (state !== 'pending' || !type) {
        settled.push(id);
        continue;
      }
      const [name, finishedOn, failedReason, attemptsMade] = values[batch.length + i]!;
      if (name === null) {
        // An orphan found late (after days without sweeps) may have hours of its TTL left; its job
        // retries for about 28, and would otherwise find nothing to send and lose the event unsaid.
        await redis.expire(keys.webhookEvent(id), EVENT_TTL_SECONDS);
        await queue.add(type, { eventId: id }, webhookJobOptions(id, schedule));
        result.requeued.push(id);
      } else if (finishedOn && typeof failedReason === 'string') {
        result.failed.push({ eventId: id, reason: failedReason, attempts: Number(attemptsMade ?? 0) });
      }
    }
    if (settled.length > 0) {
      await evalScript(
        redis,
        DROP_SETTLED_SCRIPT,
        settled.length + 1,
        indexKey,
        ...settled.map((id) => keys.webhookEvent(id)),
        ...settled,
      );
    }
  }
  return result;
}

/**
 * Events published before the pending index existed have no entry in it. Once per deployment (a flag
 * key, set when done) the recent-events stream — the last RECENT_EVENTS_MAX events, the only place
 * their ids are listed — is read once and every event there still `pending` is added to the index
 * with its publish time. Returns how many were added, or null when it had already run.
 */
export async function backfillPendingIndex(redis: Redis, keys: Keys): Promise<number | null> {
  const flagKey = keys.custom('webhook', 'pending-index-backfilled');
  if ((await redis.exists(flagKey)) === 1) return null;
  let added = 0;
  let end = '+';
  let read = 0;
  while (read < RECENT_EVENTS_MAX * 2) {
    const entries = (await redis.xrevrange(recentEventsKey(keys), end, '-', 'COUNT', PIPELINE_BATCH)) as [
      string,
      string[],
    ][];
    if (entries.length === 0) break;
    read += entries.length;
    const batch = entries
      .map(([streamId, fields]) => ({ id: streamField(fields, 'id'), at: Number(streamId.split('-')[0]) }))
      .filter((e): e is { id: string; at: number } => !!e.id);
    const states =
      (await redis.pipeline(batch.map((e) => ['hget', keys.webhookEvent(e.id), 'state'])).exec()) ?? [];
    const pending = batch.filter((_, i) => states[i]?.[1] === 'pending');
    if (pending.length > 0) {
      added += Number(
        await redis.zadd(webhookPendingKey(keys), 'NX', ...pending.flatMap((e) => [e.at, e.id])),
      );
    }
    end = `(${entries[entries.length - 1]![0]}`;
  }
  await redis.set(flagKey, new Date().toISOString());
  return added;
}

/**
 * Takes the sweep's turn for `intervalMs` (SET NX PX): true for the one process that should sweep
 * now. The lock is left to expire, so processes sweep at most once per interval between them.
 */
export async function takeSweepTurn(redis: Redis, keys: Keys, intervalMs: number): Promise<boolean> {
  const token = `${process.pid}-${Date.now()}`;
  return (await redis.set(keys.custom('webhook', 'sweep-lock'), token, 'PX', intervalMs, 'NX')) === 'OK';
}
