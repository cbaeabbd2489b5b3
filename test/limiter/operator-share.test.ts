import { afterEach, describe, expect, it } from 'vitest';
import { CXONE_ENDPOINTS } from '../../src/shared/cxone/wire.js';
import { LimiterWaitExceededError, type FleetLimiter } from '../../src/shared/limiter/types.js';
import { computeSpacing, operatorSlots } from '../../src/shared/limiter/spacing.js';
import { Redis } from 'ioredis';
import { createKeys } from '../../src/shared/keys.js';
import { REDIS_URL } from '../support/redis-prefix.js';
import { limiterFleets } from './fleet-helpers.js';

/**
 * Operators' calls (bounded control calls: an HTTP client waits) against the fleet's jobs (unbounded
 * control calls, as the adjust worker's reads for pacing's and compliance's commands), real Redis,
 * separate limiter instances standing for separate processes.
 */
const EP = CXONE_ENDPOINTS.getCampaign;
const PER_WINDOW = 10;
const WINDOW_MS = 2_000;
const spacing = computeSpacing(PER_WINDOW, WINDOW_MS);
const fleet = limiterFleets('opshare', PER_WINDOW, WINDOW_MS);

afterEach(() => fleet.close());

/** Keeps `n` unbounded control calls queued on `limiter` until stopped; records every start. */
function jobs(limiter: FleetLimiter, n: number, starts: number[]) {
  let stopping = false;
  const loops = Array.from({ length: n }, async () => {
    while (!stopping) {
      await limiter.schedule(EP, 'control', async () => void starts.push(Date.now())).catch(() => undefined);
    }
  });
  return async () => {
    stopping = true;
    await Promise.all(loops);
  };
}

/** The most starts within any `spanMs`. */
function busiestSpan(starts: number[], spanMs: number): number {
  const sorted = [...starts].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; j < sorted.length; j++) {
    while ((sorted[j] as number) - (sorted[i] as number) >= spanMs) i++;
    most = Math.max(most, j - i + 1);
  }
  return most;
}

describe("operators' calls before the fleet's jobs", () => {
  it('go ahead of control jobs queued in other processes, and the window still holds', async () => {
    const [api, ...workers] = fleet.start(7);
    const starts: number[] = [];
    const stops = workers.map((w) => jobs(w!, 4, starts));
    await new Promise((r) => setTimeout(r, 1_000));

    const waits: number[] = [];
    for (let i = 0; i < 6; i++) {
      const asked = Date.now();
      await api!.schedule(EP, 'control', async () => void starts.push(Date.now()), { maxWaitMs: 3_000 });
      waits.push(Date.now() - asked);
      await new Promise((r) => setTimeout(r, 300));
    }
    await Promise.all(stops.map((stop) => stop()));

    // One or two spacings each (here 225 ms: its turn comes a spacing after the latest start, or when
    // the full window frees a slot), whatever six processes had queued: before, the operator won
    // about one permit race in seven and waited several spacings.
    console.log(`operator waits (ms): ${waits.join(', ')}`);
    expect(Math.max(...waits)).toBeLessThan(3 * spacing.minTimeMs + 150);
    // Never more than perWindow starts in any window, operators' calls included.
    expect(busiestSpan(starts, WINDOW_MS)).toBeLessThanOrEqual(PER_WINDOW);
  }, 30_000);

  it("a flood of operators' calls leaves the jobs the rest of the budget", async () => {
    const [api, worker] = fleet.start(2);
    const jobStarts: number[] = [];
    const operatorStarts: number[] = [];
    const stopJobs = jobs(worker!, 8, jobStarts);
    let stopping = false;
    let refused = 0;
    // The most operators' calls that went ahead of the jobs within one span, sampled while they flood.
    const redis = new Redis(REDIS_URL);
    const operatorLog = `${createKeys(fleet.prefix).limiter(EP)}:operator-log`;
    let mostAhead = 0;
    const sampler = setInterval(() => {
      void redis.time().then(async ([seconds, micros]) => {
        const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
        const ahead = await redis.zcount(operatorLog, `(${now - WINDOW_MS - spacing.marginMs}`, '+inf');
        mostAhead = Math.max(mostAhead, ahead);
      });
    }, 100);
    const operators = Array.from({ length: 6 }, async () => {
      while (!stopping) {
        await api!
          .schedule(EP, 'control', async () => void operatorStarts.push(Date.now()), { maxWaitMs: 3_000 })
          .catch((err: unknown) => {
            if (!(err instanceof LimiterWaitExceededError)) throw err;
            refused++;
          });
      }
    });
    await new Promise((r) => setTimeout(r, 3 * (WINDOW_MS + spacing.marginMs)));
    stopping = true;
    clearInterval(sampler);
    await Promise.all(operators);
    await stopJobs();
    redis.disconnect();

    const all = [...jobStarts, ...operatorStarts];
    expect(busiestSpan(all, WINDOW_MS)).toBeLessThanOrEqual(PER_WINDOW);
    // Operators go first only within their share (half the window); past it they queue with the jobs,
    // so the jobs get slots in every window rather than none while operators keep asking.
    expect(jobStarts.length).toBeGreaterThanOrEqual(3);
    expect(jobStarts.length / all.length).toBeGreaterThan(0.2);
    expect(refused + operatorStarts.length).toBeGreaterThan(0);
    console.log(`jobs ${jobStarts.length}, operators ${operatorStarts.length}, operators refused ${refused}`);
    expect(mostAhead).toBeGreaterThan(0);
    expect(mostAhead).toBeLessThanOrEqual(5);
    expect(operatorSlots(PER_WINDOW)).toBe(5);
  }, 30_000);
});
