import { describe, expect, it } from 'vitest';
import { pollIntervalFloor, polledCampaigns } from '../../src/shared/metrics.js';
import { ensurePolling, refreshPollingMetrics, stopPolling } from '../../src/shared/polling/schedulers.js';
import { pollingFleets, type PollingTestContext } from './helpers.js';

/**
 * `cxo_polled_campaigns` and `cxo_poll_interval_floor_seconds` as a scrape reads them from Redis
 * (refreshPollingMetrics, called by GET /metrics), on real Redis.
 */

const fleets = pollingFleets('floor');
const fleet = (): PollingTestContext => fleets({ perWindow: 100, windowMs: 60_000 }).ctx;

async function gauge(metric: typeof pollIntervalFloor): Promise<number | undefined> {
  return (await metric.get()).values[0]?.value;
}

const metaKey = (ctx: PollingTestContext) => ctx.keys.custom('polling', 'meta');

describe('poll budget gauges read at scrape time', () => {
  it('report the floor in force: 3 campaigns at 100/min share 80 requests a minute, 2.25 s each', async () => {
    const ctx = fleet();
    for (const id of ['f1', 'f2', 'f3']) await ensurePolling(ctx, id, 5_000);
    polledCampaigns.set(-1);
    pollIntervalFloor.set(-1);
    await refreshPollingMetrics(ctx);
    expect(await gauge(polledCampaigns)).toBe(3);
    expect(await gauge(pollIntervalFloor)).toBe(2.25);
  });

  it('do not read 0 s while a rebalance has cleared the recorded floor (campaigns still polled at one)', async () => {
    const ctx = fleet();
    for (const id of ['f1', 'f2', 'f3']) await ensurePolling(ctx, id, 5_000);
    // What a rebalance in progress leaves (its first step), and what a campaign scheduled without the
    // rebalance lock past the recorded tier leaves until the next rebalance.
    await ctx.redis.hdel(metaKey(ctx), 'floorMs');
    await refreshPollingMetrics(ctx);
    expect(await gauge(polledCampaigns)).toBe(3);
    expect(await gauge(pollIntervalFloor)).toBe(2.25);
  });

  it('report the count tier when it has outgrown the recorded one (a lockless activation)', async () => {
    const ctx = fleet();
    for (const id of ['f1', 'f2', 'f3']) await ensurePolling(ctx, id, 5_000);
    // Four campaigns now, the tier recorded still 3 and its floor cleared: the floor for new schedules is tier 4's.
    await ctx.redis.hset(ctx.keys.custom('polling', 'active'), 'f4', '5000');
    await ctx.redis.hdel(metaKey(ctx), 'floorMs');
    await refreshPollingMetrics(ctx);
    expect(await gauge(polledCampaigns)).toBe(4);
    expect(await gauge(pollIntervalFloor)).toBe(3);
  });

  it('read the same with no campaign polled, whether none ever was or the last one stopped', async () => {
    const fresh = fleet();
    await refreshPollingMetrics(fresh);
    const neverPolled = await gauge(pollIntervalFloor);

    const ctx = fleet();
    await ensurePolling(ctx, 'f1', 5_000);
    await stopPolling(ctx, 'f1');
    await refreshPollingMetrics(ctx);
    const afterStop = await gauge(pollIntervalFloor);

    expect(await gauge(polledCampaigns)).toBe(0);
    // One campaign alone may poll every 60 s / 80 = 0.75 s.
    expect(afterStop).toBe(0.75);
    expect(neverPolled).toBe(afterStop);
  });
});
