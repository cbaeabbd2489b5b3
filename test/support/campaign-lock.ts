import type { AppContext } from '../../src/shared/context.js';
import { tryAcquireCampaignLock, type CampaignLease } from '../../src/shared/lifecycle/lock.js';
import { silentLogger } from '../../src/shared/logger.js';

/**
 * Takes the campaign's lock as an adjust command at work holds it, from its first CXone read to its
 * last record write (lifecycle/lock.ts); throws when someone else holds it already.
 */
export async function holdAsCommand(
  ctx: Pick<AppContext, 'redis' | 'keys'>,
  campaignId: string,
): Promise<CampaignLease> {
  const lease = await tryAcquireCampaignLock(
    { redis: ctx.redis, keys: ctx.keys, logger: silentLogger, owner: 'test:adjust' },
    campaignId,
  );
  if (lease === null) throw new Error(`campaign ${campaignId} is locked already`);
  return lease;
}
