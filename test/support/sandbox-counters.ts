import { expect } from 'vitest';
import type { EndpointCounters } from '../../src/sandbox/counters.js';
import type { RunningSandbox } from '../../src/sandbox/types.js';

/**
 * What the sandbox counted, per endpoint by its route template (`GET /__sandbox/counters`,
 * docs/sandbox.md): the calls one stack's CXone received, whatever else the test process counted.
 */
export async function sandboxCounters(
  sandbox: Pick<RunningSandbox, 'url'>,
): Promise<Record<string, EndpointCounters>> {
  const res = await fetch(`${sandbox.url}/__sandbox/counters`);
  expect(res.status, 'GET /__sandbox/counters').toBe(200);
  return ((await res.json()) as { endpoints: Record<string, EndpointCounters> }).endpoints;
}

/**
 * The campaigns the sandbox holds, in the order it created them (`GET /__sandbox/campaigns`,
 * docs/sandbox.md): what one stack's CXone made, whatever else the test process made elsewhere.
 */
export async function sandboxCampaigns(
  sandbox: Pick<RunningSandbox, 'url'>,
): Promise<{ id: string; name: string }[]> {
  const res = await fetch(`${sandbox.url}/__sandbox/campaigns`);
  expect(res.status, 'GET /__sandbox/campaigns').toBe(200);
  return ((await res.json()) as { campaigns: { id: string; name: string }[] }).campaigns;
}
