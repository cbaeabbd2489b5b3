import { afterEach, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/sandbox/server.js';
import { call, start, tokenFor } from './helpers.js';

describe('sandbox fault injection and control surface', () => {
  let sandbox: RunningSandbox | undefined;
  afterEach(async () => {
    await sandbox?.close();
    sandbox = undefined;
  });

  async function statuses(
    s: RunningSandbox,
    token: string,
    n: number,
    path = '/api/v2/campaigns/x',
  ): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < n; i += 1) out.push((await call(s, 'GET', path, { token })).status);
    return out;
  }

  it('fails exactly the next N requests when scripted, then recovers', async () => {
    sandbox = await start();
    const token = await tokenFor(sandbox);
    const set = await call(sandbox, 'POST', '/__sandbox/faults', { body: { failNext: 3, status: 503 } });
    expect(set.status).toBe(200);
    expect(set.body.scripted).toEqual([{ remaining: 3, status: 503 }]);
    const first = await call(sandbox, 'GET', '/api/v2/campaigns/x', { token });
    expect(first.body).toMatchObject({ error: 'unavailable' });
    expect([first.status, ...(await statuses(sandbox, token, 3))]).toEqual([503, 503, 503, 404]);
    const counters = (await call(sandbox, 'GET', '/__sandbox/counters')).body.endpoints as Record<
      string,
      { faults: number; accepted: number }
    >;
    expect(counters['GET /api/v2/campaigns/:id']).toMatchObject({ faults: 3, accepted: 4 });
  });

  it('scopes scripted failures to one endpoint and can script a 429 storm with Retry-After', async () => {
    sandbox = await start();
    const token = await tokenFor(sandbox);
    await call(sandbox, 'POST', '/__sandbox/faults', {
      body: {
        failNext: 2,
        status: 429,
        retryAfterSeconds: 3,
        endpoint: 'GET /api/v2/outbound/campaigns/:id/stats',
      },
    });
    expect(await statuses(sandbox, token, 1)).toEqual([404]);
    const storm = await call(sandbox, 'GET', '/api/v2/outbound/campaigns/x/stats', { token });
    expect(storm.status).toBe(429);
    expect(storm.headers.get('retry-after')).toBe('3');
    expect(await statuses(sandbox, token, 2, '/api/v2/outbound/campaigns/x/stats')).toEqual([429, 404]);
  });

  it('applies a seeded random 5xx rate: the same seed fails the same requests', async () => {
    const runs: number[][] = [];
    for (let i = 0; i < 2; i += 1) {
      const s = await start({ seed: 7 });
      const token = await tokenFor(s);
      s.setFaults({ errorRate: 0.5 });
      runs.push(await statuses(s, token, 30));
      await s.close();
    }
    expect(runs[0]).toEqual(runs[1]);
    expect(runs[0]).toContain(503);
    expect(runs[0]).toContain(404);
  });

  it('switches faults at run time with setFaults and the control routes', async () => {
    sandbox = await start();
    const token = await tokenFor(sandbox);
    sandbox.setFaults({ errorRate: 1 });
    expect(await statuses(sandbox, token, 3)).toEqual([503, 503, 503]);
    await call(sandbox, 'POST', '/__sandbox/faults', { body: { errorRate: 0, latencyMs: 150 } });
    const started = Date.now();
    expect(await statuses(sandbox, token, 1)).toEqual([404]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    const cleared = await call(sandbox, 'DELETE', '/__sandbox/faults');
    expect(cleared.body).toEqual({ latencyMs: 0, errorRate: 0, scripted: [], withheldScopes: [] });
    const bad = await call(sandbox, 'POST', '/__sandbox/faults', {
      body: { failNext: 2, status: 404, extra: 1 },
    });
    expect(bad.status).toBe(422);
    expect((bad.body.errors as { field: string }[]).map((e) => e.field).sort()).toEqual(['extra', 'status']);
  });

  it('guards /__sandbox with x-sandbox-admin when an admin token is configured', async () => {
    sandbox = await start({ adminToken: 'let-me-in-please' });
    const refused = await call(sandbox, 'GET', '/__sandbox/campaigns');
    expect(refused.status).toBe(401);
    const wrong = await call(sandbox, 'GET', '/__sandbox/campaigns', {
      headers: { 'x-sandbox-admin': 'nope' },
    });
    expect(wrong.status).toBe(401);
    const ok = await call(sandbox, 'GET', '/__sandbox/campaigns', {
      headers: { 'x-sandbox-admin': 'let-me-in-please' },
    });
    expect(ok).toMatchObject({ status: 200, body: { campaigns: [] } });
    const config = await call(sandbox, 'GET', '/__sandbox/config', {
      headers: { 'x-sandbox-admin': 'let-me-in-please' },
    });
    expect(JSON.stringify(config.body)).not.toContain('secret');
  });

  it('resets campaigns, counters and rate windows but keeps tokens valid', async () => {
    sandbox = await start({ rateLimit: { perWindow: 1, windowMs: 60_000 } });
    const token = await tokenFor(sandbox);
    expect(await statuses(sandbox, token, 2)).toEqual([404, 429]);
    expect((await call(sandbox, 'POST', '/__sandbox/reset')).status).toBe(200);
    expect(await statuses(sandbox, token, 1)).toEqual([404]);
  });
});
