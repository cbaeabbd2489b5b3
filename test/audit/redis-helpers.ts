import { Redis } from 'ioredis';
import { CampaignStore } from '../../src/shared/campaign-store.js';
import type { Keys } from '../../src/shared/keys.js';
import { campaignConfig, resource } from '../lifecycle/fixtures.js';
import { deletePrefix, testPrefix, REDIS_URL } from '../support/redis-prefix.js';

export { REDIS_URL };

export { testPrefix };

export function connect(): Redis {
  return new Redis(REDIS_URL, { maxRetriesPerRequest: null });
}

export { deletePrefix };

/** The environment `npm run audit -- trim` runs with in these tests: one day's retention, silent. */
export function trimCliEnv(keyPrefix: string) {
  return { REDIS_URL, KEY_PREFIX: keyPrefix, LOG_LEVEL: 'silent' as const, AUDIT_RETENTION_DAYS: '1' };
}

/**
 * Gives `id` an active campaign record: a campaign the orchestrator knows, whose chain the retention
 * trim keeps (anchored at its cut) when it cuts every record of it. A chain of no known campaign the
 * trim removes whole then (campaign-retention.ts purgeOrphanChains).
 */
export async function knownCampaign(redis: Redis, keys: Keys, id: string): Promise<void> {
  await new CampaignStore({ redis, keys }).syncFromCxone(resource({ id, status: 'active' }), {
    config: campaignConfig(),
    launchId: `launch-${id}`,
  });
}
