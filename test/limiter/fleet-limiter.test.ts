import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { CXONE_ENDPOINTS } from '../../src/shared/cxone/wire.js';
import { BOTTLENECK_IDLE_TTL_MS } from '../../src/shared/limiter/endpoint-limiter.js';
import { createFleetLimiter } from '../../src/shared/limiter/fleet-limiter.js';
import { keysStartingWith } from '../../src/shared/private-prefix.js';
import { computeSpacing } from '../../src/shared/limiter/spacing.js';
import { type FleetLimiter, LimiterClosedError } from '../../src/shared/limiter/types.js';
import { recordingLogger } from '../support/log-capture.js';
import { deletePrefixAt, REDIS_URL, testPrefix } from '../support/redis-prefix.js';
import { limiterFleets, maxInSpan } from './fleet-helpers.js';

const EP = CXONE_ENDPOINTS.getStats;
const PER_WINDOW = 10;
const WINDOW_MS = 1_000;

const fleets = limiterFleets('fl', PER_WINDOW, WINDOW_MS);
const fleet = (n: number): FleetLimiter[] => fleets.start(n);

afterEach(() => fleets.close());

describe('fleet limiter (real Redis)', () => {
  it('never starts more than perWindow calls in any window across instances, and spreads them', async () => {
    const instances = fleet(3);
    const starts: number[] = [];
    // 24 calls: more than two windows' budget, so the limit is met and the window slides at least twice.
    await Promise.all(
      instances.flatMap((limiter) =>
        Array.from({ length: 8 }, () =>
          limiter.schedule(EP, 'poll', async () => {
            starts.push(Date.now());
          }),
        ),
      ),
    );
    expect(starts).toHaveLength(24);
    expect(maxInSpan(starts, WINDOW_MS)).toBeLessThanOrEqual(PER_WINDOW);
    // Spread, not burst: a quarter window holds about a quarter of the budget (a burst at a refresh
    // would put the whole budget there); +2 allows for timers a loaded machine fires late together.
    expect(maxInSpan(starts, WINDOW_MS / 4)).toBeLessThanOrEqual(Math.ceil(PER_WINDOW / 4) + 2);
    // And consecutive calls are minTime apart on average.
    const sorted = [...starts].sort((a, b) => a - b);
    const { minTimeMs } = computeSpacing(PER_WINDOW, WINDOW_MS);
    expect(((sorted.at(-1) as number) - (sorted[0] as number)) / (sorted.length - 1)).toBeGreaterThanOrEqual(
      minTimeMs * 0.9,
    );
  });

  it('keeps endpoints independent', async () => {
    const [limiter] = fleet(1);
    const starts: Record<string, number[]> = { a: [], b: [] };
    await Promise.all([
      ...Array.from({ length: 8 }, () =>
        limiter!.schedule(EP, 'poll', async () => void starts.a!.push(Date.now())),
      ),
      ...Array.from({ length: 8 }, () =>
        limiter!.schedule(CXONE_ENDPOINTS.getCampaign, 'poll', async () => void starts.b!.push(Date.now())),
      ),
    ]);
    // Both endpoints progressed side by side rather than one after the other.
    expect(Math.abs(Math.max(...starts.a!) - Math.max(...starts.b!))).toBeLessThan(500);
    // Each on its own budget: eight calls minTime apart take 7 gaps; sharing one budget, the sixteen
    // would interleave (ending together as above) over 15.
    const { minTimeMs } = computeSpacing(PER_WINDOW, WINDOW_MS);
    const all = [...starts.a!, ...starts.b!];
    expect(Math.max(...all) - Math.min(...all)).toBeLessThan(11 * minTimeMs);
  });

  it('penalize pauses the endpoint for every instance', async () => {
    const [a, b] = fleet(2);
    await b!.schedule(EP, 'poll', async () => undefined);
    // Timed from before the penalty: it runs from when it was given, and a stall before reading the
    // clock after it would eat into the wait measured.
    const before = Date.now();
    await a!.penalize(EP, 700);
    const started = await b!.schedule(EP, 'control', async () => Date.now());
    expect(started - before).toBeGreaterThanOrEqual(600);
  });

  it('lets a control call overtake polls queued in other instances', async () => {
    const [pollers, controller] = fleet(2);
    const pollStarts: number[] = [];
    const backlog = Array.from({ length: 25 }, () =>
      pollers!.schedule(EP, 'poll', async () => void pollStarts.push(Date.now())),
    );
    await sleep(400);
    const submitted = Date.now();
    const controlStart = await controller!.schedule(EP, 'control', async () => Date.now());
    const overtakenBy = pollStarts.filter((t) => t > submitted && t < controlStart).length;
    // Only slots already promised before the control call arrived may go first.
    expect(overtakenBy).toBeLessThanOrEqual(3);
    await Promise.all(backlog);
    expect(pollStarts.filter((t) => t > controlStart).length).toBeGreaterThan(10);
  });

  it('rejects waiting calls when closed', async () => {
    const [limiter] = fleet(1);
    const waiting = Array.from({ length: 30 }, () => limiter!.schedule(EP, 'poll', async () => 'ran'));
    const settled = Promise.allSettled(waiting);
    await sleep(150);
    await limiter!.close();
    const results = await settled;
    const rejected = results.filter((r) => r.status === 'rejected');
    expect(rejected.length).toBeGreaterThan(20);
    for (const r of rejected) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(LimiterClosedError);
    await expect(limiter!.schedule(EP, 'poll', async () => 1)).rejects.toBeInstanceOf(LimiterClosedError);
  });
});

describe("Bottleneck's keys under the fleet's prefix", () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    while (cleanup.length > 0) await cleanup.pop()!();
  });

  it('expire a day after the last permit, and a call after they lapsed makes them again, quietly', async () => {
    const prefix = testPrefix('bttl');
    const redis = new Redis(REDIS_URL);
    cleanup.push(
      async () => redis.disconnect(),
      () => deletePrefixAt(prefix),
    );
    const { logger, lines } = recordingLogger('warn');
    const limiter = createFleetLimiter({
      redisUrl: REDIS_URL,
      prefix,
      perWindow: PER_WINDOW,
      windowMs: WINDOW_MS,
      logger,
    });
    cleanup.push(() => limiter.close());
    const bottleneckKeys = () => keysStartingWith(redis, `b_${prefix}`);
    const expectDayTtl = async (keys: string[]) => {
      expect(keys.length).toBeGreaterThan(0);
      for (const key of keys) {
        const ttl = await redis.pttl(key);
        // Set from the next permit's time, which may lie up to a permit gap ahead.
        expect(ttl, key).toBeGreaterThan(BOTTLENECK_IDLE_TTL_MS - 60_000);
        expect(ttl, key).toBeLessThanOrEqual(BOTTLENECK_IDLE_TTL_MS + WINDOW_MS);
      }
    };

    await limiter.schedule(EP, 'control', async () => undefined);
    const keys = await bottleneckKeys();
    await expectDayTtl(keys);

    // A day without a call: the keys lapse while the process still runs.
    await redis.del(...keys);
    const made: number[] = [];
    await Promise.all(
      Array.from({ length: 3 }, () =>
        limiter.schedule(EP, 'control', async () => void made.push(Date.now())),
      ),
    );
    expect(made).toHaveLength(3);
    await expectDayTtl(await bottleneckKeys());
    // Bottleneck set itself up again; nothing to warn an operator of.
    expect(lines.map((line) => line.msg)).toEqual([]);
  });
});
