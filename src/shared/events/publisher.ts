import { randomFillSync } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { systemClock, type Clock } from '../clock.js';
import type { Keys } from '../keys.js';
import type { Logger } from '../logger.js';
import { streamField } from '../stream-entry.js';
import { webhookPendingKey } from '../webhooks/pending.js';
import { DEFAULT_RETRY_SCHEDULE_MS, webhookJobOptions } from '../webhooks/schedule.js';
import { EVENT_ENVELOPE_VERSION, type EventEnvelope, type EventPublisher, type EventType } from './types.js';

/** How long a stored event (its exact bytes) is kept for retries and replays. */
export const EVENT_TTL_SECONDS = 30 * 24 * 3600;
/** The recent-events stream keeps about this many events, delivered or not. */
export const RECENT_EVENTS_MAX = 10_000;

export interface StoredEvent {
  id: string;
  type: EventType;
  campaignId: string;
  occurredAt: string;
  /** The exact serialized envelope; every delivery attempt sends these bytes. */
  body: string;
}

export interface EventPublisherStore extends EventPublisher {
  /** The stored event with its exact body, or null when unknown or expired. */
  get(eventId: string): Promise<StoredEvent | null>;
  /** Most recent events first, optionally for one campaign (scans at most the bounded recent stream). */
  recent(limit?: number, campaignId?: string): Promise<EventEnvelope[]>;
}

export interface EventPublisherOptions {
  redis: Redis;
  keys: Keys;
  logger: Logger;
  webhookQueue: Queue;
  /** False when no WEBHOOK_URL is configured: events are recorded (bounded) but nothing is enqueued. */
  enabled: boolean;
  clock?: Clock;
  /** Retry schedule the webhook worker uses; decides the job's attempts. Tests shrink it. */
  retrySchedule?: readonly number[];
}

/**
 * Random bytes for event ids, drawn from the system generator a pool at a time: one `randomBytes` call
 * per id cost about half of publishing an event (node:crypto's randomUUID pools the same way).
 */
const ID_POOL_BYTES = 4096;
let idPool = Buffer.alloc(0);
let idPoolOffset = 0;

/** `evt_` and 128 random bits in hex. */
export function newEventId(): string {
  if (idPoolOffset + 16 > idPool.length) {
    idPool = randomFillSync(Buffer.allocUnsafe(ID_POOL_BYTES));
    idPoolOffset = 0;
  }
  const id = `evt_${idPool.toString('hex', idPoolOffset, idPoolOffset + 16)}`;
  idPoolOffset += 16;
  return id;
}

export function recentEventsKey(keys: Keys): string {
  return keys.custom('events', 'recent');
}

/** Reads a stored event (shared by the publisher, the webhook worker and the replay routes). */
export async function loadStoredEvent(
  redis: Redis,
  keys: Keys,
  eventId: string,
): Promise<StoredEvent | null> {
  return parseStoredEvent(eventId, await redis.hgetall(keys.webhookEvent(eventId)));
}

/** The stored event from its Redis hash, or null when the hash is missing or incomplete (expired). */
export function parseStoredEvent(eventId: string, h: Record<string, string>): StoredEvent | null {
  if (!h.body || !h.type || h.campaignId === undefined || !h.occurredAt) return null;
  return {
    id: eventId,
    type: h.type as EventType,
    campaignId: h.campaignId,
    occurredAt: h.occurredAt,
    body: h.body,
  };
}

export function createEventPublisher(opts: EventPublisherOptions): EventPublisherStore {
  const { redis, keys, webhookQueue, enabled } = opts;
  const clock = opts.clock ?? systemClock;
  const schedule = opts.retrySchedule ?? DEFAULT_RETRY_SCHEDULE_MS;
  const logger = opts.logger.child({ component: 'events' });

  async function publish(
    type: EventType,
    campaignId: string,
    data: Record<string, unknown>,
  ): Promise<EventEnvelope> {
    const envelope: EventEnvelope = {
      id: newEventId(),
      type,
      version: EVENT_ENVELOPE_VERSION,
      campaignId,
      occurredAt: new Date(clock.now()).toISOString(),
      data,
    };
    // Serialized once, here: retries and replays send these exact bytes, so a receiver that
    // verified a signature once can verify it again and dedupe by id.
    const body = JSON.stringify(envelope);
    const recentArgs = [
      recentEventsKey(keys),
      'MAXLEN',
      '~',
      RECENT_EVENTS_MAX,
      '*',
      'id',
      envelope.id,
      'c',
      campaignId,
      'b',
      body,
    ] as const;
    if (enabled) {
      // The stored copy and the recent entry land together or not at all.
      await redis
        .multi()
        .xadd(...recentArgs)
        .hset(keys.webhookEvent(envelope.id), {
          body,
          type,
          campaignId,
          occurredAt: envelope.occurredAt,
          state: 'pending',
        })
        .expire(keys.webhookEvent(envelope.id), EVENT_TTL_SECONDS)
        // The sweep's index of pending events (src/shared/webhooks/pending.ts).
        .zadd(webhookPendingKey(keys), clock.now(), envelope.id)
        .exec();
    } else {
      await redis.xadd(...recentArgs);
    }
    if (enabled) {
      // Not in the MULTI above (BullMQ adds by script): if this fails, or the process dies first, the
      // event is left pending with no job, and the webhook worker's sweep queues it a minute later
      // (src/shared/webhooks/sweep.ts), with the same job id.
      await webhookQueue.add(type, { eventId: envelope.id }, webhookJobOptions(envelope.id, schedule));
    }
    logger.debug({ eventId: envelope.id, type, campaignId, enqueued: enabled }, 'event published');
    return envelope;
  }

  async function recent(limit = 50, campaignId?: string): Promise<EventEnvelope[]> {
    const out: EventEnvelope[] = [];
    let end = '+';
    while (out.length < limit) {
      const entries = (await redis.xrevrange(recentEventsKey(keys), end, '-', 'COUNT', 500)) as [
        string,
        string[],
      ][];
      if (entries.length === 0) break;
      for (const [, fields] of entries) {
        const c = streamField(fields, 'c');
        const b = streamField(fields, 'b');
        if (b && (campaignId === undefined || c === campaignId)) out.push(JSON.parse(b) as EventEnvelope);
        if (out.length >= limit) break;
      }
      end = `(${entries[entries.length - 1]![0]}`;
    }
    return out;
  }

  return { publish, get: (eventId) => loadStoredEvent(redis, keys, eventId), recent };
}
