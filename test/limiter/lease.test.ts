import { afterEach, describe, expect, it } from 'vitest';
import { CXONE_ENDPOINTS } from '../../src/shared/cxone/wire.js';
import { createKeys } from '../../src/shared/keys.js';
import { computeSpacing } from '../../src/shared/limiter/spacing.js';
import {
  type FleetLimiter,
  LimiterClosedError,
  LimiterWaitExceededError,
} from '../../src/shared/limiter/types.js';
import { createRedis } from '../../src/shared/redis.js';
import { REDIS_URL } from '../cxone/harness.js';
import { limiterFleets, maxInSpan } from './fleet-helpers.js';

const EP = CXONE_ENDPOINTS.createCampaign;
/** minTime 7 ms → a permit is a lease of 7 slots over a 49 ms slice. */
const PER_WINDOW = 200;
const WINDOW_MS = 1_000;

const fleets = limiterFleets('lease', PER_WINDOW, WINDOW_MS);
const fleet = (n: number): FleetLimiter[] => fleets.start(n);

afterEach(() => fleets.close());

describe('fleet limiter leases (real Redis)', () => {
  it('uses leases at this budget', () => {
    const s = computeSpacing(PER_WINDOW, WINDOW_MS);
    expect(s.leaseSlots).toBe(7);
    expect(s.permitGapMs).toBe(49);
  });

  it('keeps the fleet within the window, spaces each process minTime apart, and asks Redis once per lease', async () => {
    const instances = fleet(2);
    const starts: number[][] = [[], []];
    const calls = 260; // more than one window's budget, so the hard window has to hold
    await Promise.all(
      instances.flatMap((limiter, i) =>
        Array.from({ length: calls / 2 }, (_, n) =>
          limiter.schedule(
            EP,
            n % 4 === 0 ? 'poll' : 'control',
            async () => void starts[i]!.push(Date.now()),
          ),
        ),
      ),
    );
    const all = starts.flat();
    expect(all).toHaveLength(calls);
    expect(maxInSpan(all, WINDOW_MS)).toBeLessThanOrEqual(PER_WINDOW);
    const { minTimeMs, leaseSlots } = computeSpacing(PER_WINDOW, WINDOW_MS);
    for (const own of starts) {
      // Slots are minTime apart: a burst from a lease would start all its slots in the same
      // millisecond, 6 gaps in 7 under half of minTime. Counted over the run, not as the most calls
      // in any 10 × minTime (at most 12 of them): a loaded machine's stall of 20 ms runs the slots
      // that fell due in it together, so one stall put 13 there, while stalls take a run's bunched
      // gaps to half only if they take up half its time.
      const sorted = [...own].sort((a, b) => a - b);
      const bunched = sorted.slice(1).filter((t, i) => t - sorted[i]! < minTimeMs / 2).length;
      expect(bunched, `${bunched} of ${sorted.length - 1} gaps under ${minTimeMs / 2} ms`).toBeLessThan(
        (sorted.length - 1) / 2,
      );
    }
    // Every slot taken from the hard window is a log entry; a lease takes up to leaseSlots at once,
    // so there are fewer hard-window round trips than calls (and never fewer entries than calls).
    const redis = createRedis(REDIS_URL);
    try {
      const entries = await redis.zrange(`${createKeys(fleets.prefix).limiter(EP)}:log`, '0', '-1');
      const leases = new Set(entries.map((e) => e.replace(/:\d+$/, '')));
      expect(entries.length).toBeGreaterThan(0);
      expect(leases.size).toBeLessThan(entries.length);
      expect(
        Math.max(...[...leases].map((l) => entries.filter((e) => e.startsWith(`${l}:`)).length)),
      ).toBeLessThanOrEqual(leaseSlots);
    } finally {
      redis.disconnect();
    }
  });

  it('stops spending its leased slots after a 429 penalty', async () => {
    const [a] = fleet(1);
    await a!.schedule(EP, 'control', async () => undefined); // leases 7 slots, spends 1
    // Timed from before the penalty: it runs from when it was given, and a stall before reading the
    // clock after it would eat into the wait measured.
    const before = Date.now();
    await a!.penalize(EP, 400);
    const started = await a!.schedule(EP, 'control', async () => Date.now());
    expect(started - before).toBeGreaterThanOrEqual(350);
  });

  it('ends the spacing wait of calls spending leased slots when the limiter closes', async () => {
    const [a] = fleet(1);
    await a!.schedule(EP, 'control', async () => undefined); // leases 7 slots, spends 1
    // Slots of the held lease, each minTime behind the one before: all but the first wait.
    const ran: number[] = [];
    const calls = Array.from({ length: 5 }, () =>
      a!.schedule(EP, 'control', async () => void ran.push(Date.now())).catch((err: unknown) => err),
    );
    await a!.close();
    const results = await Promise.all(calls);
    const closed = results.filter((r) => r instanceof LimiterClosedError);
    expect(closed.length).toBeGreaterThanOrEqual(4);
    expect(ran.length + closed.length).toBe(5);
  });

  it('refuses a bounded call at once behind a penalty, even while another call is getting a lease', async () => {
    const [a] = fleet(1);
    await a!.penalize(EP, 5_000);
    // An unbounded call (a job) waits the penalty out, holding this process's lease request.
    const job = a!.schedule(EP, 'control', async () => 'ran').catch((err: unknown) => err);
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    const err = await a!
      .schedule(EP, 'control', async () => 'ran', { maxWaitMs: 1_000 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LimiterWaitExceededError);
    expect(Date.now() - started).toBeLessThan(500);
    expect((err as LimiterWaitExceededError).retryAfterMs).toBeGreaterThan(3_000);
    void job;
  });

  it("refuses a bounded call under another process's penalty even while its own lease has slots", async () => {
    const [a, b] = fleet(2);
    await a!.schedule(EP, 'control', async () => undefined); // a leases 7 slots, spends 1
    await b!.penalize(EP, 5_000);
    const err = await a!
      .schedule(EP, 'control', async () => 'ran', { maxWaitMs: 1_000 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LimiterWaitExceededError);
    expect((err as LimiterWaitExceededError).retryAfterMs).toBeGreaterThan(3_000);
  });

  it('serves waiting control calls before polls from the same lease', async () => {
    const [a] = fleet(1);
    const order: string[] = [];
    const run = (priority: 'poll' | 'control') =>
      a!.schedule(EP, priority, async () => void order.push(priority));
    // The first control call asks for a lease; polls and then more control calls wait for it, the
    // polls first in line.
    const first = run('control');
    const polls = Array.from({ length: 6 }, () => run('poll'));
    const controls = Array.from({ length: 3 }, () => run('control'));
    await Promise.all([first, ...polls, ...controls]);
    // The lease has seven slots: its first four go to the four control calls.
    expect(order.slice(0, 4)).toEqual(['control', 'control', 'control', 'control']);
    expect(order).toHaveLength(10);
  });
});
