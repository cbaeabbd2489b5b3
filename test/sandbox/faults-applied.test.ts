import { afterEach, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/sandbox/server.js';
import { call, createBody, createCampaign, patch, start, tokenFor } from './helpers.js';

/**
 * A real 502/504 can come after the service behind the gateway committed: the create was made, the
 * PATCH written. A sandbox whose every injected 5xx proved that nothing happened let a client that
 * blindly re-sends (a create without Idempotency-Key, a PATCH on the version it read) pass here and
 * duplicate campaigns or meet its own write as a conflict on the platform.
 */
describe('sandbox faults that answer after the request was carried out', () => {
  let sandbox: RunningSandbox | undefined;
  afterEach(async () => {
    await sandbox?.close();
    sandbox = undefined;
  });

  it('writes a PATCH and answers 503: the version moved, a re-send on the old one is a 409', async () => {
    sandbox = await start();
    const token = await tokenFor(sandbox);
    const id = (await createCampaign(sandbox, token)).body.id as string;
    const set = await call(sandbox, 'POST', '/__sandbox/faults', {
      body: { failNext: 1, status: 503, endpoint: 'PATCH /api/v2/campaigns/:id', applied: true },
    });
    expect(set.status).toBe(200);
    expect(set.body.scripted).toEqual([
      { remaining: 1, status: 503, endpoint: 'PATCH /api/v2/campaigns/:id', applied: true },
    ]);

    const failed = await patch(sandbox, token, id, 1, { dialerSettings: { callRate: 0.3 } });
    expect(failed.status).toBe(503);
    expect(failed.body).toMatchObject({ error: 'unavailable' });
    expect(failed.headers.get('content-type')).toMatch(/^application\/json/);

    const now = await call(sandbox, 'GET', `/api/v2/campaigns/${id}`, { token });
    expect(now.body).toMatchObject({ version: 2, dialerSettings: { callRate: 0.3 } });
    const again = await patch(sandbox, token, id, 1, { dialerSettings: { callRate: 0.3 } });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ error: 'version_conflict', currentVersion: 2 });

    const counters = (await call(sandbox, 'GET', '/__sandbox/counters')).body.endpoints as Record<
      string,
      { faults: number; accepted: number; errors: number }
    >;
    expect(counters['PATCH /api/v2/campaigns/:id']).toMatchObject({ accepted: 2, faults: 1, errors: 1 });
  });

  it('creates a campaign and answers 503, without Location; an Idempotency-Key re-send gets it back', async () => {
    sandbox = await start();
    const token = await tokenFor(sandbox);
    await call(sandbox, 'POST', '/__sandbox/faults', {
      body: { failNext: 1, status: 502, endpoint: 'POST /api/v2/campaigns', applied: true },
    });
    const before = sandbox.campaignCount();
    const body = createBody();
    const headers = { 'idempotency-key': 'create-applied-1' };
    const failed = await call(sandbox, 'POST', '/api/v2/campaigns', { token, body, headers });
    expect(failed.status).toBe(502);
    expect(failed.headers.get('location')).toBeNull();
    expect(sandbox.campaignCount()).toBe(before + 1);

    const replay = await call(sandbox, 'POST', '/api/v2/campaigns', { token, body, headers });
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(sandbox.campaignCount()).toBe(before + 1);
  });

  it('refuses `applied` on a 429 or without failNext, naming it', async () => {
    sandbox = await start();
    for (const body of [
      { failNext: 1, status: 429, applied: true },
      { errorRate: 0.5, applied: true },
    ]) {
      const res = await call(sandbox, 'POST', '/__sandbox/faults', { body });
      expect(res.status).toBe(422);
      expect(res.body.errors).toEqual([expect.objectContaining({ field: 'applied' })]);
    }
  });
});
