import { afterEach, describe, expect, it } from 'vitest';
import { CXONE_ENDPOINTS } from '../../src/shared/cxone/wire.js';
import { createFleetLimiter } from '../../src/shared/limiter/fleet-limiter.js';
import {
  type FleetLimiter,
  LimiterAbortedError,
  LimiterWaitExceededError,
} from '../../src/shared/limiter/types.js';
import { silentLogger } from '../../src/shared/logger.js';
import { REDIS_URL, testPrefix } from '../cxone/harness.js';
import { deletePrefixAt } from '../support/redis-prefix.js';

/**
 * A bounded wait (maxWaitMs / signal) over real Redis: the API path must not sleep out a 429 penalty,
 * and a call that stopped waiting is never made. Unbounded calls (jobs) keep waiting as before.
 */
const EP = CXONE_ENDPOINTS.getCampaign;
const PENALTY_MS = 120_000;

let limiters: FleetLimiter[] = [];
let prefix = '';

function limiter(perWindow = 1_000, windowMs = 1_000): FleetLimiter {
  prefix ||= testPrefix('bw');
  const l = createFleetLimiter({ redisUrl: REDIS_URL, prefix, perWindow, windowMs, logger: silentLogger });
  limiters.push(l);
  return l;
}

afterEach(async () => {
  await Promise.all(limiters.map((l) => l.close()));
  limiters = [];
  await deletePrefixAt(prefix);
  prefix = '';
});

async function outcome<T>(p: Promise<T>): Promise<{ err: unknown; ms: number }> {
  const started = Date.now();
  try {
    await p;
    return { err: undefined, ms: Date.now() - started };
  } catch (err) {
    return { err, ms: Date.now() - started };
  }
}

