import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startStack, type Stack } from '../e2e/stack.js';

/**
 * A query parameter the route does not read is refused, as an unknown body field is: a mistyped
 * `?limt=5` or `?Limit=5` used to be dropped silently and answered a page of the default size, so
 * the caller never learnt its parameter had not been applied.
 */
let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

describe('query parameters a paged route does not know', () => {
  const routes = ['/v1/campaigns/some-campaign/audit', '/v1/webhooks/dead-letters'];

  it('are refused with a 400 naming each of them', async () => {
    for (const route of routes) {
      const reply = await api(stack, 'GET', `${route}?limt=5&Limit=5`);
      expect(reply.status, route).toBe(400);
      expect(reply.body, route).toMatchObject({
        error: 'validation_failed',
        issues: expect.arrayContaining([
          { path: 'limt', message: 'unknown field' },
          { path: 'Limit', message: 'unknown field' },
        ]) as unknown,
      });
    }
  });

  it('leave the known parameters working, given or empty', async () => {
    for (const route of routes) {
      expect((await api(stack, 'GET', `${route}?limit=5`)).status, route).toBe(200);
      expect((await api(stack, 'GET', `${route}?limit=`)).status, route).toBe(200);
      expect((await api(stack, 'GET', route)).status, route).toBe(200);
    }
    expect((await api(stack, 'GET', '/v1/campaigns/some-campaign/audit?cursor=&limit=')).status).toBe(200);
  });
});
