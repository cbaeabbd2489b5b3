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
  'campaign.missing',
  'audit.chain.alert',
  /** One appended audit record, exactly as stored (opt-in: WEBHOOK_AUDIT_RECORDS). */
  'audit.record.appended',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const EVENT_ENVELOPE_VERSION = 1;

/** What every delivery sends, and GET /v1/webhooks/events/{eventId} answers, byte for byte. */
export type EventEnvelope = z.output<typeof eventEnvelopeSchema>;

export interface EventPublisher {
  publish(type: EventType, campaignId: string, data: Record<string, unknown>): Promise<EventEnvelope>;
}
