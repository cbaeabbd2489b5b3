import { afterEach, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/sandbox/server.js';
import { ManualClock } from '../../src/shared/clock.js';
import { call, createBody, createCampaign, FLEET, patch, start, tokenFor } from './helpers.js';

/**
 * A run: two campaigns dialing for 40 simulated minutes (their stats), then 30 requests under a 50%
 * random error rate (which of them failed). Everything in it comes from the seed.
 */
async function scenario(s: RunningSandbox, clock: ManualClock): Promise<unknown> {
  const token = await tokenFor(s);
  const ids: string[] = [];
  for (let i = 0; i < 2; i++) {
    const id = (await createCampaign(s, token, createBody())).body.id as string;
    await patch(s, token, id, 1, { status: 'scheduled' });
    expect((await patch(s, token, id, 2, { status: 'active' })).status).toBe(200);
    ids.push(id);
  }
  clock.advance(40_000); // × 60: 40 simulated minutes
  const stats = [];
  for (const id of ids) {
    const { version: _version, ...counts } = (
      await call(s, 'GET', `/api/v2/outbound/campaigns/${id}/stats`, { token })
    ).body;
    stats.push(counts);
  }
  expect((await call(s, 'POST', '/__sandbox/faults', { body: { errorRate: 0.5 } })).status).toBe(200);
  const statuses: number[] = [];
  for (let i = 0; i < 30; i++) {
    statuses.push((await call(s, 'GET', `/api/v2/campaigns/${ids[0]!}`, { token })).status);
  }
  return { stats, statuses };
}

describe('POST /__sandbox/reset', () => {
  let sandbox: RunningSandbox | undefined;
  afterEach(async () => {
    await sandbox?.close();
    sandbox = undefined;
  });

  it('replays a fresh sandbox with the same seed: dialer seeds, simulated time and fault draws', async () => {
    const opts = { seed: 11, timeScale: 60, tokenTtlSeconds: 86_400 };
    const start0 = Date.parse('2026-12-02T15:00:00Z'); // Wednesday 10:00 New York
    const clock = new ManualClock(start0);
    sandbox = await start({ ...opts, clock, rateLimit: { perWindow: 1000, windowMs: 60_000 } });
    const fresh = await scenario(sandbox, clock);
    expect(JSON.stringify(fresh)).toMatch(/503/);
    expect(JSON.stringify(fresh)).toMatch(/200/);

    expect((await call(sandbox, 'POST', '/__sandbox/reset')).status).toBe(200);
    const time = (await call(sandbox, 'GET', '/__sandbox/time')).body;
    expect(time.simNowMs).toBe(clock.now());
    expect(await scenario(sandbox, clock)).toEqual(fresh);

    // And the same as another sandbox started fresh with that seed at that instant.
    const other = new ManualClock(clock.now());
    const second = await start({ ...opts, clock: other, rateLimit: { perWindow: 1000, windowMs: 60_000 } });
    try {
      expect(await scenario(second, other)).toEqual(fresh);
    } finally {
      await second.close();
    }
  });

  it('forgets failed logins too: a fresh sandbox has no client locked out', async () => {
    sandbox = await start({ authFailureLimit: { perWindow: 2, windowMs: 60_000 } });
    const wrong = { clientId: FLEET.clientId, clientSecret: 'not-the-secret' };
    const login = (client: { clientId: string; clientSecret: string }) =>
      call(sandbox!, 'POST', '/oauth2/token', {
        form: {
          grant_type: 'client_credentials',
          client_id: client.clientId,
          client_secret: client.clientSecret,
        },
      });
    expect((await login(wrong)).status).toBe(401);
    expect((await login(wrong)).status).toBe(401);
    expect((await login(FLEET)).body.error).toBe('too_many_failed_auth');

    expect((await call(sandbox, 'POST', '/__sandbox/reset')).status).toBe(200);
    expect((await login(FLEET)).status).toBe(200);
  });

  it('restores the fault settings the sandbox started with, not none', async () => {
    sandbox = await start({ seed: 3, errorRate: 0.25, latencyMs: 5 });
    await call(sandbox, 'POST', '/__sandbox/faults', { body: { errorRate: 1, latencyMs: 0, failNext: 2 } });
    expect((await call(sandbox, 'POST', '/__sandbox/reset')).status).toBe(200);
    expect((await call(sandbox, 'GET', '/__sandbox/faults')).body).toEqual({
      latencyMs: 5,
      errorRate: 0.25,
      scripted: [],
      withheldScopes: [],
    });
  });
});
