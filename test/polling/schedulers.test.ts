import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { CampaignStore } from '../../src/shared/campaign-store.js';
import {
  campaignIdOfPollJob,
  ensurePolling,
  listPolledCampaigns,
  nextPollRunAt,
  POLL_JOB_NAME,
  POLL_TEMPLATE_OPTS,
  pollSchedulerId,
  rebalancePolling,
  stopPolling,
} from '../../src/shared/polling/schedulers.js';
import type { AppContext } from '../../src/shared/context.js';
import { createPollWorker } from '../../src/workers/poll-worker.js';
import { campaignConfig, resource } from '../lifecycle/fixtures.js';
import { pollingFleets, testPrefix, type PollingTestContext } from './helpers.js';

const fleet = pollingFleets();

async function schedulers(ctx: PollingTestContext) {
  const list = await ctx.queues.poll.getJobSchedulers(0, -1, true);
  return new Map(list.map((s) => [s.key, s]));
}

describe('poll schedulers', () => {
  it('creates one scheduler per campaign, with the poll job template', async () => {
    const { ctx } = fleet();
    for (const id of ['c1', 'c2', 'c3']) await ensurePolling(ctx, id, 15_000);
    const all = await schedulers(ctx);
    expect([...all.keys()].sort()).toEqual(['poll:c1', 'poll:c2', 'poll:c3']);
    const one = await ctx.queues.poll.getJobScheduler(pollSchedulerId('c2'));
    expect(one?.every).toBe(15_000);
    expect(one?.name).toBe(POLL_JOB_NAME);
    // The campaign is the scheduler's id: the template carries no data, only attempts + backoff.
    expect(one?.template?.data ?? {}).toEqual({});
    expect(one?.template?.opts).toEqual(POLL_TEMPLATE_OPTS);
  });

  it('is idempotent: ensuring again, from two processes at once, never duplicates', async () => {
    const { ctx, prefix } = fleet();
    const { ctx: other } = fleet(undefined, prefix);
    await Promise.all([
      ensurePolling(ctx, 'a', 15_000),
      ensurePolling(other, 'a', 15_000),
      ensurePolling(ctx, 'b', 15_000),
      ensurePolling(other, 'b', 15_000),
    ]);
    await ensurePolling(ctx, 'a', 15_000);
    expect(await ctx.queues.poll.getJobSchedulersCount()).toBe(2);
  });

  it('survives a fleet restart: nothing lost, nothing duplicated, one per campaign', async () => {
    const prefix = testPrefix();
    const campaigns = ['r1', 'r2', 'r3', 'r4'];
    const first = fleet(undefined, prefix).ctx;
    for (const id of campaigns) await ensurePolling(first, id, 20_000);
    await first.close();

    // A new process: the schedulers are still there before anyone calls ensurePolling…
    const second = fleet(undefined, prefix).ctx;
    expect(await second.queues.poll.getJobSchedulersCount()).toBe(campaigns.length);
    // …and the activation path running again (a launch worker retried, a resume) changes nothing.
    for (const id of campaigns) await ensurePolling(second, id);
    const all = await schedulers(second);
    expect(all.size).toBe(campaigns.length);
    for (const id of campaigns) expect(all.get(pollSchedulerId(id))?.every).toBe(20_000);
  });

  it('stops polling a campaign on completion or cancellation, and tolerates stopping twice', async () => {
    const { ctx } = fleet();
    await ensurePolling(ctx, 'x', 15_000);
    await ensurePolling(ctx, 'y', 15_000);
    await stopPolling(ctx, 'x');
    await stopPolling(ctx, 'x');
    await stopPolling(ctx, 'never-polled');
    expect([...(await schedulers(ctx)).keys()]).toEqual(['poll:y']);
    expect([...(await listPolledCampaigns(ctx)).keys()]).toEqual(['y']);
  });

  it('stretches every interval to fit the stats budget, and tightens again when campaigns end', async () => {
    // 10 requests a minute, 20% reserved → 8 polls a minute for everyone.
    const { ctx } = fleet({ perWindow: 10, windowMs: 60_000 });
    for (const id of ['b1', 'b2']) await ensurePolling(ctx, id, 15_000);
    let all = await schedulers(ctx);
    expect(all.get('poll:b1')?.every).toBe(15_000); // 2 campaigns × 4/min = 8/min: fits

    for (const id of ['b3', 'b4']) await ensurePolling(ctx, id, 15_000);
    all = await schedulers(ctx);
    for (const id of ['b1', 'b2', 'b3', 'b4']) expect(all.get(pollSchedulerId(id))?.every).toBe(30_000);

    await stopPolling(ctx, 'b3');
    await stopPolling(ctx, 'b4');
    all = await schedulers(ctx);
    expect(all.get('poll:b1')?.every).toBe(15_000);
    expect(all.get('poll:b2')?.every).toBe(15_000);
  });

  it('re-fits every interval to a rate limit changed since the fleet last scheduled them', async () => {
    const prefix = testPrefix();
    const before = fleet({ perWindow: 20, windowMs: 60_000 }, prefix).ctx;
    for (const id of ['r1', 'r2', 'r3', 'r4', 'r5', 'r6']) await ensurePolling(before, id, 1_000);
    const was = (await schedulers(before)).get('poll:r1')?.every as number;
    // The fleet restarts with half the budget; the campaign count stays within the same tier.
    const after = fleet({ perWindow: 10, windowMs: 60_000 }, prefix).ctx;
    await ensurePolling(after, 'r7', 1_000);
    const all = await schedulers(after);
    expect(all.size).toBe(7);
    for (const [key, s] of all) expect(s.every, key).toBe(2 * was);
  });

  it('re-fits every interval when a poll worker starts on another rate limit, with no activation needed', async () => {
    const prefix = testPrefix();
    const before = fleet({ perWindow: 20, windowMs: 600_000 }, prefix).ctx;
    for (const id of ['w1', 'w2', 'w3']) await ensurePolling(before, id, 1_000);
    const was = (await schedulers(before)).get('poll:w1')?.every as number;
    await before.close();
    // The fleet restarts with half the budget, and no campaign starts or ends: before, every campaign
    // went on polling at the old interval (twice what the stats endpoint now allows) until one did.
    const after = fleet({ perWindow: 10, windowMs: 600_000 }, prefix).ctx;
    const worker = createPollWorker({
      ...after,
      config: { ...after.config, cxone: { ...after.config.cxone, timeoutMs: 10_000 }, workerConcurrency: 1 },
    } as unknown as AppContext);
    try {
      // Waited for until the floor is recorded too: the rebalance writes it after the last scheduler,
      // so a read between the two would see none.
      const deadline = Date.now() + 20_000;
      let intervals: (number | null | undefined)[] = [];
      let meta: string | null = null;
      while (Date.now() < deadline) {
        intervals = [...(await schedulers(after)).values()].map((s) => s.every);
        meta = await after.redis.hget(after.keys.custom('polling', 'meta'), 'floorMs');
        if (intervals.every((every) => every === 2 * was) && Number(meta) === 2 * was) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(intervals).toEqual([2 * was, 2 * was, 2 * was]);
      expect(Number(meta)).toBe(2 * was);
    } finally {
      await worker.close();
    }
  });

  it('keeps no scheduler of a campaign stopped while a rebalance rewrites it', async () => {
    const { ctx, prefix } = fleet({ perWindow: 10, windowMs: 60_000 });
    const { ctx: other } = fleet({ perWindow: 10, windowMs: 60_000 }, prefix);
    for (const id of ['s1', 's2']) await ensurePolling(ctx, id, 15_000);
    // Another process stops s1 between this rebalance's read of the polled campaigns and its upsert.
    // The upsert waits for the stop's removal only: the rest of the stop waits for the lock this
    // rebalance holds, and awaiting all of it here held both until the lock's ttl (10 s) ran out.
    const remove = other.queues.poll.removeJobScheduler.bind(other.queues.poll);
    let removedS1!: () => void;
    const s1Removed = new Promise<void>((resolve) => (removedS1 = resolve));
    other.queues.poll.removeJobScheduler = (async (...args: Parameters<typeof remove>) => {
      const removed = await remove(...args);
      if (args[0] === pollSchedulerId('s1')) removedS1();
      return removed;
    }) as typeof remove;
    const upsert = ctx.queues.poll.upsertJobScheduler.bind(ctx.queues.poll);
    let stopping: Promise<void> | undefined;
    ctx.queues.poll.upsertJobScheduler = (async (...args: Parameters<typeof upsert>) => {
      if (args[0] === pollSchedulerId('s1') && !stopping) {
        stopping = stopPolling(other, 's1');
        await Promise.race([s1Removed, stopping]);
      }
      return upsert(...args);
    }) as typeof upsert;
    for (const id of ['s3', 's4']) await ensurePolling(ctx, id, 15_000); // crosses a tier: rewrites all
    expect(stopping).toBeDefined();
    await stopping;
    expect([...(await schedulers(ctx)).keys()].sort()).toEqual(['poll:s2', 'poll:s3', 'poll:s4']);
    expect([...(await listPolledCampaigns(ctx)).keys()].sort()).toEqual(['s2', 's3', 's4']);
  });

  it('logs a ramp-up as one line per activation and one warning per tier change, not one per campaign', async () => {
    const { ctx } = fleet({ perWindow: 10, windowMs: 60_000 });
    const lines: { level: number; msg: string; stretched?: number }[] = [];
    (ctx as { logger: unknown }).logger = pino(
      { level: 'info' },
      { write: (line: string) => void lines.push(JSON.parse(line) as (typeof lines)[number]) },
    );
    for (let i = 0; i < 12; i++) await ensurePolling(ctx, `r${i}`, 15_000);

    expect(lines.filter((l) => l.msg.startsWith('polling scheduled'))).toHaveLength(12);
    const warnings = lines.filter((l) => l.level >= 40);
    // Stretched from the third campaign on; the tiers 3, 4, 5, 7, 9 and 12 each warn once.
    expect(warnings.map((w) => w.msg)).toEqual(
      Array(6).fill('poll intervals stretched to stay within the stats endpoint budget; rebalancing'),
    );
    expect(warnings.at(-1)?.stretched).toBe(10); // the tenth campaign moved the fleet to tier 12
  });

  it('reports the effective and desired interval in the campaign record', async () => {
    const { ctx } = fleet({ perWindow: 10, windowMs: 60_000 });
    const store = new CampaignStore(ctx);
    for (const id of ['p1', 'p2', 'p3']) {
      await store.put({
        campaignId: id,
        status: 'active',
        version: 1,
        config: campaignConfig({
          pacing: { strategy: 'abandonment-target', targetAbandonment: 0.025, pollIntervalMs: 10_000 },
        }),
        cxone: resource({ id, version: 1 }),
      });
    }
    // No interval given: the campaign's own pacing.pollIntervalMs is used.
    for (const id of ['p1', 'p2', 'p3']) await ensurePolling(ctx, id);
    // 3 campaigns on 8 polls a minute → every 22.5 s at best.
    for (const id of ['p1', 'p2', 'p3']) {
      expect((await store.get(id))?.polling).toEqual({
        effectiveIntervalMs: 22_500,
        desiredIntervalMs: 10_000,
      });
    }
    await stopPolling(ctx, 'p3');
    expect((await store.get('p1'))?.polling).toEqual({
      effectiveIntervalMs: 15_000,
      desiredIntervalMs: 10_000,
    });
    // A campaign no longer polled no longer says it is, and the rest of its record stays.
    const stopped = await store.get('p3');
    expect(stopped?.polling).toBeUndefined();
    expect(stopped).toMatchObject({ status: 'active', version: 1 });
  });

  it('changes a campaign interval when asked with a new one', async () => {
    const { ctx } = fleet();
    await ensurePolling(ctx, 'i', 15_000);
    await ensurePolling(ctx, 'i', 60_000);
    expect((await ctx.queues.poll.getJobScheduler('poll:i'))?.every).toBe(60_000);
    expect(await ctx.queues.poll.getJobSchedulersCount()).toBe(1);
  });

  it('activates in O(1) Redis calls: other schedulers are not read or rewritten within a tier', async () => {
    // 100 a minute → 80 usable; the floor binds above 20 campaigns at 15 s.
    const { ctx } = fleet();
    for (let i = 0; i < 30; i += 1) await ensurePolling(ctx, `o${i}`, 15_000);
    const calls: string[] = [];
    const poll = ctx.queues.poll;
    const spy = (name: 'getJobScheduler' | 'upsertJobScheduler') => {
      const original = poll[name].bind(poll) as (...args: unknown[]) => Promise<unknown>;
      (poll as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
        calls.push(`${name}:${String(args[0])}`);
        return original(...args);
      };
    };
    spy('getJobScheduler');
    spy('upsertJobScheduler');
    // 30 → tier 30; the 31st campaign crosses into tier 38 and rewrites everyone, the 32nd does not.
    await ensurePolling(ctx, 'o30', 15_000);
    expect(calls.filter((c) => c.startsWith('upsertJobScheduler')).length).toBe(31);
    calls.length = 0;
    await ensurePolling(ctx, 'o31', 15_000);
    expect(calls).toEqual(['getJobScheduler:poll:o31', 'upsertJobScheduler:poll:o31']);

    // Whatever the path, every interval respects the exact budget for the real count.
    const all = await schedulers(ctx);
    const exactFloor = Math.ceil((60_000 * 32) / 80);
    for (const s of all.values()) expect(s.every).toBeGreaterThanOrEqual(exactFloor);
    expect(new Set([...all.values()].map((s) => s.every)).size).toBe(1);
  });

  it('repairs and migrates schedulers written by an earlier release', async () => {
    const { ctx } = fleet();
    await ctx.queues.poll.upsertJobScheduler(
      pollSchedulerId('old'),
      { every: 15_000 },
      { name: POLL_JOB_NAME, data: { campaignId: 'old' }, opts: { removeOnComplete: 100, attempts: 3 } },
    );
    await ctx.redis.hset(ctx.keys.custom('polling', 'active'), 'old', '15000');
    await rebalancePolling(ctx);
    const migrated = await ctx.queues.poll.getJobScheduler(pollSchedulerId('old'));
    expect(migrated?.template?.data ?? {}).toEqual({});
    expect(migrated?.template?.opts).toEqual(POLL_TEMPLATE_OPTS);
    expect(migrated?.every).toBe(15_000);
  });

  it('keeps each scheduler on its own phase when a budget tier change rewrites the intervals', async () => {
    // 10 a minute → 8 usable: 2 campaigns fit at 15 s, a 3rd moves everyone to 22.5 s.
    const { ctx } = fleet({ perWindow: 10, windowMs: 60_000 });
    const ids = ['ph1', 'ph2'];
    for (const id of ids) await ensurePolling(ctx, id, 15_000);
    // Put the two at distinct phases well in the future, as a running fleet would have them.
    const t0 = Date.now();
    const planned = new Map([
      ['ph1', t0 + 6_000],
      ['ph2', t0 + 13_000],
    ]);
    for (const [id, at] of planned) {
      await ctx.queues.poll.removeJobScheduler(pollSchedulerId(id));
      await ctx.queues.poll.upsertJobScheduler(
        pollSchedulerId(id),
        { every: 15_000, startDate: at },
        { name: POLL_JOB_NAME, data: {}, opts: POLL_TEMPLATE_OPTS },
      );
    }
    for (const [id, at] of planned) {
      expect((await ctx.queues.poll.getJobScheduler(pollSchedulerId(id)))?.next).toBe(at);
    }

    await ensurePolling(ctx, 'ph3', 15_000);
    const now = Date.now();
    const all = await schedulers(ctx);
    const nextRuns: number[] = [];
    for (const id of [...ids, 'ph3']) {
      const s = all.get(pollSchedulerId(id));
      expect(s?.every).toBe(22_500);
      const next = Number(s?.next);
      // Within the new interval, and not bunched at "now" the way a plain upsert leaves them.
      expect(next).toBeGreaterThan(now);
      expect(next).toBeLessThanOrEqual(now + 22_500);
      nextRuns.push(next);
    }
    // The rewritten ones run 22.5 s after their last run (next − 15 s): still 7 s apart.
    expect(nextRuns[0]).toBe((planned.get('ph1') as number) + 7_500);
    expect(nextRuns[1]).toBe((planned.get('ph2') as number) + 7_500);
    expect(Math.min(...nextRuns) - now).toBeGreaterThan(1_000);

    // Back to two campaigns: 15 s again, still within it and on distinct phases.
    await stopPolling(ctx, 'ph3');
    const after = await schedulers(ctx);
    const later = Date.now();
    const shorter = ids.map((id) => after.get(pollSchedulerId(id)));
    for (const s of shorter) {
      expect(s?.every).toBe(15_000);
      expect(Number(s?.next)).toBeGreaterThan(later);
      expect(Number(s?.next)).toBeLessThanOrEqual(later + 15_000);
    }
    expect(Math.abs(Number(shorter[0]?.next) - Number(shorter[1]?.next))).toBeGreaterThan(1_000);
  });

  it('spreads the first runs of new schedulers over their interval', async () => {
    const { ctx } = fleet();
    const before = Date.now();
    const ids = Array.from({ length: 12 }, (_, i) => `new-${i}`);
    for (const id of ids) await ensurePolling(ctx, id, 15_000);
    const all = await schedulers(ctx);
    const offsets = ids.map((id) => Number(all.get(pollSchedulerId(id))?.next) - before);
    for (const offset of offsets) {
      expect(offset).toBeGreaterThan(0);
      expect(offset).toBeLessThanOrEqual(15_000 + (Date.now() - before));
    }
    // Not all at once: at least a few seconds between the first and the last.
    expect(Math.max(...offsets) - Math.min(...offsets)).toBeGreaterThan(3_000);
  });

  it('plans the next run within the new interval from the last one (pure)', () => {
    const now = 1_000_000;
    const at = (existing: { next: number; every: number } | null, everyMs: number) =>
      nextPollRunAt({ nowMs: now, everyMs, campaignId: 'c', existing });
    // Unchanged interval: the next run stays.
    expect(at({ next: now + 4_000, every: 15_000 }, 15_000)).toBe(now + 4_000);
    // Longer: 30 s after the last run (next − 15 s).
    expect(at({ next: now + 4_000, every: 15_000 }, 30_000)).toBe(now + 19_000);
    // Shorter, last run recent enough: 15 s after it.
    expect(at({ next: now + 25_000, every: 30_000 }, 15_000)).toBe(now + 10_000);
    // Shorter, already overdue under the new interval: the pending run is folded into it.
    expect(at({ next: now + 4_000, every: 60_000 }, 15_000)).toBe(now + 4_000);
    expect(at({ next: now + 40_000, every: 60_000 }, 15_000)).toBe(now + 10_000);
    // Due right now (backlog): counts as the last run.
    expect(at({ next: now - 1_000, every: 15_000 }, 30_000)).toBe(now + 29_000);
    // New: somewhere in (now, now + every], the same for the same campaign.
    const first = at(null, 15_000);
    expect(first).toBeGreaterThan(now);
    expect(first).toBeLessThanOrEqual(now + 15_000);
    expect(at(null, 15_000)).toBe(first);
  });

  it('names the campaign of a poll job from its scheduler, or from the data of older jobs', () => {
    expect(campaignIdOfPollJob({ data: {}, repeatJobKey: 'poll:abc' })).toBe('abc');
    expect(campaignIdOfPollJob({ data: { campaignId: 'legacy' }, repeatJobKey: 'poll:legacy' })).toBe(
      'legacy',
    );
    expect(campaignIdOfPollJob({ data: { campaignId: 'manual' } })).toBe('manual');
    expect(campaignIdOfPollJob({ data: {}, repeatJobKey: 'other:abc' })).toBeNull();
    expect(campaignIdOfPollJob({ data: {} })).toBeNull();
  });
});
