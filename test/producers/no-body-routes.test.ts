import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startStack, type Stack } from '../e2e/stack.js';

/**
 * A POST that reads no body (what it does is named by its path) used to parse a JSON body and ignore
 * it: `POST /v1/webhooks/dead-letters/replay {"eventIds": ["evt_1"]}` replayed every dead letter,
 * not the one its sender named. A body with something in it is now refused, naming each field, and
 * one of another type is told the route reads none rather than to "send the body as application/json".
 * An empty body, or `{}` (what many clients send for "nothing"), is still the bare POST.
 */
let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

const routes = [
  '/v1/webhooks/evt_abc123/replay',
  '/v1/webhooks/dead-letters/replay',
  '/admin/webhooks/destination/enable',
  '/v1/campaigns/unknown-campaign/audit/import-history',
];

describe('POST routes that read no body', () => {
  it('refuse a JSON body with fields, naming each, as fields no route reads', async () => {
    for (const route of routes) {
      const reply = await api(stack, 'POST', route, { body: { eventIds: ['evt_1'], limit: 5 } });
      expect(reply.status, route).toBe(400);
      expect(reply.body, route).toEqual({
        error: 'validation_failed',
        message: expect.stringContaining('eventIds: unknown field') as unknown,
        issues: [
          { path: 'eventIds', message: 'unknown field: this route reads no body; send the POST without one' },
          { path: 'limit', message: 'unknown field: this route reads no body; send the POST without one' },
        ],
      });
    }
  });

  it('refuse a JSON body that is not an object', async () => {
    for (const route of routes) {
      const reply = await api(stack, 'POST', route, { raw: '["evt_1"]' });
      expect(reply.status, route).toBe(400);
      expect(reply.body, route).toMatchObject({
        error: 'validation_failed',
        issues: [{ path: '(body)', message: 'this route reads no body; send the POST without one' }],
      });
    }
  });

  it('tell a body of another type that the route reads none, not to send JSON', async () => {
    for (const route of routes) {
      const reply = await api(stack, 'POST', route, {
        raw: 'evt_1',
        headers: { 'content-type': 'text/plain' },
      });
      expect(reply.status, route).toBe(415);
      expect(reply.body, route).toEqual({
        error: 'unsupported_media_type',
        message: 'this route reads no body; send the POST without one',
      });
    }
  });

  it('answer {} as the bare POST', async () => {
    for (const route of routes) {
      const bare = await api(stack, 'POST', route);
      const empty = await api(stack, 'POST', route, { body: {} });
      expect([empty.status, empty.body], route).toEqual([bare.status, bare.body]);
    }
  });
});
