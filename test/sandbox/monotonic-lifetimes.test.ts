import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/shared/clock.js';
import { SimulatedTime } from '../../src/sandbox/sim-time.js';
import type { RunningSandbox } from '../../src/sandbox/server.js';
import { call, createBody, start, tokenFor } from './helpers.js';

const T0 = Date.parse('2026-12-01T15:00:00Z');
const HOUR = 3_600_000;

/**
 * Lifetimes (tokens, idempotency keys) and simulated time are measured on a monotonic clock: a step
 * of the wall clock (NTP, a VM resuming) neither lengthens nor shortens them. Measured on wall time,
 * an hour's step back kept an expired token valid for an hour more, and a step back then forward
 * again made simulated time jump by the step × timeScale.
 */
describe('wall-clock steps and lifetimes', () => {
  let sandbox: RunningSandbox | undefined;
  afterEach(async () => {
    await sandbox?.close();
    sandbox = undefined;
  });

  const stats = (token: string) => call(sandbox!, 'GET', '/api/v2/campaigns/nope', { token });

  it('a token expires after its TTL of elapsed time, whatever the wall clock does', async () => {
    const clock = new ManualClock(T0);
    sandbox = await start({ clock, tokenTtlSeconds: 60 });
    const backThenExpired = await tokenFor(sandbox);
    clock.step(-HOUR);
    clock.advance(59_000);
    expect((await stats(backThenExpired)).status).toBe(404);
    clock.advance(1_000);
    const late = await stats(backThenExpired);
    expect(late.status).toBe(401);
    expect(late.body.message).toBe('the access token expired');

    const forward = await tokenFor(sandbox);
    clock.step(HOUR);
    expect((await stats(forward)).status).toBe(404);
    clock.advance(60_000);
    expect((await stats(forward)).status).toBe(401);
  });

  it('an Idempotency-Key is remembered for its TTL of elapsed time, whatever the wall clock does', async () => {
    const clock = new ManualClock(T0);
    sandbox = await start({
      clock,
      idempotencyTtlMs: 60_000,
      rateLimit: { perWindow: 1000, windowMs: 60_000 },
    });
    const token = await tokenFor(sandbox);
    const create = (key: string, body: unknown) =>
      call(sandbox!, 'POST', '/api/v2/campaigns', { token, body, headers: { 'idempotency-key': key } });

    const body = createBody();
    expect((await create('k-forward', body)).status).toBe(201);
    clock.step(HOUR);
    const replay = await create('k-forward', body);
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');

    expect((await create('k-back', body)).status).toBe(201);
    clock.step(-HOUR);
    clock.advance(61_000);
    const fresh = await create('k-back', createBody());
    expect(fresh.status).toBe(201);
    expect(fresh.headers.get('idempotent-replayed')).toBeNull();
  });

  it('simulated time does not jump when the wall clock steps back then forward again', () => {
    const clock = new ManualClock(T0);
    const time = new SimulatedTime(clock, 60);
    clock.advance(10_000);
    const before = time.now();
    clock.step(-HOUR);
    expect(time.now()).toBe(before);
    clock.step(HOUR);
    expect(time.now()).toBe(before);
    clock.step(HOUR);
    expect(time.now()).toBe(before);
    clock.advance(1_000);
    expect(time.now()).toBe(before + 60_000);
    // Skips still move it by the whole skip.
    time.skip(600_000);
    expect(time.now()).toBe(before + 660_000);
    // An instant stands for the wall clock's reading as it reads now, minus the time since.
    expect(time.realOf(before + 30_000)).toBe(clock.now() - 500);
    expect(time.realOf(before + 300_000)).toBe(clock.now());
  });
});

describe('wall-clock steps forward and budgets', () => {
  let sandbox: RunningSandbox | undefined;
  afterEach(async () => {
    await sandbox?.close();
    sandbox = undefined;
  });

  for (const mode of ['sliding', 'fixed'] as const) {
    it(`a spent ${mode} rate budget is not given back by a step forward of the wall clock`, async () => {
      const clock = new ManualClock(T0 + 1_000);
      sandbox = await start({ clock, rateLimit: { perWindow: 2, windowMs: 60_000, mode } });
      const token = await tokenFor(sandbox);
      const read = () => call(sandbox!, 'GET', '/api/v2/campaigns/nope', { token });
      expect((await read()).status).toBe(404);
      expect((await read()).status).toBe(404);
      expect((await read()).status).toBe(429);
      clock.step(HOUR);
      const refused = await read();
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(60);
      clock.advance(60_000);
      expect((await read()).status).toBe(404);
    });
  }

  it('a failed-login lockout is not lifted by a step forward of the wall clock', async () => {
    const clock = new ManualClock(T0);
    sandbox = await start({ clock, authFailureLimit: { perWindow: 2, windowMs: 60_000 } });
    const login = (secret: string) =>
      call(sandbox!, 'POST', '/oauth2/token', {
        form: { grant_type: 'client_credentials', client_id: 'fleet-client', client_secret: secret },
      });
    expect((await login('wrong')).status).toBe(401);
    expect((await login('wrong')).status).toBe(401);
    expect((await login('fleet-secret')).status).toBe(429);
    clock.step(HOUR);
    expect((await login('fleet-secret')).status).toBe(429);
    clock.advance(60_000);
    expect((await login('fleet-secret')).status).toBe(200);
  });
});
