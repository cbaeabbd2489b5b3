import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignConfigBaseSchema, type CampaignConfig } from '../../src/shared/campaign-config.js';
import { checkCampaignConfig } from '../../src/shared/campaign-check.js';
import { CampaignStore } from '../../src/shared/campaign-store.js';
import { ManualClock } from '../../src/shared/clock.js';
import { STRICT_POLICY } from '../../src/shared/compliance/deployment-policy.js';
import { toCreateCampaignRequest } from '../../src/shared/cxone/to-wire.js';
import type { CampaignResource } from '../../src/shared/cxone/wire.js';
import { adjustJobSchema, launchJobSchema } from '../../src/shared/jobs.js';
import { createKeys } from '../../src/shared/keys.js';
import { campaignPatchSchema } from '../../src/shared/lifecycle/patch.js';
import { campaignViewSchema } from '../../src/shared/responses/campaign-view.js';
import { deletePrefix, REDIS_URL, testPrefix } from '../support/redis-prefix.js';

/**
 * A fixed offset (Etc/GMT+5, UTC) is refused where a campaign's zone is written, never where a stored
 * one is read: campaign records, launch jobs queued before the rule and queued commands setting one
 * keep parsing with the schemas they are read with, so those campaigns keep loading and running.
 */
const FIXED = ['Etc/GMT+5', 'UTC', 'Etc/UTC', 'Etc/GMT', 'Etc/GMT-14'];

const prefix = testPrefix();
const keys = createKeys(prefix);
let redis: Redis;

beforeAll(() => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
});
afterAll(async () => {
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

function stored(zone: string): CampaignConfig {
  return {
    name: `Stored on ${zone}`,
    startDateTime: '2026-12-01T09:00:00-05:00',
    targetListId: '6f1c2a7e-3b4d-4e8f-9a10-1b2c3d4e5f60',
    skillGroupId: '0b9e8d7c-6a5f-4e3d-8c2b-1a0f9e8d7c6b',
    complianceTimeZone: zone,
    allowedCallTimes: [{ days: ['mon', 'tue', 'wed'], start: '09:00', end: '17:00' }],
    dialerStrategy: { strategy: 'predictive', agentCapacity: 10, callRate: 0.5, answerRate: 0.3 },
    compliance: { regime: 'TCPA', doNotCallCheck: true },
    pacing: { strategy: 'abandonment-target', targetAbandonment: 0.025, pollIntervalMs: 15_000 },
  };
}

describe('a config stored or queued on a fixed offset before the rule', () => {
  it('is refused as new input, yet parses with the base schema the records and jobs are read with', () => {
    for (const zone of FIXED) {
      // The same config is refused where it is written …
      expect(
        checkCampaignConfig(stored(zone), STRICT_POLICY).issues.map((i) => i.path),
        zone,
      ).toEqual(['complianceTimeZone']);
      // … and read back as it was stored.
      expect(campaignConfigBaseSchema.parse(stored(zone)).complianceTimeZone, zone).toBe(zone);
    }
  });

  it('keeps a queued launch job and a queued command that sets the zone parseable by their workers', () => {
    for (const zone of FIXED) {
      const job = launchJobSchema.parse(
        JSON.parse(
          JSON.stringify({
            launchId: 'l-1',
            config: stored(zone),
            actor: 'api:x',
            requestedAt: '2026-11-30T19:00:00Z',
          }),
        ),
      );
      expect(job.config.complianceTimeZone, zone).toBe(zone);
      const command = adjustJobSchema.parse({
        commandId: 'c-1',
        campaignId: 'k-1',
        actor: 'alice',
        requestedAt: '2026-11-30T19:00:00Z',
        patch: { complianceTimeZone: zone },
      });
      // The adjust worker parses a command's patch with the patch schema (lifecycle/executor.ts).
      expect(campaignPatchSchema.parse(command.patch).complianceTimeZone, zone).toBe(zone);
    }
  });

  it('loads from the campaign store and shows in the documented campaign view', async () => {
    const store = new CampaignStore({
      redis,
      keys,
      clock: new ManualClock(Date.parse('2026-12-01T15:00:00Z')),
    });
    for (const [i, zone] of FIXED.entries()) {
      const config = stored(zone);
      const resource = {
        ...toCreateCampaignRequest(config),
        id: `z${i}`,
        version: 2,
        status: 'active',
        createdAt: '2026-12-01T14:00:00Z',
        updatedAt: '2026-12-01T14:30:00Z',
      } as CampaignResource;
      await store.syncFromCxone(resource, { launchId: `l${i}`, config });
      const record = await store.get(`z${i}`);
      expect(record?.config, zone).toEqual(config);
      expect(campaignViewSchema.shape.config.parse(record?.config).complianceTimeZone, zone).toBe(zone);
    }
  });
});
