import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server.js';
import { CXONE_SCOPES } from '../../src/shared/cxone/wire.js';
import { call, createBody, createCampaign, patch, tokenFor, type Reply } from './helpers.js';

const A = { clientId: 'fleet-a', clientSecret: 'secret-a' } as const;
const A_COLLEAGUE = { clientId: 'console-a', clientSecret: 'secret-a2' } as const;
const B = { clientId: 'fleet-b', clientSecret: 'secret-b' } as const;

/**
 * CXone scopes every resource to the tenant (business unit) of the token: another tenant's campaign
 * does not exist for it. The sandbox must answer exactly what it answers for an id nobody created.
 */
describe('sandbox tenants', () => {
  let sandbox: RunningSandbox;
  let tokenA: string;
  let tokenA2: string;
  let tokenB: string;

  beforeAll(async () => {
    sandbox = await startSandbox({
      clients: [
        { ...A, scopes: [...CXONE_SCOPES], tenant: 'tenantA' },
        { ...A_COLLEAGUE, scopes: [...CXONE_SCOPES], tenant: 'tenantA' },
        { ...B, scopes: [...CXONE_SCOPES], tenant: 'tenantB' },
      ],
      rateLimit: { perWindow: 10_000, windowMs: 60_000 },
    });
    [tokenA, tokenA2, tokenB] = await Promise.all([
      tokenFor(sandbox, A),
      tokenFor(sandbox, A_COLLEAGUE),
      tokenFor(sandbox, B),
    ]);
  });
  afterAll(async () => {
    await sandbox.close();
  });

  /** A's campaign, moved to scheduled so it has a version and history beyond the first. */
  async function campaignOfA(): Promise<{ id: string; resource: Record<string, unknown> }> {
    const id = (await createCampaign(sandbox, tokenA)).body.id as string;
    const scheduled = await patch(sandbox, tokenA, id, 1, { status: 'scheduled' });
    expect(scheduled.status).toBe(200);
    return { id, resource: scheduled.body };
  }

  /** What `send` answers for an id nobody created, with that id replaced by `id`. */
  async function asUnknown(id: string, send: (anyId: string) => Promise<Reply>): Promise<unknown> {
    const unknownId = randomUUID();
    const reply = await send(unknownId);
    return {
      status: reply.status,
      contentType: reply.headers.get('content-type'),
      body: JSON.parse(JSON.stringify(reply.body).replaceAll(unknownId, id)) as unknown,
    };
  }

  function shape(reply: Reply): unknown {
    return { status: reply.status, contentType: reply.headers.get('content-type'), body: reply.body };
  }

  it("answers another tenant's GET, PATCH, stats and history exactly as for an unknown id", async () => {
    const { id, resource } = await campaignOfA();
    const historyPath = (x: string) => `/api/v2/outbound/campaigns/${x}/history`;
    const requests: Record<string, (x: string) => Promise<Reply>> = {
      get: (x) => call(sandbox, 'GET', `/api/v2/campaigns/${x}`, { token: tokenB }),
      patch: (x) => patch(sandbox, tokenB, x, 2, { status: 'cancelled' }),
      // Neither a stale version (409), a missing If-Match (428) nor a bad body (422) tells B more.
      patchStale: (x) => patch(sandbox, tokenB, x, 1, { status: 'cancelled' }),
      patchNoIfMatch: (x) =>
        call(sandbox, 'PATCH', `/api/v2/campaigns/${x}`, { token: tokenB, body: { status: 'cancelled' } }),
      patchInvalid: (x) => patch(sandbox, tokenB, x, 2, { dialerSettings: { callRate: 7 } }),
      stats: (x) => call(sandbox, 'GET', `/api/v2/outbound/campaigns/${x}/stats`, { token: tokenB }),
      history: (x) => call(sandbox, 'GET', historyPath(x), { token: tokenB }),
      historyPage: (x) => call(sandbox, 'GET', `${historyPath(x)}?pageSize=1`, { token: tokenB }),
    };
    for (const [name, send] of Object.entries(requests)) {
      const foreign = await send(id);
      expect(foreign.status, name).toBe(404);
      expect(foreign.body, name).toEqual({ error: 'not_found', message: `campaign ${id} not found` });
      expect(shape(foreign), name).toEqual(await asUnknown(id, send));
    }

    // A cursor A was issued does not open A's history to B either.
    const pageA = await call(sandbox, 'GET', `${historyPath(id)}?pageSize=1`, { token: tokenA });
    expect(pageA.status).toBe(200);
    const cursor = pageA.body.nextCursor as string;
    expect(cursor).toEqual(expect.any(String));
    const withCursor = await call(sandbox, 'GET', `${historyPath(id)}?cursor=${cursor}`, { token: tokenB });
    expect(withCursor.status).toBe(404);
    expect(withCursor.body).toEqual({ error: 'not_found', message: `campaign ${id} not found` });

    // B's attempts changed nothing: A reads the same resource, version and history.
    const after = await call(sandbox, 'GET', `/api/v2/campaigns/${id}`, { token: tokenA });
    expect(after.status).toBe(200);
    expect(after.body).toEqual(resource);
    expect(after.body).toMatchObject({ version: 2, status: 'scheduled' });
    const history = await call(sandbox, 'GET', historyPath(id), { token: tokenA });
    expect((history.body.records as { actor: string }[]).map((r) => r.actor)).toEqual([
      A.clientId,
      A.clientId,
    ]);
  });

  it('still serves a campaign to every client of its own tenant', async () => {
    const { id } = await campaignOfA();
    const own = await call(sandbox, 'GET', `/api/v2/campaigns/${id}`, { token: tokenA });
    expect(own.status).toBe(200);
    // The tenant is the sandbox's own bookkeeping, never part of the resource.
    expect(own.body).not.toHaveProperty('tenant');
    expect(own.body).not.toHaveProperty('ordinal');

    const stats = await call(sandbox, 'GET', `/api/v2/outbound/campaigns/${id}/stats`, { token: tokenA });
    expect(stats.status).toBe(200);
    expect(stats.body).toMatchObject({ version: 2, status: 'scheduled' });

    // Another client of tenantA (a console operator) reads and changes it.
    const colleague = await call(sandbox, 'GET', `/api/v2/campaigns/${id}`, { token: tokenA2 });
    expect(colleague.status).toBe(200);
    const changed = await patch(sandbox, tokenA2, id, 2, { name: 'renamed by a colleague' });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ version: 3, name: 'renamed by a colleague' });
    expect(changed.body).not.toHaveProperty('tenant');

    const history = await call(sandbox, 'GET', `/api/v2/outbound/campaigns/${id}/history`, {
      token: tokenA,
    });
    expect(history.status).toBe(200);
    expect((history.body.records as { actor: string }[]).map((r) => r.actor)).toEqual([
      A.clientId,
      A.clientId,
      A_COLLEAGUE.clientId,
    ]);
  });

  it("keeps a tenant's own campaigns its own: B creates and reaches B's, A gets 404 on it", async () => {
    const created = await createCampaign(sandbox, tokenB);
    expect(created.body).not.toHaveProperty('tenant');
    const id = created.body.id as string;
    expect((await call(sandbox, 'GET', `/api/v2/campaigns/${id}`, { token: tokenB })).status).toBe(200);
    expect((await call(sandbox, 'GET', `/api/v2/campaigns/${id}`, { token: tokenA })).status).toBe(404);
    expect((await patch(sandbox, tokenA, id, 1, { status: 'scheduled' })).status).toBe(404);
  });

  it('does not replay one tenant’s Idempotency-Key to another', async () => {
    const body = createBody();
    const key = `tenant-key-${randomUUID()}`;
    const headers = { 'idempotency-key': key };
    const first = await call(sandbox, 'POST', '/api/v2/campaigns', { token: tokenA, body, headers });
    const other = await call(sandbox, 'POST', '/api/v2/campaigns', { token: tokenB, body, headers });
    expect([first.status, other.status]).toEqual([201, 201]);
    expect(other.headers.get('idempotent-replayed')).toBeNull();
    expect(other.body.id).not.toBe(first.body.id);
  });

  it('leaves the /__sandbox control surface tenant-agnostic', async () => {
    const { id } = await campaignOfA();
    const state = await call(sandbox, 'GET', `/__sandbox/campaigns/${id}`);
    expect(state.status).toBe(200);
    expect(state.body.resource).toMatchObject({ id, version: 2 });
    expect(state.body.resource).not.toHaveProperty('tenant');
    const list = await call(sandbox, 'GET', '/__sandbox/campaigns');
    expect((list.body.campaigns as { id: string }[]).map((c) => c.id)).toContain(id);
    const console = await call(sandbox, 'POST', `/__sandbox/campaigns/${id}/console`, {
      body: { status: 'cancelled' },
    });
    expect(console.status).toBe(200);
    expect(console.body).toMatchObject({ version: 3, status: 'cancelled' });
  });
});

describe('sandbox with its default single client', () => {
  it('serves every campaign route to that client as before', async () => {
    const sandbox = await startSandbox({});
    try {
      const token = await tokenFor(sandbox, { clientId: 'sandbox-client', clientSecret: 'sandbox-secret' });
      const id = (await createCampaign(sandbox, token)).body.id as string;
      expect((await call(sandbox, 'GET', `/api/v2/campaigns/${id}`, { token })).status).toBe(200);
      expect((await patch(sandbox, token, id, 1, { status: 'scheduled' })).status).toBe(200);
      const stats = await call(sandbox, 'GET', `/api/v2/outbound/campaigns/${id}/stats`, { token });
      expect(stats.status).toBe(200);
      const history = await call(sandbox, 'GET', `/api/v2/outbound/campaigns/${id}/history`, { token });
      expect(history.status).toBe(200);
      expect(history.body.records).toHaveLength(2);
    } finally {
      await sandbox.close();
    }
  });
});
