import { createHash, randomFillSync } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { systemClock, type Clock } from '../clock.js';
import type { Keys } from '../keys.js';
import type { Logger } from '../logger.js';
import { evalScript } from '../redis-script.js';
import { streamField } from '../stream-entry.js';
import { webhookPendingKey } from '../webhooks/pending.js';
import { DEFAULT_RETRY_SCHEDULE_MS, webhookJobOptions } from '../webhooks/schedule.js';
import { eventScriptSlots, PUBLISH_EVENT_SCRIPT, PUBLISH_ONCE_EVENT_SCRIPT } from './event-script.js';
import {
  EVENT_ENVELOPE_VERSION,
  type EventEnvelope,
  type EventPreparer,
  type EventPublisher,
  type EventType,
  type PreparedEvent,
  type PublishOptions,
} from './types.js';

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

export interface EventPublisherStore extends EventPublisher, EventPreparer {
  /** The stored event with its exact body, or null when unknown or expired. */
  get(eventId: string): Promise<StoredEvent | null>;
  /** As EventPublisher.published, which this publisher always has. */
  published(once: string): Promise<boolean>;
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

/**
 * The id of the event announcing the change `once` names (PublishOptions.once): `evt_` and 128 bits of
 * the SHA-256 of it under the deployment's key prefix, so every retry announcing that change names it
 * alike, two deployments (a staging beside production, on the same tenant's campaign ids) do not,
 * and ids look as random ones do.
 */
export function onceEventId(keys: Keys, once: string): string {
  const named = keys.custom('events', 'once-id', once);
  return `evt_${createHash('sha256').update(named).digest('hex').slice(0, 32)}`;
}

/** Set once the event of that id is written by `publish` with `once` (PUBLISH_ONCE_EVENT_SCRIPT). */
export function eventOnceKey(keys: Keys, eventId: string): string {
  return keys.custom('events', 'once', eventId);
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

  function prepare(
    type: EventType,
    campaignId: string,
    data: Record<string, unknown>,
    publishOpts: PublishOptions = {},
  ): PreparedEvent {
    const { once } = publishOpts;
    const envelope: EventEnvelope = {
      id: once === undefined ? newEventId() : onceEventId(keys, once),
      type,
      version: EVENT_ENVELOPE_VERSION,
      campaignId,
      occurredAt: new Date(clock.now()).toISOString(),
      data,
    };
    // Serialized once, here: retries and replays send these exact bytes, so a receiver that
    // verified a signature once can verify it again and dedupe by id.
    const body = JSON.stringify(envelope);
    const eventKeys = [recentEventsKey(keys), keys.webhookEvent(envelope.id), webhookPendingKey(keys)];
    const args = [
      enabled ? '1' : '0',
      String(RECENT_EVENTS_MAX),
      envelope.id,
      campaignId,
      body,
      type,
      envelope.occurredAt,
      String(EVENT_TTL_SECONDS),
      // The sweep's index of pending events (src/shared/webhooks/pending.ts).
      String(clock.now()),
    ];
    if (once !== undefined) {
      eventKeys.push(eventOnceKey(keys, envelope.id));
      // '0': written by a run whose record of the change failed (PublishOptions.recorded).
      args.push(String(EVENT_TTL_SECONDS), publishOpts.recorded === false ? '0' : '1');
    }
    const event: PreparedEvent = {
      envelope,
      body,
      keys: eventKeys,
      args,
      once: once !== undefined,
      afterWrite: () =>
        enqueue(envelope).catch((err: unknown) => {
          logger.warn(
            { err, eventId: envelope.id, type, campaignId },
            'event stored, its webhook job not queued; the webhook sweep queues it',
          );
        }),
      async writeAlone() {
        let written;
        try {
          written = await store(event);
        } catch (err) {
          logger.error({ err, eventId: envelope.id, type, campaignId }, 'event publish failed');
          return;
        }
        if (written) await event.afterWrite();
        else alreadyPublished(envelope);
      },
    };
    return event;
  }

  /**
   * Stores an event by the script every event is stored with (event-script.ts): the stored copy, the
   * pending index entry and the recent entry land together or not at all. An event announced once is
   * not stored when its id was written already (PUBLISH_ONCE_EVENT_SCRIPT): false then.
   */
  async function store(event: PreparedEvent): Promise<boolean> {
    const slots = eventScriptSlots(event);
    const script = event.once ? PUBLISH_ONCE_EVENT_SCRIPT : PUBLISH_EVENT_SCRIPT;
    return (await evalScript(redis, script, slots.keys.length, ...slots.keys, ...slots.args)) === 1;
  }

  /** An event announced once whose id an earlier run wrote: its job (or, had it died first, the sweep) delivers it. */
  function alreadyPublished({ id, type, campaignId }: EventEnvelope): void {
    logger.info({ eventId: id, type, campaignId }, 'event already published; not again');
  }

  /** After the event is stored: its webhook job. */
  async function enqueue(envelope: EventEnvelope): Promise<void> {
    const { id, type, campaignId } = envelope;
    if (enabled) {
      // Not in the script that stored it (BullMQ adds by a script of its own): if this fails, or the
      // process dies first, the event is left pending with no job, and the webhook worker's sweep
      // queues it a minute later (src/shared/webhooks/sweep.ts), with the same job id.
      await webhookQueue.add(type, { eventId: id }, webhookJobOptions(id, schedule));
    }
    logger.debug({ eventId: id, type, campaignId, enqueued: enabled }, 'event published');
  }

  async function publish(
    type: EventType,
    campaignId: string,
    data: Record<string, unknown>,
    publishOpts: PublishOptions = {},
  ): Promise<EventEnvelope> {
    const event = prepare(type, campaignId, data, publishOpts);
    if (!(await store(event))) {
      alreadyPublished(event.envelope);
      return event.envelope;
    }
    await enqueue(event.envelope);
    return event.envelope;
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

  return {
    publish,
    // '0': written by a run whose record of the change failed (PublishOptions.recorded).
    published: async (once) => (await redis.get(eventOnceKey(keys, onceEventId(keys, once)))) === '1',
    prepare,
    get: (eventId) => loadStoredEvent(redis, keys, eventId),
    recent,
  };
}
