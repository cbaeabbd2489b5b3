import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import { campaignConfigSchema } from '../../src/shared/campaign-schema.js';
import { toCreateCampaignRequest } from '../../src/shared/cxone/to-wire.js';
import type { CampaignResource } from '../../src/shared/cxone/wire.js';
import { api, campaignConfig, FLEET_CLIENT, startStack, type Stack } from '../e2e/stack.js';

/**
 * CXone refusing the fresh read a command makes first (here: the fleet's OAuth client lacks the read
 * scope, so the sandbox answers 403 over real HTTP). The client hears 502 `upstream_error`, which the
 * OpenAPI document must list, and nothing is enqueued.
 */
let stack: Stack;
const campaignId = 'refused-read-campaign';

beforeAll(async () => {
  stack = await startStack({
    sandbox: {
      clients: [{ ...FLEET_CLIENT, scopes: ['outbound:campaigns:write', 'outbound:campaigns:stats:read'] }],
    },
  });
  const config = campaignConfigSchema.parse(campaignConfig());
  const now = new Date().toISOString();
  const request = toCreateCampaignRequest(config);
  const resource: CampaignResource = {
    ...request,
    id: campaignId,
    version: 1,
    status: 'active',
    createdAt: now,
    updatedAt: now,
  };
  await createCampaignStore(stack.ctx).put({
    campaignId,
    status: 'active',
    version: 1,
    config,
    cxone: resource,
  });
});
afterAll(async () => {
  await stack?.close();
});

describe('a command whose CXone read is refused', () => {
  it('answers 502 upstream_error, as the OpenAPI document says it may, and enqueues nothing', async () => {
    const doc = (await api(stack, 'GET', '/docs/json')).body as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    };
    const calls: Array<[method: string, path: string, template: string, body: unknown]> = [
      [
        'PATCH',
        `/v1/campaigns/${campaignId}`,
        '/v1/campaigns/{campaignId}',
        { dialerStrategy: { callRate: 0.5 } },
      ],
      [
        'POST',
        `/v1/campaigns/${campaignId}/actions`,
        '/v1/campaigns/{campaignId}/actions',
        { action: 'pause' },
      ],
    ];
    for (const [method, path, template, body] of calls) {
      const reply = await api(stack, method, path, { body });
      expect(reply.status, path).toBe(502);
      expect(reply.body, path).toMatchObject({ error: 'upstream_error' });
      expect(doc.paths[template]?.[method.toLowerCase()]?.responses, path).toHaveProperty('502');
    }
    const history = await api(stack, 'POST', `/v1/campaigns/${campaignId}/audit/import-history`);
    expect(history.status).toBe(502);
    expect(doc.paths['/v1/campaigns/{campaignId}/audit/import-history']?.post?.responses).toHaveProperty(
      '502',
    );
    const counts = await stack.ctx.queues.adjust.getJobCounts('waiting', 'delayed', 'active', 'prioritized');
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(0);
  });
});
