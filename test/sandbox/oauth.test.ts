import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/sandbox/server.js';
import { call, createBody, FLEET, start, tokenFor } from './helpers.js';

describe('sandbox OAuth token endpoint', () => {
  let sandbox: RunningSandbox;
  beforeAll(async () => {
    sandbox = await start({ tokenTtlSeconds: 1 });
  });
  afterAll(async () => {
    await sandbox.close();
  });

  it('issues an opaque bearer token from a form-encoded body, with every scope of the client by default', async () => {
    const res = await call(sandbox, 'POST', '/oauth2/token', {
      form: {
        grant_type: 'client_credentials',
        client_id: FLEET.clientId,
        client_secret: FLEET.clientSecret,
      },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ token_type: 'Bearer', expires_in: 1 });
    expect(String(res.body.access_token)).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(String(res.body.scope).split(' ').sort()).toEqual([
      'outbound:campaigns:read',
      'outbound:campaigns:stats:read',
      'outbound:campaigns:write',
    ]);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('accepts a form-encoded body and HTTP Basic client authentication', async () => {
    const form = await call(sandbox, 'POST', '/oauth2/token', {
      body: `grant_type=client_credentials&client_id=${FLEET.clientId}&client_secret=${FLEET.clientSecret}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(form.status).toBe(200);
    const basic = await call(sandbox, 'POST', '/oauth2/token', {
      body: 'grant_type=client_credentials&scope=outbound:campaigns:read',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${FLEET.clientId}:${FLEET.clientSecret}`).toString('base64')}`,
      },
    });
    expect(basic.status).toBe(200);
    expect(basic.body.scope).toBe('outbound:campaigns:read');
    // Two client authentication methods in one request (RFC 6749 §2.3): refused, not one silently picked.
    const both = await call(sandbox, 'POST', '/oauth2/token', {
      body: `grant_type=client_credentials&client_id=${FLEET.clientId}&client_secret=wrong`,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${FLEET.clientId}:${FLEET.clientSecret}`).toString('base64')}`,
      },
    });
    expect(both).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    const plain = await call(sandbox, 'POST', '/oauth2/token', {
      body: `grant_type=client_credentials&client_id=${FLEET.clientId}&client_secret=${FLEET.clientSecret}`,
      headers: { 'content-type': 'text/plain' },
    });
    expect(plain).toMatchObject({ status: 415, body: { error: 'unsupported_media_type' } });
    // RFC 6749 §4.4.2: the token request is a form. A client sending JSON would work here and fail
    // on an OAuth server that keeps to the RFC, so it is refused here too.
    const json = await call(sandbox, 'POST', '/oauth2/token', {
      body: {
        grant_type: 'client_credentials',
        client_id: FLEET.clientId,
        client_secret: FLEET.clientSecret,
      },
    });
    expect(json).toMatchObject({ status: 415, body: { error: 'unsupported_media_type' } });
    expect(String(json.body.message)).toMatch(/application\/x-www-form-urlencoded/);
    expect(form.body.access_token).not.toBe(basic.body.access_token);
  });

  it('answers a body it cannot parse (multipart, text, too large) in the OAuth shape, naming the form type', async () => {
    const multipart = new FormData();
    multipart.set('grant_type', 'client_credentials');
    const parts = await fetch(`${sandbox.url}/oauth2/token`, { method: 'POST', body: multipart });
    const text = await call(sandbox, 'POST', '/oauth2/token', {
      body: 'grant_type=client_credentials',
      headers: { 'content-type': 'text/plain' },
    });
    for (const res of [
      { status: parts.status, body: (await parts.json()) as Record<string, unknown> },
      text,
    ]) {
      expect(res.status).toBe(415);
      expect(res.body.error).toBe('unsupported_media_type');
      expect(res.body.error_description).toBe(res.body.message);
      expect(String(res.body.message)).toContain('application/x-www-form-urlencoded');
      expect(String(res.body.message)).not.toContain('send application/json');
    }
    // A body sent with no Content-Type at all: the message named an empty type ("not : send …").
    const untyped = await fetch(`${sandbox.url}/oauth2/token`, {
      method: 'POST',
      body: new TextEncoder().encode('grant_type=client_credentials'),
    });
    const untypedBody = (await untyped.json()) as Record<string, unknown>;
    expect(untyped.status).toBe(415);
    expect(untypedBody.error_description).toBe(untypedBody.message);
    expect(String(untypedBody.message)).toContain('not a body with no Content-Type');
    const large = await call(sandbox, 'POST', '/oauth2/token', {
      form: { grant_type: 'client_credentials', scope: 'x'.repeat(300 * 1024) },
    });
    expect(large.status).toBe(413);
    expect(large.body.error_description).toBe(large.body.message);
  });

  it('refuses an unknown client or a wrong secret with 401 invalid_client', async () => {
    const bodies: Array<Record<string, string>> = [
      { grant_type: 'client_credentials', client_id: 'nobody', client_secret: 'x' },
      { grant_type: 'client_credentials', client_id: FLEET.clientId, client_secret: 'wrong' },
      { grant_type: 'client_credentials', client_id: FLEET.clientId },
    ];
    for (const body of bodies) {
      const res = await call(sandbox, 'POST', '/oauth2/token', { form: body });
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_client');
      expect(typeof res.body.message).toBe('string');
    }
  });

  it('refuses other grants and scopes the client does not hold', async () => {
    const grant = await call(sandbox, 'POST', '/oauth2/token', {
      form: { grant_type: 'password', client_id: FLEET.clientId, client_secret: FLEET.clientSecret },
    });
    expect(grant.status).toBe(400);
    expect(grant.body.error).toBe('unsupported_grant_type');
    const scope = await call(sandbox, 'POST', '/oauth2/token', {
      form: {
        grant_type: 'client_credentials',
        client_id: 'reader',
        client_secret: 'reader-secret',
        scope: 'outbound:campaigns:read outbound:campaigns:write',
      },
    });
    expect(scope.status).toBe(400);
    expect(scope.body.error).toBe('invalid_scope');
    expect(scope.body.message).toContain('outbound:campaigns:write');
  });

  it('answers 401 with WWW-Authenticate for a missing, unknown or expired token', async () => {
    const missing = await call(sandbox, 'GET', '/api/v2/campaigns/x');
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const unknown = await call(sandbox, 'GET', '/api/v2/campaigns/x', { token: 'not-a-token' });
    expect(unknown.status).toBe(401);
    expect(unknown.body.error).toBe('invalid_token');

    const token = await tokenFor(sandbox);
    const fresh = await call(sandbox, 'GET', '/api/v2/campaigns/x', { token });
    expect(fresh.status).toBe(404);
    await sleep(1100);
    const expired = await call(sandbox, 'GET', '/api/v2/campaigns/x', { token });
    expect(expired.status).toBe(401);
    expect(expired.body).toMatchObject({ error: 'invalid_token', message: 'the access token expired' });
    expect(expired.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('answers 403 when the token lacks the endpoint scope', async () => {
    const readOnly = await tokenFor(sandbox, { clientId: 'reader', clientSecret: 'reader-secret' });
    const create = await call(sandbox, 'POST', '/api/v2/campaigns', { token: readOnly, body: createBody() });
    expect(create.status).toBe(403);
    expect(create.body).toMatchObject({
      error: 'insufficient_scope',
      requiredScope: 'outbound:campaigns:write',
    });
    expect(create.headers.get('www-authenticate')).toContain('scope="outbound:campaigns:write"');

    // A token asked for with fewer scopes than the client holds is limited to those.
    const statsOnly = await tokenFor(sandbox, FLEET, 'outbound:campaigns:stats:read');
    const get = await call(sandbox, 'GET', '/api/v2/campaigns/x', { token: statsOnly });
    expect(get.status).toBe(403);
    expect(get.body.requiredScope).toBe('outbound:campaigns:read');
  });
});
