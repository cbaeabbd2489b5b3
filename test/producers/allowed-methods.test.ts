import { describe, expect, it } from 'vitest';
import { RouteTable } from '../../src/shared/http/allowed-methods.js';

describe('RouteTable', () => {
  const table = new RouteTable();
  for (const [method, url] of [
    ['GET', '/v1/campaigns/:campaignId'],
    ['PATCH', '/v1/campaigns/:campaignId'],
    ['POST', '/v1/campaigns/:campaignId/actions'],
    ['GET', '/admin/queues/*'],
    ['get', '/docs/json'],
  ] as const)
    table.add({ method, url });

  it('lists the methods of every route whose pattern matches the path, sorted and once each', () => {
    expect(table.allowedMethods('/v1/campaigns/c-1')).toEqual(['GET', 'PATCH']);
    expect(table.allowedMethods('/v1/campaigns/c-1/')).toEqual(['GET', 'PATCH']);
    expect(table.allowedMethods('/v1/campaigns/c-1/actions')).toEqual(['POST']);
    expect(table.allowedMethods('/admin/queues/api/queues')).toEqual(['GET']);
    expect(table.allowedMethods('/docs/json')).toEqual(['GET']);
  });

  it('matches a parameter to one segment only, and literals exactly', () => {
    expect(table.allowedMethods('/v1/campaigns/c-1/other')).toEqual([]);
    expect(table.allowedMethods('/v1/campaigns')).toEqual([]);
    expect(table.allowedMethods('/docsXjson')).toEqual([]);
    const dotted = new RouteTable();
    dotted.add({ method: 'GET', url: '/a.b/:id' });
    expect(dotted.allowedMethods('/aXb/1')).toEqual([]);
  });

  it('decodes each segment on its own, as the router does: an encoded slash stays in its parameter', () => {
    expect(table.allowedMethods('/v1/campaigns/a%2Fb')).toEqual(['GET', 'PATCH']);
    expect(table.allowedMethods('/v1/%63ampaigns/c-1')).toEqual(['GET', 'PATCH']);
  });
});
