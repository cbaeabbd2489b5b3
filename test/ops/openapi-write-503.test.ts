import { describe, expect, it } from 'vitest';
import { buildOpenApiDocument } from '../../src/producers/openapi.js';

/**
 * The 503 of a route that records and enqueues (a launch, a command) is read by a client deciding
 * whether its retry may duplicate something. Redis refusing partway (`redis_unavailable` quoting
 * READONLY or OOM, a3b95ce) or the deadline passing may leave the launch or command recorded, never
 * enqueued (launch-submit.ts abandon, lifecycle/enqueue.ts) — docs/api.md says "no promise that
 * nothing was recorded"; the document served at /docs/json said "Nothing was recorded or enqueued".
 */
describe('OpenAPI: the 503 of a write route', () => {
  const doc = buildOpenApiDocument() as {
    paths: Record<string, Record<string, { responses: Record<string, { description: string }> }>>;
  };

  it.each([
    ['/v1/campaigns', 'post'],
    ['/v1/campaigns/{campaignId}/actions', 'post'],
    ['/v1/campaigns/{campaignId}', 'patch'],
  ])('%s promises nothing enqueued, not nothing recorded', (path, method) => {
    const description = doc.paths[path]?.[method]?.responses['503']?.description;
    expect(description).toMatch(/No launch or command was enqueued/);
    expect(description).not.toMatch(/nothing was recorded/i);
  });
});
