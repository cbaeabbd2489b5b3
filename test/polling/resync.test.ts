import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { registerCampaignRoutes } from '../../src/producers/routes/campaigns.js';
import { CampaignStore } from '../../src/shared/campaign-store.js';
import type { AppContext } from '../../src/shared/context.js';
import type { CampaignResource } from '../../src/shared/cxone/wire.js';
import { CxoneUnavailableError } from '../../src/shared/errors.js';
import { runPollCycle } from '../../src/shared/polling/poll-cycle.js';
import { campaignConfig, resource, statsOf } from '../lifecycle/fixtures.js';
import { deletePrefix, pollingContext, REDIS_URL, testPrefix, type PollingTestContext } from './helpers.js';

/**
 * A campaign changed outside the orchestrator, whose re-read fails once: the record must not be
 * taken for current afterwards, neither by the next poll nor by the API's freshness check.
 */
let admin: Redis;
let base: PollingTestContext;
let prefix: string;

const STATS = statsOf({ version: 5, totalCalls: 10, answeredCalls: 3, agentUtilization: 40 });

/** A CXone stand-in: stats at version 5; the first `failures` getCampaign calls answer 503. */
function standIn(changed: CampaignResource, failures: number) {
  const calls = { getCampaign: 0 };
  const cxone = {
    getStats: async () => STATS,
    getCampaign: async (campaignId: string) => {
      calls.getCampaign += 1;
      if (calls.getCampaign <= failures) {
        throw new CxoneUnavailableError('CXone answered 503', {
          endpoint: 'GET /api/v2/outbound/campaigns/:id',
          status: 503,
          campaignId,
        });
      }
      return changed;
    },
  };
  return { ctx: { ...base, cxone } as unknown as AppContext, calls };
}

async function viewOf(ctx: AppContext, campaignId: string) {
  const app = Fastify();
  await registerCampaignRoutes(app, ctx);
  try {
    const reply = await app.inject({ method: 'GET', url: `/v1/campaigns/${campaignId}` });
    return reply.json() as {
      version: number;
      stale?: boolean;
      config: { dialerStrategy: { callRate: number } };
    };
  } finally {
    await app.close();
  }
}

beforeAll(() => {
  admin = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
});
afterEach(async () => {
  await base?.close();
  await deletePrefix(admin, prefix);
});
afterAll(async () => {
  await admin.quit();
});

describe('re-read after a change made outside the orchestrator', () => {
  it('retries a failed re-read on the next poll, and the API reports stale until it succeeds', async () => {
    prefix = testPrefix();
    base = pollingContext(prefix);
    const store = new CampaignStore(base);
    await store.put({
      campaignId: 'ext',
      status: 'paused',
      version: 3,
      config: campaignConfig(),
      cxone: resource({ id: 'ext', version: 3, status: 'paused' }),
    });
    const changed = resource({
      id: 'ext',
      version: 5,
      status: 'paused',
      dialerSettings: { ...resource().dialerSettings, callRate: 0.7 },
    });
    const { ctx, calls } = standIn(changed, 1);

    // First poll: the stats show version 5, the re-read answers 503 and the poll fails (and is retried).
    await expect(runPollCycle(ctx, 'ext')).rejects.toBeInstanceOf(CxoneUnavailableError);
    let record = await store.get('ext');
    expect(record?.cxone.version).toBe(3);
    expect(record?.config.dialerStrategy.callRate).not.toBe(0.7);

    // A stats poll just ran, yet the API must not serve this view as fresh: it asks CXone (still
    // failing here) and reports the cached view as stale.
    const failing = standIn(changed, Number.POSITIVE_INFINITY);
    const staleView = await viewOf(failing.ctx, 'ext');
    expect(failing.calls.getCampaign).toBe(1);
    expect(staleView.stale).toBe(true);

    // Next poll, same version in the stats: it re-reads all the same, and the record converges.
    const outcome = await runPollCycle(ctx, 'ext');
    expect(outcome).toMatchObject({ kind: 'polled', status: 'paused' });
    expect(calls.getCampaign).toBe(2);
    record = await store.get('ext');
    expect(record?.cxone.version).toBe(5);
    expect(record?.version).toBe(5);
    expect(record?.config.dialerStrategy.callRate).toBe(0.7);

    // Now current: served from the cache without asking CXone, not stale.
    const fresh = await viewOf(failing.ctx, 'ext');
    expect(failing.calls.getCampaign).toBe(1);
    expect(fresh.stale).toBeUndefined();
    expect(fresh.config.dialerStrategy.callRate).toBe(0.7);

    // And a later poll at the same version does not re-read again.
    await runPollCycle(ctx, 'ext');
    expect(calls.getCampaign).toBe(2);
  });
});
