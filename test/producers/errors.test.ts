import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  actorFor,
  actorHeaderProblem,
  bearerRefusal,
  bearerToken,
  isProtectedPath,
  tokenMatches,
} from '../../src/producers/auth.js';
import {
  ApiError,
  parseOrThrow,
  toErrorResponse,
  ValidationFailedError,
} from '../../src/producers/errors.js';
import { parseIdempotencyKey } from '../../src/producers/launch-submit.js';
import { ANONYMOUS_API_ACTOR, RESERVED_ACTOR_LABEL, tokenActor } from '../../src/shared/api-actor.js';
import { CxoneRateLimitError, CxoneValidationError, StateConflictError } from '../../src/shared/errors.js';
import { LimiterUnavailableError } from '../../src/shared/limiter/types.js';

/** What `run` throws; fails the test when it throws nothing. */
function catchError(run: () => unknown): unknown {
  try {
    run();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

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

  it('says what is wrong with an Authorization header that did not authenticate, never repeating a secret', () => {
    expect(bearerRefusal(undefined)).toBe('send Authorization: Bearer <API_TOKEN>');
    expect(bearerRefusal('  ')).toBe('send Authorization: Bearer <API_TOKEN>');
    expect(bearerRefusal('Bearer wrong-token')).toBe('the bearer token is not valid for this API');
    // A token split by a space used to be told to "send Authorization: Bearer <API_TOKEN>", which it had.
    expect(bearerRefusal('Bearer abc def')).toBe(
      'the Authorization header must carry one token after Bearer, with no spaces in it; this one has 2 parts',
    );
    expect(bearerRefusal('Bearer')).toBe(
      'the Authorization header has no token after Bearer: send Authorization: Bearer <API_TOKEN>',
    );
    expect(bearerRefusal('basic b3BzOnMzY3JldA==')).toBe(
      'the Authorization header must use the Bearer scheme (got Basic): send Authorization: Bearer <API_TOKEN>',
    );
    // A bare token with no scheme is not echoed back: answers are what proxies log.
    const bare = bearerRefusal('my-s3cret-token');
    expect(bare).toBe(
      'the Authorization header must use the Bearer scheme: send Authorization: Bearer <API_TOKEN>',
    );
    expect(bearerRefusal('Token my-s3cret-token')).not.toContain('s3cret');
  });

  it('identifies callers by X-Actor or by a stable fingerprint that does not contain the token', () => {
    expect(actorFor('secret-token-1', 'alice@example.com')).toBe('api:alice@example.com');
    const id = actorFor('secret-token-1', undefined);
    expect(id).toMatch(/^api:token-[0-9a-f]{10}$/);
    expect(id).toBe(actorFor('secret-token-1', undefined));
    expect(id).not.toBe(actorFor('secret-token-2', undefined));
    expect(id).not.toContain('secret');
    // Labels that merely contain a reserved word name someone; only the reserved forms are refused.
    for (const label of ['anonymous-coward', 'my-token-bot', 'tokens', 'token', 'ops:token-1'])
      expect(actorFor('secret-token-1', label)).toBe(`api:${label}`);
  });

  // A caller could send `X-Actor: token-<10 hex>` and be recorded exactly as the callers known only by
  // the token, or `X-Actor: anonymous` as the caller without one; the trail could not tell them apart.
  it('refuses an X-Actor that would read as a reserved actor, naming the header and why', () => {
    const fingerprint = actorFor('secret-token-1', undefined).slice('api:'.length);
    for (const label of [fingerprint, 'token-0123456789', 'TOKEN-x', 'Token-', 'anonymous', 'AnonYmous']) {
      expect(() => actorFor('secret-token-1', label), label).toThrow(ApiError);
      expect(actorHeaderProblem(label), label).toMatch(
        new RegExp(`^X-Actor "${label}" is reserved: .*api:anonymous.*api:token-`),
      );
      const refused = toErrorResponse(catchError(() => actorFor('secret-token-1', label)));
      expect(refused).toMatchObject({ status: 400, body: { error: 'invalid_actor' } });
    }
    // The actors themselves (derived from the same labels) are what the rule protects.
    expect(RESERVED_ACTOR_LABEL.test(ANONYMOUS_API_ACTOR.slice('api:'.length))).toBe(true);
    expect(RESERVED_ACTOR_LABEL.test(tokenActor('0123456789').slice('api:'.length))).toBe(true);
  });

  it('refuses an X-Actor it cannot record, rather than recording the caller as someone else', () => {
    const refusals: Array<[header: string | string[], message: RegExp]> = [
      ['bad label\nwith newline', /^X-Actor must be 1 to 64 characters/],
      ['has space', /^X-Actor must be 1 to 64 characters/],
      ['', /^X-Actor must be 1 to 64 characters/],
      ['a'.repeat(65), /^X-Actor must be 1 to 64 characters/],
      ['é', /^X-Actor must be 1 to 64 characters/],
      // Node's join of a header sent twice: named as such, not as a space the client never sent.
      ['alice, bob', /^X-Actor must be given once; this request gives 2 labels$/],
      [['alice', 'bob'], /^X-Actor must be given once; this request gives 2 labels$/],
    ];
    for (const [header, message] of refusals) {
      expect(actorHeaderProblem(header), JSON.stringify(header)).toMatch(message);
      expect(() => actorFor('secret-token-1', header), JSON.stringify(header)).toThrow(message);
    }
    expect(actorHeaderProblem(undefined)).toBeUndefined();
    expect(actorHeaderProblem('a'.repeat(64))).toBeUndefined();
    expect(actorFor('secret-token-1', ['alice'])).toBe('api:alice');
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
