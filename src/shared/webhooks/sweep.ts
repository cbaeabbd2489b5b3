import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { recentEventsKey } from '../events/publisher.js';
import type { Keys } from '../keys.js';
import { streamField } from '../stream-entry.js';
import { DEFAULT_RETRY_SCHEDULE_MS, webhookJobOptions } from './schedule.js';

/**
 * The publisher stores an event (one MULTI) and then queues its delivery job: a crash or a Redis
 * error between the two leaves a `pending` event with no job, which nothing would ever deliver. The
 * sweep finds those and queues their job again, with the same options (job id = event id, so two
 * sweeps, or a sweep and a late publish, cannot queue it twice). Delivered and dead-lettered events
 * are never touched; a `pending` event whose job failed for good is handed back to the worker to
 * dead-letter.
 */

/** An event younger than this is left alone: its publisher may still be queueing its job. */
export const DEFAULT_SWEEP_GRACE_MS = 60_000;
/** How often a webhook worker process looks (one process at a time, under a Redis lock). */
export const DEFAULT_SWEEP_INTERVAL_MS = 30_000;
/** Events older than this are not looked at (the worker would have had to be down for a day). */
export const DEFAULT_SWEEP_MAX_AGE_MS = 24 * 3_600_000;
/** At most this many recent events are examined per sweep, newest first. */
export const DEFAULT_SWEEP_MAX_SCAN = 5_000;

export interface SweepOptions {
  redis: Redis;
  keys: Keys;
  queue: Queue;
  nowMs: number;
  schedule?: readonly number[];
  graceMs?: number;
  maxAgeMs?: number;
  maxScan?: number;
}

export interface SweepResult {
  /** Events examined (recent-stream entries in the window). */
  scanned: number;
  /** Pending events whose job was missing and has been queued again. */
  requeued: string[];
  /** Pending events whose job failed for good without settling them: `{eventId, reason, attempts}`. */
  failed: { eventId: string; reason: string; attempts: number }[];
}

const PIPELINE_BATCH = 500;

export async function sweepOrphanedEvents(opts: SweepOptions): Promise<SweepResult> {
  const { redis, keys, queue, nowMs } = opts;
  const graceMs = opts.graceMs ?? DEFAULT_SWEEP_GRACE_MS;
  const maxAgeMs = opts.maxAgeMs ?? DEFAULT_SWEEP_MAX_AGE_MS;
  const maxScan = opts.maxScan ?? DEFAULT_SWEEP_MAX_SCAN;
  const schedule = opts.schedule ?? DEFAULT_RETRY_SCHEDULE_MS;
  // Stream ids are the time each event was recorded: the window is a range of ids.
  const entries = (await redis.xrevrange(
    recentEventsKey(keys),
    String(Math.max(0, nowMs - graceMs)),
    String(Math.max(0, nowMs - maxAgeMs)),
    'COUNT',
    maxScan,
  )) as [string, string[]][];
  const ids = entries.map(([, fields]) => streamField(fields, 'id')).filter((id): id is string => !!id);
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
    for (let i = 0; i < batch.length; i++) {
      const id = batch[i]!;
      const [state, type] = values[i]!;
      if (state !== 'pending' || !type) continue;
      const [name, finishedOn, failedReason, attemptsMade] = values[batch.length + i]!;
      if (name === null) {
        await queue.add(type, { eventId: id }, webhookJobOptions(id, schedule));
        result.requeued.push(id);
      } else if (finishedOn && typeof failedReason === 'string') {
        result.failed.push({ eventId: id, reason: failedReason, attempts: Number(attemptsMade ?? 0) });
      }
    }
  }
  return result;
}

/**
 * Takes the sweep's turn for `intervalMs` (SET NX PX): true for the one process that should sweep
 * now. The lock is left to expire, so processes sweep at most once per interval between them.
 */
export async function takeSweepTurn(redis: Redis, keys: Keys, intervalMs: number): Promise<boolean> {
  const token = `${process.pid}-${Date.now()}`;
  return (await redis.set(keys.custom('webhook', 'sweep-lock'), token, 'PX', intervalMs, 'NX')) === 'OK';
}
