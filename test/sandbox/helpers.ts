import { expect } from 'vitest';
import { campaignStatsSchema, CXONE_SCOPES, type CampaignStats } from '../../src/shared/cxone/wire.js';
import { startSandbox, type RunningSandbox, type SandboxOptions } from '../../src/sandbox/server.js';
import { call, createBody, type Reply } from './requests.js';

export { call, createBody, type Reply };

export const FLEET = { clientId: 'fleet-client', clientSecret: 'fleet-secret' } as const;
export const CONSOLE = { clientId: 'console-operator', clientSecret: 'console-secret' } as const;
export const READER = { clientId: 'reader', clientSecret: 'reader-secret' } as const;

/**
 * A sandbox with the fleet's client, a "console" client of the same tenant (it sees and changes the
 * fleet's campaigns, and shares its budget), each with every scope, and a read-only client of a
 * tenant of its own.
 */
export function start(opts: SandboxOptions = {}): Promise<RunningSandbox> {
  return startSandbox({
    clients: [
      { ...FLEET, scopes: [...CXONE_SCOPES] },
      { ...CONSOLE, scopes: [...CXONE_SCOPES], tenant: FLEET.clientId },
      { ...READER, scopes: ['outbound:campaigns:read'] },
    ],
    ...opts,
  });
}

export async function tokenFor(
  sandbox: RunningSandbox,
  client: { clientId: string; clientSecret: string } = FLEET,
  scope?: string,
): Promise<string> {
  const res = await call(sandbox, 'POST', '/oauth2/token', {
    form: {
      grant_type: 'client_credentials',
      client_id: client.clientId,
      client_secret: client.clientSecret,
      ...(scope !== undefined ? { scope } : {}),
    },
  });
  if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.access_token as string;
}

export async function createCampaign(
  sandbox: RunningSandbox,
  token: string,
  body = createBody(),
): Promise<Reply> {
  const res = await call(sandbox, 'POST', '/api/v2/campaigns', { token, body });
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res;
}

/**
 * A change made outside the orchestrator, as CXone's console or another tool would make it: the
 * client's own token (or `token`, already fetched for it), a fresh read, a PATCH on that version.
 */
export async function changeAs(
  sandbox: RunningSandbox,
  client: { clientId: string; clientSecret: string },
  id: string,
  body: unknown,
  token?: string,
): Promise<Reply> {
  const auth = token ?? (await tokenFor(sandbox, client));
  const current = await call(sandbox, 'GET', `/api/v2/campaigns/${id}`, { token: auth });
  return patch(sandbox, auth, id, current.body.version as number, body);
}

export async function patch(
  sandbox: RunningSandbox,
  token: string,
  id: string,
  version: number,
  body: unknown,
): Promise<Reply> {
  return call(sandbox, 'PATCH', `/api/v2/campaigns/${id}`, {
    token,
    body,
    headers: { 'if-match': `version=${version}` },
  });
}

/** A campaign created, scheduled and activated with `body`: its id and the version it runs at. */
export async function activeCampaign(
  sandbox: RunningSandbox,
  token: string,
  body = createBody(),
): Promise<{ id: string; version: number }> {
  const id = (await createCampaign(sandbox, token, body)).body.id as string;
  expect((await patch(sandbox, token, id, 1, { status: 'scheduled' })).status).toBe(200);
  const active = await patch(sandbox, token, id, 2, { status: 'active' });
  expect(active.status).toBe(200);
  return { id, version: active.body.version as number };
}

/** A campaign's statistics as the stats endpoint answers them, checked against the wire schema. */
export async function campaignStats(
  sandbox: RunningSandbox,
  token: string,
  id: string,
): Promise<CampaignStats> {
  const res = await call(sandbox, 'GET', `/api/v2/outbound/campaigns/${id}/stats`, { token });
  expect(res.status).toBe(200);
  return campaignStatsSchema.parse(res.body);
}
