import { afterEach, describe, expect, it } from 'vitest';
import { toErrorResponse } from '../../src/producers/errors.js';
import { CxoneRateLimitError, TokenWaitExceededError } from '../../src/shared/errors.js';
import { startHarness, type Harness } from './harness.js';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

/**
 * A bounded call (the API's) whose access token does not arrive within its wait: the token request
 * is slow, CXone sent no 429. Before, it read "rate limited by CXone … (no Retry-After)" and the API
 * answered "CXone is rate limiting this endpoint". Real sandbox over HTTP, real Redis.
 */
describe('a bounded call whose token does not arrive in time', () => {
  it('says it waited for the token, not that CXone rate limited it', async () => {
    harness = await startHarness({ sandbox: { latencyMs: 1_500 }, tag: 'tokwait' });
    const started = Date.now();
    const err = await harness.client
      .getCampaign('cmp-any', { maxWaitMs: 300, campaignId: 'cmp-any' })
      .catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(1_200);
    // Still a rate limit for every handler (retry later, nothing done)...
    expect(err).toBeInstanceOf(CxoneRateLimitError);
    // ...named for what it was.
    expect(err).toBeInstanceOf(TokenWaitExceededError);
    const e = err as TokenWaitExceededError;
    expect(e.limitedBy).toBe('token_wait');
    expect(e.message).toMatch(/no CXone access token within 300 ms/);
    expect(e.message).not.toMatch(/rate limited by CXone/);
    expect(e.message).not.toMatch(/sandbox-secret|Bearer/);
    const answer = toErrorResponse(err);
    expect(answer).toMatchObject({ status: 503, body: { error: 'upstream_unavailable' } });
    expect(answer.body.message).toMatch(/access token/);
    expect(answer.body.message).not.toMatch(/rate limiting/);
  });
});
