import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { CXONE_ENDPOINTS } from '../../src/shared/cxone/wire.js';
import { computeSpacing } from '../../src/shared/limiter/spacing.js';
import { type FleetLimiter, LimiterClosedError } from '../../src/shared/limiter/types.js';
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