describe('bounded waits in the fleet limiter (real Redis)', () => {
  it.each(['control', 'poll'] as const)(
    'refuses a %s call at once when the penalty outlasts maxWaitMs, without making the call',
    async (priority) => {
      const l = limiter();
      await l.penalize(EP, PENALTY_MS);
      let calls = 0;
      const { err, ms } = await outcome(
        l.schedule(EP, priority, async () => void calls++, { maxWaitMs: 3_000 }),
      );
      expect(err).toBeInstanceOf(LimiterWaitExceededError);
      const e = err as LimiterWaitExceededError;
      expect(e.endpoint).toBe(EP);
      expect(e.maxWaitMs).toBe(3_000);
      // CXone's limit (a 429's penalty), not the fleet's own budget: the API says which.
      expect(e.reason).toBe('penalty');
      // The remaining penalty, so that the client's Retry-After is honest.
      expect(e.retryAfterMs).toBeGreaterThan(PENALTY_MS - 30_000);
      expect(e.retryAfterMs).toBeLessThanOrEqual(PENALTY_MS);
      // Did not sleep until its deadline, let alone the penalty.
      expect(ms).toBeLessThan(3_000);
      expect(calls).toBe(0);
    },
  );

  it('refuses a call that is penalized after it started waiting, from another process', async () => {
    const [waiter, other] = [limiter(1, 1_000), limiter(1, 1_000)];
    // Use up the window, so the bounded call waits for the next slot and meets the new penalty then.
    await waiter.schedule(EP, 'control', async () => undefined);
    let calls = 0;
    const pending = outcome(waiter.schedule(EP, 'control', async () => void calls++, { maxWaitMs: 3_000 }));
    await other.penalize(EP, PENALTY_MS);
    const { err, ms } = await pending;
    expect(err).toBeInstanceOf(LimiterWaitExceededError);
    expect((err as LimiterWaitExceededError).retryAfterMs).toBeGreaterThan(60_000);
    expect((err as LimiterWaitExceededError).reason).toBe('penalty');
    expect(ms).toBeLessThan(5_000);
    expect(calls).toBe(0);
  });

  it("says the fleet's own budget, not a penalty, refused a call that no slot reached in time", async () => {
    // 2 per 10 s: one slot every ~5.1 s. The first call takes it; the next slot is past the deadline,
    // and CXone has penalized nothing.
    const l = limiter(2, 10_000);
    await l.schedule(EP, 'control', async () => undefined);
    let calls = 0;
    const { err, ms } = await outcome(
      l.schedule(EP, 'control', async () => void calls++, { maxWaitMs: 1_000 }),
    );
    expect(err).toBeInstanceOf(LimiterWaitExceededError);
    const e = err as LimiterWaitExceededError;
    expect(e.reason).toBe('budget');
    expect(e.message).toMatch(/the fleet's budget for it is in use/);
    // At least one slot's spacing away, not the 1 s floor a retry would meet refused again.
    expect(e.retryAfterMs).toBeGreaterThanOrEqual(5_000);
    expect(ms).toBeLessThan(2_500);
    expect(calls).toBe(0);
  });

  it('names the penalty when a 429 comes while the bounded call is still queued for its slot', async () => {
    // 2 per 10 s: the bounded call queues for a slot ~5 s away; meanwhile another call of this process
    // meets a 429. Its deadline passes in the queue, never at the penalty check — still CXone's limit.
    // A bounded poll (a job's early look): a bounded control call is an operator's, which does not
    // queue for a permit but is refused at once when its turn is past its deadline (operator-priority).
    const l = limiter(2, 10_000);
    await l.schedule(EP, 'control', async () => undefined);
    const pending = outcome(l.schedule(EP, 'poll', async () => undefined, { maxWaitMs: 1_000 }));
    await new Promise((r) => setTimeout(r, 200));
    await l.penalize(EP, PENALTY_MS);
    const { err } = await pending;
    expect(err).toBeInstanceOf(LimiterWaitExceededError);
    expect((err as LimiterWaitExceededError).reason).toBe('penalty');
    expect((err as LimiterWaitExceededError).retryAfterMs).toBeGreaterThan(60_000);
  });

  it('waits out a penalty shorter than maxWaitMs and then makes the call', async () => {
    const l = limiter();
    // Timed from before the penalty: it runs from when it was given, and a stall before reading the
    // clock after it would eat into the wait measured.
    const started = Date.now();
    await l.penalize(EP, 300);
    const ranAt = await l.schedule(EP, 'control', async () => Date.now(), { maxWaitMs: 3_000 });
    expect(ranAt - started).toBeGreaterThanOrEqual(250);
  });

  it('keeps an unbounded call (a job) waiting through the penalty, as before', async () => {
    const l = limiter();
    const started = Date.now();
    await l.penalize(EP, 700);
    const ranAt = await l.schedule(EP, 'control', async () => Date.now());
    expect(ranAt - started).toBeGreaterThanOrEqual(600);
  });

  it('stops waiting when the caller aborts, and never makes the call', async () => {
    const l = limiter();
    await l.penalize(EP, PENALTY_MS);
    const abort = new AbortController();
    let calls = 0;
    const pending = outcome(l.schedule(EP, 'poll', async () => void calls++, { signal: abort.signal }));
    setTimeout(() => abort.abort(), 100);
    const { err, ms } = await pending;
    expect(err).toBeInstanceOf(LimiterAbortedError);
    expect(ms).toBeLessThan(5_000);
    expect(calls).toBe(0);
  });

  it('a refused bounded call does not hold up the calls queued behind it', async () => {
    const l = limiter();
    await l.penalize(EP, 400);
    const abort = new AbortController();
    const refused = outcome(l.schedule(EP, 'poll', async () => 'no', { signal: abort.signal }));
    const later = l.schedule(EP, 'poll', async () => 'yes');
    abort.abort();
    expect((await refused).err).toBeInstanceOf(LimiterAbortedError);
    expect(await later).toBe('yes');
  });

  it('leaves no queued permits behind when bounded calls give up, in this process or another', async () => {
    // 20 per 10 s: one slot every ~513 ms. A burst of bounded control calls (API requests) mostly
    // gives up after 1 s; the slots they had queued for must neither sit ahead of the calls that
    // come next nor be spent, fleet-wide, on calls nobody makes any more.
    const a = limiter(20, 10_000);
    const b = limiter(20, 10_000);
    const WRITE = CXONE_ENDPOINTS.updateCampaign;
    await a.schedule(WRITE, 'control', async () => undefined);
    await b.schedule(WRITE, 'control', async () => undefined);
    const burst = await Promise.all(
      Array.from({ length: 20 }, () =>
        outcome(a.schedule(WRITE, 'control', async () => undefined, { maxWaitMs: 1_000 })),
      ),
    );
    expect(burst.filter((r) => r.err instanceof LimiterWaitExceededError).length).toBeGreaterThan(15);
    // Another process's job calls: one slot each, not one in three.
    const other = await outcome(
      (async () => {
        for (let i = 0; i < 4; i++) await b.schedule(WRITE, 'control', async () => undefined);
      })(),
    );
    expect(other.err).toBeUndefined();
    expect(other.ms).toBeLessThan(3_500);
    // And this process's next call.
    const next = await outcome(a.schedule(WRITE, 'control', async () => undefined));
    expect(next.ms).toBeLessThan(1_500);
  }, 30_000);
});
