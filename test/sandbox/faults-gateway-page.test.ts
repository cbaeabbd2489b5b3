import { afterEach, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/sandbox/server.js';
import { call, createBody, createCampaign, start, tokenFor } from './helpers.js';

/**
 * The load balancers in front of CXone answer a 502/504 with their own HTML page, or with nothing,
 * not with CXone's JSON error: a client that only ever met the sandbox's JSON 5xx never had to read
 * one. Scripted faults can answer that way, before or after the request was carried out.
 */
describe('sandbox faults answered as a gateway would: an HTML page or no body', () => {
  let sandbox: RunningSandbox | undefined;
  afterEach(async () => {
    await sandbox?.close();
    sandbox = undefined;
  });

  async function raw(s: RunningSandbox, method: string, path: string, token: string, body?: unknown) {
    const res = await fetch(`${s.url}${path}`, {
      method,
      headers: {
        accept: 'application/json',
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, headers: res.headers, text: await res.text() };
  }

  it('answers a 502 with an HTML page and a 504 with no body, then recovers', async () => {
    sandbox = await start();
    const token = await tokenFor(sandbox);
    const id = (await createCampaign(sandbox, token)).body.id as string;
    const set = await call(sandbox, 'POST', '/__sandbox/faults', {
      body: { failNext: 1, status: 502, body: 'html', endpoint: 'GET /api/v2/campaigns/:id' },
    });
    expect(set.status).toBe(200);
    expect(set.body.scripted).toEqual([
      { remaining: 1, status: 502, body: 'html', endpoint: 'GET /api/v2/campaigns/:id' },
    ]);
    const page = await raw(sandbox, 'GET', `/api/v2/campaigns/${id}`, token);
    expect(page.status).toBe(502);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.text).toMatch(/^<!DOCTYPE html>/);
    expect(page.text).toContain('<title>502 Bad Gateway</title>');
    // As real ones are: long enough that its first 500 characters are markup and styles.
    expect(page.text.length).toBeGreaterThan(1_000);

    await call(sandbox, 'POST', '/__sandbox/faults', { body: { failNext: 1, status: 504, body: 'empty' } });
    const empty = await raw(sandbox, 'GET', `/api/v2/campaigns/${id}`, token);
    expect(empty.status).toBe(504);
    expect(empty.text).toBe('');
    expect(empty.headers.get('content-type')).toBeNull();
    expect(empty.headers.get('content-length')).toBe('0');

    expect((await raw(sandbox, 'GET', `/api/v2/campaigns/${id}`, token)).status).toBe(200);
    const counters = (await call(sandbox, 'GET', '/__sandbox/counters')).body.endpoints as Record<
      string,
      { faults: number; byStatus: Record<string, number> }
    >;
    expect(counters['GET /api/v2/campaigns/:id']).toMatchObject({
      faults: 2,
      byStatus: { '502': 1, '504': 1, '200': 1 },
    });
  });

  it('carries a PATCH out, then answers 504 with the page: the version moved', async () => {
    sandbox = await start();
    const token = await tokenFor(sandbox);
    const id = (await createCampaign(sandbox, token)).body.id as string;
    await call(sandbox, 'POST', '/__sandbox/faults', {
      body: {
        failNext: 1,
        status: 504,
        body: 'html',
        applied: true,
        endpoint: 'PATCH /api/v2/campaigns/:id',
      },
    });
    const failed = await fetch(`${sandbox.url}/api/v2/campaigns/${id}`, {
      method: 'PATCH',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        'if-match': 'version=1',
      },
      body: JSON.stringify({ dialerSettings: { callRate: 0.3 } }),
    });
    expect(failed.status).toBe(504);
    expect(failed.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await failed.text()).toContain('<h1>504 Gateway Timeout</h1>');
    const now = await call(sandbox, 'GET', `/api/v2/campaigns/${id}`, { token });
    expect(now.body).toMatchObject({ version: 2, dialerSettings: { callRate: 0.3 } });
  });

  it('creates, then answers 502 with no body and no Location; the Idempotency-Key re-send gets it back', async () => {
    sandbox = await start();
    const token = await tokenFor(sandbox);
    await call(sandbox, 'POST', '/__sandbox/faults', {
      body: { failNext: 1, status: 502, body: 'empty', applied: true, endpoint: 'POST /api/v2/campaigns' },
    });
    const body = createBody();
    const send = () =>
      fetch(`${sandbox!.url}/api/v2/campaigns`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'idempotency-key': 'gateway-empty-1',
        },
        body: JSON.stringify(body),
      });
    const failed = await send();
    expect(failed.status).toBe(502);
    expect(await failed.text()).toBe('');
    expect(failed.headers.get('content-type')).toBeNull();
    expect(failed.headers.get('location')).toBeNull();
    expect(sandbox.campaignCount()).toBe(1);
    const replay = await send();
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(sandbox.campaignCount()).toBe(1);
  });

  it('refuses an HTML or empty body on a 429 or without failNext, naming `body`; json is the default', async () => {
    sandbox = await start();
    const token = await tokenFor(sandbox);
    for (const body of [
      { failNext: 1, status: 429, body: 'html' },
      { errorRate: 0.5, body: 'empty' },
      { failNext: 1, status: 502, body: 'xml' },
    ]) {
      const res = await call(sandbox, 'POST', '/__sandbox/faults', { body });
      expect(res.status).toBe(422);
      expect(res.body.errors).toEqual([expect.objectContaining({ field: 'body' })]);
    }
    const json = await call(sandbox, 'POST', '/__sandbox/faults', {
      body: { failNext: 1, status: 503, body: 'json' },
    });
    expect(json.body.scripted).toEqual([{ remaining: 1, status: 503 }]);
    const failed = await call(sandbox, 'GET', '/api/v2/campaigns/x', { token });
    expect(failed).toMatchObject({ status: 503, body: { error: 'unavailable' } });
  });

  it('answers the token endpoint with the page too, as the gateway stands in front of it as well', async () => {
    sandbox = await start();
    await call(sandbox, 'POST', '/__sandbox/faults', {
      body: { failNext: 1, status: 502, body: 'html', endpoint: 'POST /oauth2/token' },
    });
    const res = await fetch(`${sandbox.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&client_id=fleet-client&client_secret=fleet-secret',
    });
    expect(res.status).toBe(502);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await res.text()).toContain('<title>502 Bad Gateway</title>');
    expect(await tokenFor(sandbox)).toEqual(expect.any(String));
  });
});
