import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_BODY_LIMIT } from '../../src/producers/app.js';
import { api, campaignConfig, startStack, type Stack } from '../e2e/stack.js';

/**
 * A body over the API's limit is refused saying what the limit is: "larger than this API accepts"
 * left an upstream system (or `cxo launch`, which prints the message) guessing by how much to cut.
 */
let stack: Stack;
let small: Stack;

beforeAll(async () => {
  stack = await startStack();
  small = await startStack({ apiOptions: { bodyLimit: 2048 } });
});
afterAll(async () => {
  await stack?.close();
  await small?.close();
});

describe('a body over the limit', () => {
  it('is answered 413 naming the limit, in KiB and in bytes', async () => {
    for (const path of ['/v1/campaigns', '/v1/campaigns/validate']) {
      const reply = await api(stack, 'POST', path, {
        body: campaignConfig({ description: 'x'.repeat(DEFAULT_BODY_LIMIT) }),
      });
      expect(reply.status, path).toBe(413);
      expect(reply.body, path).toEqual({
        error: 'payload_too_large',
        message:
          'the request body is larger than the 64 KiB (65536 bytes) this API accepts; a campaign config is a few KiB',
        limitBytes: 65536,
      });
    }
  });

  it('names the limit the API was built with', async () => {
    const reply = await api(small, 'POST', '/v1/campaigns/validate', {
      body: campaignConfig({ description: 'x'.repeat(4096) }),
    });
    expect(reply.status).toBe(413);
    expect(reply.body).toMatchObject({
      message: expect.stringContaining('2 KiB (2048 bytes)') as unknown,
      limitBytes: 2048,
    });
  });
});
