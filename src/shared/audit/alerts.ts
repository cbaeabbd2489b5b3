import type { EventPublisher } from '../events/types.js';
import type { Keys } from '../keys.js';
import type { Logger } from '../logger.js';
import type { Redis } from 'ioredis';
import type { VerifyResult } from './trail.js';

/** An alert for the same broken link is sent once per this period, however often verify runs. */
const ALERT_DEDUPE_SECONDS = 24 * 3600;

/**
 * Publishes one `audit.chain.alert` event per broken campaign chain found by a verification, so the
 * people who watch webhooks hear about tampering (or a damaged Redis) without polling verify.
 */
export async function alertBrokenChains(
  deps: { redis: Redis; keys: Keys; events: EventPublisher; logger: Logger },
  result: VerifyResult,
): Promise<number> {
  let sent = 0;
  for (const broken of result.broken) {
    const key = deps.keys.custom('audit-alerted', broken.campaignId, broken.auditId ?? 'none', broken.reason);
    const first = await deps.redis.set(key, '1', 'EX', ALERT_DEDUPE_SECONDS, 'NX');
    if (first !== 'OK') continue;
    await deps.events.publish('audit.chain.alert', broken.campaignId, {
      reason: broken.reason,
      auditId: broken.auditId,
      index: broken.index,
      ...(broken.streamId ? { streamId: broken.streamId } : {}),
    });
    deps.logger.error({ component: 'audit', ...broken }, 'audit chain broken: alert published');
    sent++;
  }
  return sent;
}
