import { afterEach, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/sandbox/server.js';
import { call, FLEET, start } from './helpers.js';

/**
 * Every answer of the token endpoint is an OAuth error with error_description (RFC 6749 §5.2), as
 * docs/sandbox.md says and the seed reads (`error_description || message`): its own refusals had
 * one, but its rate limit's 429 and an injected 503 came in the API's shape without it.
 */
describe('sandbox token endpoint: error_description on the limiter and fault answers', () => {
  let sandbox: RunningSandbox | undefined;
  afterEach(async () => {
    await sandbox?.close();
    sandbox = undefined;
  });

  const askToken = (s: RunningSandbox) =>
    call(s, 'POST', '/oauth2/token', {
      form: {
        grant_type: 'client_credentials',
        client_id: FLEET.clientId,
        client_secret: FLEET.clientSecret,
      },
    });

  it('says error_description on its 429, beside Retry-After', async () => {
    sandbox = await start({ tokenRateLimit: { perWindow: 1, windowMs: 60_000 } });
    expect((await askToken(sandbox)).status).toBe(200);
    const limited = await askToken(sandbox);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(limited.body).toMatchObject({ error: 'rate_limited', retryAfterSeconds: expect.any(Number) });
    expect(limited.body.error_description).toBe(limited.body.message);
    expect(String(limited.body.error_description)).toContain('POST /oauth2/token');
  });

  it('says error_description on an injected 503, carried out or not; a gateway page stays a page', async () => {
    sandbox = await start();
    const script = (body: Record<string, unknown>) =>
      call(sandbox!, 'POST', '/__sandbox/faults', { body: { endpoint: 'POST /oauth2/token', ...body } });
    await script({ failNext: 1, status: 503 });
    const failed = await askToken(sandbox);
    expect(failed.status).toBe(503);
    expect(failed.body).toMatchObject({ error: 'unavailable', error_description: failed.body.message });

    await script({ failNext: 1, status: 502, applied: true });
    const applied = await askToken(sandbox);
    expect(applied.status).toBe(502);
    expect(applied.body).toMatchObject({ error: 'unavailable', error_description: applied.body.message });

    await script({ failNext: 1, status: 504, body: 'html' });
    const page = await fetch(`${sandbox.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=client_credentials&client_id=${FLEET.clientId}&client_secret=${FLEET.clientSecret}`,
    });
    expect(page.status).toBe(504);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('504 Gateway Timeout');

    // Other endpoints keep the API's shape.
    const token = await askToken(sandbox);
    expect(token.status).toBe(200);
    await script({ failNext: 1, status: 503, endpoint: 'GET /api/v2/campaigns/:id' });
    const get = await call(sandbox, 'GET', '/api/v2/campaigns/x', { token: String(token.body.access_token) });
    expect(get.status).toBe(503);
    expect(get.body).not.toHaveProperty('error_description');
  });
});
