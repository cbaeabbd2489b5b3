import type { EventPublisher } from '../events/types.js';
import type { Keys } from '../keys.js';
import type { Logger } from '../logger.js';
import type { Redis } from 'ioredis';
import type { ChainBreak, VerifyResult } from './trail.js';

/** An alert for the same broken link is sent once per this period, however often verify runs. */
const ALERT_DEDUPE_SECONDS = 24 * 3600;

/**
 * Publishes one `audit.chain.alert` event per broken campaign chain found by a verification, so the
 * people who watch webhooks hear about tampering (or a damaged Redis) without polling verify.
 *
 * The once-per-day claim is taken only for an alert that will be delivered: a verify run where no
 * webhook destination is configured (the audit CLI on an operator's laptop, say) records the event
 * but leaves the claim to the next run that can deliver it, and a publish that fails gives the
 * claim back. Otherwise either would silence the alert fleet-wide for a day.
 *
 * Never throws: an alert that cannot be claimed or published (Redis failing) is logged, told to
 * `onFailure`, and the next broken chain is still alerted. The verification's result stands on its
 * own, whatever became of its alerts; the next verify tries the failed alert again.
 */
export async function alertBrokenChains(
  deps: {
    redis: Redis;
    keys: Keys;
    events: EventPublisher;
    logger: Logger;
    webhooksEnabled: boolean;
    onFailure?: (broken: ChainBreak, err: unknown) => void;
  },
  result: VerifyResult,
): Promise<number> {
  let sent = 0;
  const failed = (broken: ChainBreak, err: unknown) => {
    deps.logger.error(
      { component: 'audit', err, ...broken },
      'audit chain broken: the alert could not be published',
    );
    deps.onFailure?.(broken, err);
  };
  for (const broken of result.broken) {
    const key = deps.keys.custom('audit-alerted', broken.campaignId, broken.auditId ?? 'none', broken.reason);
    if (deps.webhooksEnabled) {
      let first: string | null;
      try {
        first = await deps.redis.set(key, '1', 'EX', ALERT_DEDUPE_SECONDS, 'NX');
      } catch (err) {
        // Not claimed, so not published: the next verify claims it again.
        failed(broken, err);
        continue;
      }
      if (first !== 'OK') continue;
    }
    try {
      await deps.events.publish('audit.chain.alert', broken.campaignId, {
        reason: broken.reason,
        auditId: broken.auditId,
        index: broken.index,
        ...(broken.streamId ? { streamId: broken.streamId } : {}),
      });
    } catch (err) {
      if (deps.webhooksEnabled) {
        try {
          await deps.redis.del(key);
        } catch (delErr) {
          // The claim expires on its own (24 h); said, so that a silent day is not a mystery.
          deps.logger.error(
            { component: 'audit', err: delErr, ...broken },
            'audit chain alert: its claim could not be given back; the alert is held until it expires',
          );
        }
      }
      failed(broken, err);
      continue;
    }
    deps.logger.error(
      { component: 'audit', ...broken },
      deps.webhooksEnabled
        ? 'audit chain broken: alert published'
        : 'audit chain broken: alert recorded, not delivered (no webhook destination configured here)',
    );
    sent++;
  }
  return sent;
}
