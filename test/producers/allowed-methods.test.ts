import { describe, expect, it } from 'vitest';
import { RouteTable } from '../../src/shared/http/allowed-methods.js';
import { trimTrailingSlashes } from '../../src/shared/http/url-path.js';

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

describe('a hostile path', () => {
  it('trims trailing slashes only, whatever is before them', () => {
    expect(trimTrailingSlashes('/v1/campaigns///')).toBe('/v1/campaigns');
    expect(trimTrailingSlashes('/v1//campaigns')).toBe('/v1//campaigns');
    expect(trimTrailingSlashes('///')).toBe('');
    expect(trimTrailingSlashes('')).toBe('');
  });

  // Unknown paths outside /v1 and /admin reach the not-found handler without a token. With
  // `replace(/\/+$/, '')` per route, 15 000 slashes not at the end cost about a second per route: the
  // API's ~90 routes held the event loop for over a minute on one request. Linear now: milliseconds.
  it('answers a request line full of slashes at once, for a table of many routes', () => {
    const table = new RouteTable();
    for (let i = 0; i < 60; i++) table.add({ method: 'GET', url: `/r${i}/:id/x` });
    const path = `/x${'/'.repeat(15_000)}a`;
    expect(table.allowedMethods(path)).toEqual([]);
    expect(table.allowedMethods(`/r7/${'/'.repeat(15_000)}`)).toEqual([]);
    expect(table.allowedMethods(`/r7/id/x${'/'.repeat(15_000)}`)).toEqual(['GET']);
  }, 5_000);
});
