/**
 * Every Redis key the orchestrator owns is built here, under one hash-tagged prefix (default `{cxo}`)
 * so that all of them hash to one Redis Cluster slot — BullMQ's Lua scripts and our MULTI blocks
 * touch several keys at once, which Cluster only allows within a slot.
 */
export interface Keys {
  prefix: string;
  launch(launchId: string): string;
  launchIdempotency(key: string): string;
  campaign(campaignId: string): string;
  campaignIndex(): string;
  command(commandId: string): string;
  auditStream(): string;
  auditChainHead(campaignId: string): string;
  auditCampaignIndex(campaignId: string): string;
  webhookEvent(eventId: string): string;
  webhookDeadLetters(): string;
  webhookDelivered(): string;
  webhookDestination(): string;
  limiter(endpoint: string): string;
  lock(name: string): string;
  custom(...parts: string[]): string;
}

export function createKeys(prefix: string): Keys {
  const k = (...parts: string[]) => [prefix, ...parts].join(':');
  return {
    prefix,
    // Not `launch:<id>`: that is where BullMQ keeps job <id> of the `launch` queue, and launch ids
    // are the launch jobs' ids. No key here may have the form `<queue name>:<job id>`.
    launch: (id) => k('launch-record', id),
    launchIdempotency: (key) => k('launch-idem', key),
    campaign: (id) => k('campaign', id),
    campaignIndex: () => k('campaigns'),
    command: (id) => k('command', id),
    auditStream: () => k('audit'),
    auditChainHead: (id) => k('audit-head', id),
    auditCampaignIndex: (id) => k('audit-idx', id),
    webhookEvent: (id) => k('webhook', 'event', id),
    webhookDeadLetters: () => k('webhook', 'dead'),
    webhookDelivered: () => k('webhook', 'delivered'),
    webhookDestination: () => k('webhook', 'destination'),
    limiter: (endpoint) => k('limiter', endpoint.replace(/\s+/g, '_')),
    lock: (name) => k('lock', name),
    custom: (...parts) => k(...parts),
  };
}

/** Queue names. BullMQ prefixes them with the same hash-tagged prefix. */
export const QUEUES = {
  launch: 'launch',
  adjust: 'adjust',
  poll: 'poll',
  webhook: 'webhook',
  compliance: 'compliance',
  audit: 'audit',
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];
