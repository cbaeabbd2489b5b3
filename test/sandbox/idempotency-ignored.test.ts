import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/sandbox/server.js';
import { call, createBody, start, tokenFor } from './helpers.js';

/**
 * SANDBOX_IDEMPOTENCY_KEYS=ignored: the v2 contract promises no Idempotency-Key on a create, and a
 * platform without one makes a campaign for every create, the header neither read nor checked — what
 * the orchestrator's CXONE_CREATE_IDEMPOTENCY=none is tried against.
 */
describe('a sandbox that ignores Idempotency-Key', () => {
  let sandbox: RunningSandbox;
  let token: string;
  beforeAll(async () => {
    sandbox = await start({ idempotencyKeys: false });
    token = await tokenFor(sandbox);
  });
  afterAll(async () => {
    await sandbox.close();
  });

  it('makes a second campaign for a create sent again with the same key and body', async () => {
    const body = createBody();
    const headers = { 'idempotency-key': 'launch-same' };
    const before = sandbox.campaignCount();
    const first = await call(sandbox, 'POST', '/api/v2/campaigns', { token, body, headers });
    const again = await call(sandbox, 'POST', '/api/v2/campaigns', { token, body, headers });
    expect([first.status, again.status]).toEqual([201, 201]);
    expect(again.body.id).not.toBe(first.body.id);
    expect(again.headers.get('idempotent-replayed')).toBeNull();
    expect(sandbox.campaignCount() - before).toBe(2);
  });

  it('does not check a key it does not read', async () => {
    const created = await call(sandbox, 'POST', '/api/v2/campaigns', {
      token,
      body: createBody(),
      headers: { 'idempotency-key': 'x'.repeat(300) },
    });
    expect(created.status).toBe(201);
  });
});
