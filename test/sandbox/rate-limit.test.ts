import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { AuthFailureThrottle } from '../../src/sandbox/auth-throttle.js';
import { RateWindow, retryAfterSeconds } from '../../src/sandbox/rate-window.js';
import type { RunningSandbox } from '../../src/sandbox/server.js';
import { ManualClock } from '../../src/shared/clock.js';
import { call, createCampaign, READER, start, tokenFor } from './helpers.js';

describe('RateWindow', () => {
  it('fixed: allows perWindow per epoch-aligned window and says how long until the next one', () => {
    const clock = new ManualClock(60_000 * 1000 + 15_000);
    const window = new RateWindow({ perWindow: 3, windowMs: 60_000, mode: 'fixed' }, clock);
    expect([1, 2, 3].map(() => window.take('a').ok)).toEqual([true, true, true]);
    expect(window.take('a')).toEqual({ ok: false, retryAfterMs: 45_000 });
    expect(window.take('b').ok).toBe(true);
    clock.advance(44_999);
    expect(window.take('a').ok).toBe(false);
    clock.advance(1);
    expect(window.take('a')).toEqual({ ok: true, remaining: 2 });
  });

  it('is sliding by default: a burst on each side of a window boundary is not twice the budget', () => {
    const clock = new ManualClock(9_850);
    const window = new RateWindow({ perWindow: 5, windowMs: 10_000 }, clock);
    expect([1, 2, 3, 4, 5].map(() => window.take('a').ok)).toEqual([true, true, true, true, true]);
    clock.set(10_010); // past an epoch-aligned boundary, 160 ms later
    expect(window.take('a')).toEqual({ ok: false, retryAfterMs: 9_840 });
    expect(window.limits.mode).toBe('sliding');
  });

  it('sliding: never more than perWindow in any interval of windowMs', () => {
    const clock = new ManualClock(0);
    const window = new RateWindow({ perWindow: 2, windowMs: 1000, mode: 'sliding' }, clock);
    expect(window.take('k').ok).toBe(true);
    clock.advance(600);
    expect(window.take('k').ok).toBe(true);
    clock.advance(100);
    expect(window.take('k')).toEqual({ ok: false, retryAfterMs: 300 });
    clock.advance(300);
    expect(window.take('k').ok).toBe(true);
    expect(window.take('k')).toEqual({ ok: false, retryAfterMs: 600 });
  });

  it('sliding: a wall clock stepped back never makes a wait longer than the window', () => {
    // The entries from before an hour's step back stood an hour in the future: the window held them
    // an hour and a window, and a 429 told its client to come back in over an hour.
    const clock = new ManualClock(Date.parse('2026-12-01T15:00:00Z'));
    const window = new RateWindow({ perWindow: 2, windowMs: 60_000, mode: 'sliding' }, clock);
    expect([window.take('k').ok, window.take('k').ok]).toEqual([true, true]);
    clock.advance(-3_600_000);
    expect(window.take('k')).toEqual({ ok: false, retryAfterMs: 60_000 });
    clock.advance(60_000);
    expect(window.take('k').ok).toBe(true);

    const throttle = new AuthFailureThrottle({ perWindow: 2, windowMs: 60_000 }, clock);
    throttle.fail('c');
    throttle.fail('c');
    clock.advance(-3_600_000);
    expect(throttle.lockedForMs('c')).toBe(60_000);
    clock.advance(60_000);
    expect(throttle.lockedForMs('c')).toBeUndefined();
  });

  it('fixed: a wall clock stepped back into an earlier window gives back no budget, and no wait over a window', () => {
    // Read as a new window, a step back of seconds across a boundary handed out a fresh budget at
    // once, and another at the boundary the clock crossed again: three budgets within seconds of real
    // time, in what was one window on the platform's own clock.
    const clock = new ManualClock(Date.parse('2026-12-01T15:01:05Z'));
    const window = new RateWindow({ perWindow: 3, windowMs: 60_000, mode: 'fixed' }, clock);
    expect([1, 2, 3].map(() => window.take('a').ok)).toEqual([true, true, true]);
    clock.advance(-10_000);
    expect(window.take('a')).toEqual({ ok: false, retryAfterMs: 55_000 });
    clock.advance(5_000); // the clock crosses 15:01 again: still the window spent before the step
    expect(window.take('a')).toEqual({ ok: false, retryAfterMs: 50_000 });
    clock.advance(50_000);
    expect(window.take('a')).toEqual({ ok: true, remaining: 2 });
    // An hour's step: the wait is what was left of the window, never the hour.
    expect([window.take('a').ok, window.take('a').ok, window.take('a').ok]).toEqual([true, true, false]);
    clock.advance(-3_600_000);
    expect(window.take('a')).toEqual({ ok: false, retryAfterMs: 10_000 });
    clock.advance(9_999);
    expect(window.take('a').ok).toBe(false);
    clock.advance(1);
    expect(window.take('a').ok).toBe(true);
  });

  it('rounds Retry-After up to whole seconds, at least 1', () => {
    expect(retryAfterSeconds(1)).toBe(1);
    expect(retryAfterSeconds(1000)).toBe(1);
    expect(retryAfterSeconds(1001)).toBe(2);
    expect(retryAfterSeconds(0)).toBe(1);
  });
});

