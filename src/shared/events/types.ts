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

export interface EventEnvelope {
  /** `evt_…`; the same id on every delivery attempt (Standard Webhooks `webhook-id`). */
  id: string;
  type: EventType;
  version: number;
  campaignId: string;
  occurredAt: string;
  data: Record<string, unknown>;
}

export interface EventPublisher {
  publish(type: EventType, campaignId: string, data: Record<string, unknown>): Promise<EventEnvelope>;
}
