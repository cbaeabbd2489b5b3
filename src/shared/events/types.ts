import type { z } from 'zod';
import type { eventEnvelopeSchema } from '../responses/webhooks.js';

/** Event types delivered to webhooks. The envelope is versioned; `version` bumps on breaking changes to `data`. */
export const EVENT_TYPES = [
  'campaign.launch.requested',
  'campaign.launch.succeeded',
  'campaign.launch.failed',
  'campaign.state.changed',
  'campaign.settings.changed',
  'campaign.pacing.adjusted',
  'campaign.compliance.paused',
  'campaign.compliance.resumed',
  /**
   * A start or a calling window's resume held while CXone withholds the statistics scope (nothing
   * dials for it until the scope is granted), and the end of that hold: once each per hold.
   */
  'campaign.compliance.hold.placed',
  'campaign.compliance.hold.lifted',
  'campaign.missing',
  'audit.chain.alert',
  /** One appended audit record, exactly as stored (opt-in: WEBHOOK_AUDIT_RECORDS). */
  'audit.record.appended',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const EVENT_ENVELOPE_VERSION = 1;

/** What every delivery sends, and GET /v1/webhooks/events/{eventId} answers, byte for byte. */
export type EventEnvelope = z.output<typeof eventEnvelopeSchema>;

/**
 * An event built but not yet written: its envelope, the exact bytes every delivery sends, and the
 * KEYS and ARGV a script that includes EVENT_WRITE_LUA (event-script.ts) stores it with — so that it
 * lands in the same script as the change it announces, or not at all.
 */
export interface PreparedEvent {
  readonly envelope: EventEnvelope;
  readonly body: string;
  /**
   * The recent-events stream, the stored event, the pending index — and, announced once, its marker:
   * all under the keys' prefix.
   */
  readonly keys: readonly string[];
  /** EVENT_ARGC values (event-script.ts), and announced once, the marker's TTL and value after them. */
  readonly args: readonly string[];
  /** Announced once (PublishOptions.once): its id derived from the change, not written a second time. */
  readonly once: boolean;
  /**
   * To run once a script has written the event (never when it did not): what `publish` does after
   * storing one — its webhook job queued when webhooks are enabled, and the log line. Best effort, it
   * never rejects: a job that could not be queued is logged, and the webhook sweep queues the pending
   * event a minute later (webhooks/sweep.ts).
   */
  afterWrite(): Promise<void>;
  /**
   * To run instead when a script wrote its change without the event (one of the event's keys holds
   * another type, event-script.ts): the event stored by the publish script alone (announced once, unless
   * its id was written already), then afterWrite. It never rejects: a failure (the same key) is logged
   * with the event.
   */
  writeAlone(): Promise<void>;
}

export interface PublishOptions {
  /**
   * What names the one change this event announces (a command's status write: its id and the version
   * the write made), for work that a crash can make run again after it announced and before it noted
   * that: the event id is derived from it, and an event of that id already written is not written or
   * enqueued again (the envelope answered is then the one built now, with that id). Receivers dedupe
   * by `webhook-id`, so the retry must not announce the change under a new one.
   */
  once?: string;
  /**
   * With `once`, for work that records the change before announcing it: false when that record
   * failed. The event is still written once, but `published` then answers false, so that a later run
   * records the change (it would otherwise take the announcement for proof of the record).
   */
  recorded?: boolean;
}

export interface EventPublisher {
  publish(
    type: EventType,
    campaignId: string,
    data: Record<string, unknown>,
    opts?: PublishOptions,
  ): Promise<EventEnvelope>;
  /**
   * Whether the event of the change `once` names was written (PublishOptions.once) by a run that did
   * not say its record failed (PublishOptions.recorded), for work that records a change before
   * announcing it to tell, on a retry, that an earlier run did both.
   * Optional: a publisher without it (a test double) answers nothing, and the caller records again.
   */
  published?(once: string): Promise<boolean>;
}

/** What a caller whose own script writes an event needs of the publisher (the context's has it). */
export interface EventPreparer {
  /**
   * The event `publish` would write with these options, for the caller's own script to write
   * (PreparedEvent). No I/O.
   */
  prepare(
    type: EventType,
    campaignId: string,
    data: Record<string, unknown>,
    opts?: PublishOptions,
  ): PreparedEvent;
}
