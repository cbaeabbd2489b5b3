import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { actorFor, bearerToken, isProtectedPath, tokenMatches } from '../../src/producers/auth.js';
import {
  ApiError,
  parseOrThrow,
  toErrorResponse,
  ValidationFailedError,
} from '../../src/producers/errors.js';
import { parseIdempotencyKey } from '../../src/producers/launch-submit.js';
import { CxoneRateLimitError, CxoneValidationError, StateConflictError } from '../../src/shared/errors.js';
import { LimiterUnavailableError } from '../../src/shared/limiter/types.js';

describe('toErrorResponse', () => {
  it('maps zod failures to validation_failed with dotted paths', () => {
    const schema = z.object({ a: z.object({ b: z.number() }) });
    const err = schema.safeParse({ a: { b: 'x' } }).error!;
    const res = toErrorResponse(err);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'validation_failed', issues: [{ path: 'a.b' }] });
  });

  it("maps Fastify's body errors to their own codes", () => {
    expect(toErrorResponse({ code: 'FST_ERR_CTP_INVALID_JSON_BODY', statusCode: 400 })).toMatchObject({
      status: 400,
      body: { error: 'invalid_json' },
    });
    expect(toErrorResponse({ code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 }).status).toBe(413);
    expect(toErrorResponse({ code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415 }).status).toBe(415);
  });

  it('never sends the message of an unexpected error', () => {
    const res = toErrorResponse(new Error('connect ECONNREFUSED 10.0.0.5:6379 at /srv/app/x.js:12'));
    expect(res).toEqual({
      status: 500,
      body: { error: 'internal_error', message: 'internal error; see the server log' },
    });
  });

  it('passes ApiError and StateConflictError details through', () => {
    expect(toErrorResponse(new ApiError(422, 'idempotency_key_reused', 'm', { launchId: 'l' }))).toEqual({
      status: 422,
      body: { error: 'idempotency_key_reused', message: 'm', launchId: 'l' },
    });
    expect(toErrorResponse(new StateConflictError('cannot pause', { status: 'draft' }))).toMatchObject({
      status: 409,
      body: { error: 'conflict', status: 'draft' },
    });
  });

  it('answers 503 with Retry-After when CXone is rate limiting, 502 when it refuses', () => {
    const limited = toErrorResponse(new CxoneRateLimitError({ endpoint: 'GET /x' }, 2_500));
    expect(limited).toMatchObject({ status: 503, headers: { 'retry-after': '3' } });
    // Answering with 429 is not "not answering": the message says which it is.
    expect(limited.body.message).toMatch(/rate limiting/);
    const refused = toErrorResponse(new CxoneValidationError([], { endpoint: 'POST /x', status: 422 }));
    expect(refused).toMatchObject({ status: 502, body: { error: 'upstream_error', kind: 'validation' } });
  });

  it('answers 503 redis_unavailable, not a 500 bug, when Redis went away during the limiter wait', () => {
    const down = toErrorResponse(new LimiterUnavailableError('GET /api/v2/campaigns/:id'));
    expect(down).toMatchObject({
      status: 503,
      body: { error: 'redis_unavailable' },
      headers: { 'retry-after': '5' },
    });
    expect(down.body.message).toMatch(/Redis/);
  });

  it('parseOrThrow throws the 400 naming every field', () => {
    expect(() => parseOrThrow(z.object({ n: z.number(), s: z.string() }), {})).toThrow(ValidationFailedError);
    try {
      parseOrThrow(z.object({ n: z.number(), s: z.string() }), {});
    } catch (err) {
      expect((err as ValidationFailedError).issues.map((i) => i.path)).toEqual(['n', 's']);
    }
  });
});

describe('auth helpers', () => {
  it('protects /v1 and /admin only', () => {
    expect(isProtectedPath('/v1/campaigns')).toBe(true);
    expect(isProtectedPath('/v1')).toBe(true);
    expect(isProtectedPath('/admin/queues?x=1')).toBe(true);
    expect(isProtectedPath('/healthz')).toBe(false);
    expect(isProtectedPath('/v10/x')).toBe(false);
    expect(isProtectedPath('/metrics')).toBe(false);
  });

  it('parses bearer tokens and compares them exactly', () => {
    expect(bearerToken('Bearer abc.def')).toBe('abc.def');
    expect(bearerToken('bearer   abc')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeUndefined();
    expect(bearerToken('Bearer a b')).toBeUndefined();
    expect(tokenMatches('dev-token', 'dev-token')).toBe(true);
    expect(tokenMatches('dev-token ', 'dev-token')).toBe(false);
    expect(tokenMatches('', 'dev-token')).toBe(false);
  });

  it('identifies callers by X-Actor or by a stable fingerprint that does not contain the token', () => {
    expect(actorFor('secret-token-1', 'alice@example.com')).toBe('api:alice@example.com');
    const id = actorFor('secret-token-1', undefined);
    expect(id).toMatch(/^api:token-[0-9a-f]{10}$/);
    expect(id).toBe(actorFor('secret-token-1', undefined));
    expect(id).not.toBe(actorFor('secret-token-2', undefined));
    expect(id).not.toContain('secret');
    // An unusable label falls back to the fingerprint instead of reaching the audit trail.
    expect(actorFor('secret-token-1', 'bad label\nwith newline')).toBe(id);
  });
});

describe('idempotency helpers', () => {
  it('accepts printable keys and refuses others', () => {
    expect(parseIdempotencyKey(undefined)).toBeUndefined();
    expect(parseIdempotencyKey('order-42')).toBe('order-42');
    expect(() => parseIdempotencyKey('')).toThrow(ApiError);
    expect(() => parseIdempotencyKey('has space')).toThrow(ApiError);
  });
});