describe('sandbox per-endpoint rate limit over HTTP', () => {
  let sandbox: RunningSandbox | undefined;
  afterEach(async () => {
    await sandbox?.close();
    sandbox = undefined;
  });

  it('answers 429 with Retry-After once an endpoint budget is spent, per tenant and per endpoint', async () => {
    const clock = new ManualClock(10_000 * 100_000);
    sandbox = await start({
      clock,
      rateLimit: { perWindow: 3, windowMs: 10_000 },
      tokenRateLimit: { perWindow: 5, windowMs: 10_000 },
    });
    const token = await tokenFor(sandbox);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1)
      statuses.push((await call(sandbox, 'GET', '/api/v2/campaigns/x', { token })).status);
    // Every admitted request spends budget, including the ones answered 404.
    expect(statuses).toEqual([404, 404, 404, 429]);
    clock.advance(500);
    const limited = await call(sandbox, 'GET', '/api/v2/campaigns/y', { token });
    expect(limited.status).toBe(429);
    expect(limited.body).toMatchObject({ error: 'rate_limited', retryAfterSeconds: 10 });
    expect(limited.headers.get('retry-after')).toBe('10');

    // Another endpoint has its own budget; another tenant has its own too.
    expect((await createCampaign(sandbox, token)).status).toBe(201);
    const readerToken = await tokenFor(sandbox, READER);
    expect((await call(sandbox, 'GET', '/api/v2/campaigns/x', { token: readerToken })).status).toBe(404);

    clock.advance(9_000);
    expect((await call(sandbox, 'GET', '/api/v2/campaigns/x', { token })).headers.get('retry-after')).toBe(
      '1',
    );
    clock.advance(500);
    expect((await call(sandbox, 'GET', '/api/v2/campaigns/x', { token })).status).toBe(404);

    const counters = (await call(sandbox, 'GET', '/__sandbox/counters')).body.endpoints as Record<
      string,
      { requests: number; accepted: number; rateLimited: number; errors: number }
    >;
    expect(counters['GET /api/v2/campaigns/:id']).toMatchObject({
      requests: 8,
      accepted: 5,
      rateLimited: 3,
      errors: 5,
    });
    expect(counters['POST /api/v2/campaigns']).toMatchObject({
      requests: 1,
      accepted: 1,
      rateLimited: 0,
      errors: 0,
    });
  });

  it('limits the token endpoint separately', async () => {
    const clock = new ManualClock(10_000 * 100_000);
    sandbox = await start({
      clock,
      rateLimit: { perWindow: 100, windowMs: 10_000 },
      tokenRateLimit: { perWindow: 2, windowMs: 10_000 },
    });
    await tokenFor(sandbox);
    const token = await tokenFor(sandbox);
    await expect(tokenFor(sandbox)).rejects.toThrow(/429/);
    expect((await call(sandbox, 'GET', '/api/v2/campaigns/x', { token })).status).toBe(404);
  });

  it('enforces a short real-time window end to end', async () => {
    // The default, sliding window: three in any second, wherever the second's boundaries fall.
    sandbox = await start({ rateLimit: { perWindow: 3, windowMs: 1000 } });
    const token = await tokenFor(sandbox);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1)
      statuses.push((await call(sandbox, 'GET', '/api/v2/campaigns/x', { token })).status);
    expect(statuses).toEqual([404, 404, 404, 429]);
    // A second after the last one admitted, every admitted request has left the window.
    await sleep(1_050);
    expect((await call(sandbox, 'GET', '/api/v2/campaigns/x', { token })).status).toBe(404);
    const counters = (await call(sandbox, 'DELETE', '/__sandbox/counters')).body;
    expect(counters.endpoints).toEqual({});
  });
});
