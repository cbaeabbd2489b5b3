import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startStack, type Stack } from '../e2e/stack.js';

/**
 * Requests a careless or hostile client sends, over real HTTP: each is refused with the API's own
 * 400 naming what is wrong, never read as something else.
 */
let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

describe('page limits', () => {
  const routes = ['/v1/campaigns/some-campaign/audit', '/v1/webhooks/dead-letters'];

  it('refuses a limit that is not a plain decimal number, rather than reading hex, exponents or blanks', async () => {
    for (const route of routes) {
      for (const limit of ['0x10', '1e2', '0b11', '%2010', '10%20', '+5', '5.0']) {
        const reply = await api(stack, 'GET', `${route}?limit=${limit}`);
        expect(reply.status, `${route} limit=${limit}`).toBe(400);
        expect(reply.body, `${route} limit=${limit}`).toMatchObject({
          error: 'validation_failed',
          issues: [{ path: 'limit', message: expect.stringMatching(/whole number/) as unknown }],
        });
      }
      expect((await api(stack, 'GET', `${route}?limit=10`)).status, route).toBe(200);
    }
  });

  it('says a limit given twice is given twice', async () => {
    for (const route of routes) {
      const reply = await api(stack, 'GET', `${route}?limit=1&limit=2`);
      expect(reply.status, route).toBe(400);
      expect(reply.body, route).toMatchObject({
        issues: [{ path: 'limit', message: expect.stringMatching(/once/) as unknown }],
      });
    }
  });
});
