import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import {
  CxoneAuthError,
  CxoneBadRequestError,
  CxoneConflictError,
  CxoneForbiddenError,
  CxoneMalformedResponseError,
  CxoneNotFoundError,
  CxoneRateLimitError,
  CxoneUnavailableError,
  CxoneValidationError,
} from '../../src/shared/errors.js';
import { errorFromNetwork, errorFromResponse, parseBody } from '../../src/shared/cxone/response.js';
import { campaignStatsSchema, tokenResponseSchema } from '../../src/shared/cxone/wire.js';
import { MAX_PENALTY_MS } from '../../src/shared/limiter/types.js';
import { classifyError } from '../../src/shared/retry/classify.js';

const ctx = { endpoint: 'PATCH /api/v2/campaigns/:id', campaignId: 'c-1', attempt: 2 };
const NOW = Date.parse('2026-11-28T10:00:00Z');
const res = (status: number, body: unknown, headers: Record<string, unknown> = {}) => ({
  status,
  body,
  headers,
});

describe('errorFromResponse', () => {
  it('maps 422 with every field error', () => {
    const err = errorFromResponse(
      res(422, {
        error: 'validation_failed',
        errors: [
          { field: 'dialerSettings.callRate', message: 'must be <= 1' },
          { field: 'name', message: 'required' },
        ],
      }),
      ctx,
      NOW,
    );
    expect(err).toBeInstanceOf(CxoneValidationError);
    expect((err as CxoneValidationError).fieldErrors).toEqual([
      { field: 'dialerSettings.callRate', message: 'must be <= 1' },
      { field: 'name', message: 'required' },
    ]);
    expect(err.message).toContain('dialerSettings.callRate: must be <= 1');
    expect(err).toMatchObject({ status: 422, endpoint: ctx.endpoint, campaignId: 'c-1', attempt: 2 });
  });

  it('maps 409 with the current version', () => {
    const err = errorFromResponse(res(409, { error: 'version_conflict', currentVersion: 7 }), ctx, NOW);
    expect(err).toBeInstanceOf(CxoneConflictError);
    expect((err as CxoneConflictError).currentVersion).toBe(7);
  });

  it('maps 429 with Retry-After in seconds or as a date', () => {
    const a = errorFromResponse(res(429, { error: 'rate_limited' }, { 'retry-after': '3' }), ctx, NOW);
    expect(a).toBeInstanceOf(CxoneRateLimitError);
    expect((a as CxoneRateLimitError).retryAfterMs).toBe(3_000);
    const b = errorFromResponse(res(429, {}, { 'retry-after': 'Sat, 28 Nov 2026 10:00:05 GMT' }), ctx, NOW);
    expect((b as CxoneRateLimitError).retryAfterMs).toBe(5_000);
    const c = errorFromResponse(res(429, {}), ctx, NOW);
    expect((c as CxoneRateLimitError).retryAfterMs).toBeUndefined();
  });

  it('bounds a Retry-After of hours to the longest penalty, so no queue is paused for longer than the fleet', () => {
    const hour = errorFromResponse(res(429, {}, { 'retry-after': '3600' }), ctx, NOW);
    expect((hour as CxoneRateLimitError).retryAfterMs).toBe(MAX_PENALTY_MS);
    const tomorrow = errorFromResponse(
      res(429, {}, { 'retry-after': 'Sun, 29 Nov 2026 10:00:00 GMT' }),
      ctx,
      NOW,
    );
    expect((tomorrow as CxoneRateLimitError).retryAfterMs).toBe(MAX_PENALTY_MS);
    expect(tomorrow.message).toMatch(/retry after 600000 ms/);
    // What a job then waits: the queue-wide pause is the same bound as the fleet-wide penalty.
    expect(classifyError(tomorrow)).toMatchObject({ kind: 'rate_limited', delayMs: MAX_PENALTY_MS });
  });

  it('reads a Retry-After of 0, or a date already past, as 1 ms: a wait of 0 ms is one Redis refuses to store', () => {
    const zero = errorFromResponse(res(429, {}, { 'retry-after': '0' }), ctx, NOW);
    expect((zero as CxoneRateLimitError).retryAfterMs).toBe(1);
    const past = errorFromResponse(
      res(429, {}, { 'retry-after': 'Sat, 28 Nov 2026 09:59:58 GMT' }),
      ctx,
      NOW,
    );
    expect((past as CxoneRateLimitError).retryAfterMs).toBe(1);
  });

  it('reads a 409 whose code it does not know as the version mismatch the contract promises', () => {
    // The contract names no codes: a platform spelling its mismatch otherwise still gets the rebase.
    for (const body of [
      { error: 'VersionMismatch' },
      { error: 'conflict' },
      {},
      { error: 'version_conflict' },
    ]) {
      const err = errorFromResponse(res(409, body), ctx, NOW) as CxoneConflictError;
      expect(err.isVersionConflict).toBe(true);
      expect(err.message).toMatch(/^version conflict/);
    }
    for (const code of ['campaign_closed', 'invalid_transition']) {
      const err = errorFromResponse(res(409, { error: code }), ctx, NOW) as CxoneConflictError;
      expect(err.isVersionConflict).toBe(false);
      expect(err.message).toMatch(new RegExp(`^conflict \\(${code}\\)`));
    }
  });

  it('keeps what it can read of an error body when one of its fields has the wrong type', () => {
    // A campaign closed on CXone is not a version conflict, whatever type currentVersion came in.
    const closed = errorFromResponse(
      res(409, { error: 'campaign_closed', currentVersion: '5' }),
      ctx,
      NOW,
    ) as CxoneConflictError;
    expect(closed.code).toBe('campaign_closed');
    expect(closed.isVersionConflict).toBe(false);
    expect(closed.currentVersion).toBeUndefined();
    const stale = errorFromResponse(
      res(409, { error: 42, currentVersion: 7 }),
      ctx,
      NOW,
    ) as CxoneConflictError;
    expect(stale.currentVersion).toBe(7);
    expect(stale.isVersionConflict).toBe(true);
    const invalid = errorFromResponse(
      res(422, {
        error: 'validation_failed',
        errors: [{ field: 'name', message: 'required' }, { field: 3 }, 'junk'],
      }),
      ctx,
      NOW,
    ) as CxoneValidationError;
    expect(invalid.fieldErrors).toEqual([{ field: 'name', message: 'required' }]);
  });

  it('reads 408 (a gateway timing out our request) as CXone unavailable, which a retry can fix', () => {
    const err = errorFromResponse(res(408, '<html>Request Timeout</html>'), ctx, NOW);
    expect(err).toBeInstanceOf(CxoneUnavailableError);
    expect(err.retryable).toBe(true);
    expect(err.status).toBe(408);
    expect(err.message).toContain('408');
  });

  it('maps the other statuses to their types', () => {
    expect(errorFromResponse(res(400, { error: 'bad' }), ctx, NOW)).toBeInstanceOf(CxoneBadRequestError);
    expect(errorFromResponse(res(401, {}), ctx, NOW)).toBeInstanceOf(CxoneAuthError);
    expect(errorFromResponse(res(403, {}), ctx, NOW)).toBeInstanceOf(CxoneForbiddenError);
    expect(errorFromResponse(res(404, {}), ctx, NOW)).toBeInstanceOf(CxoneNotFoundError);
    expect(errorFromResponse(res(418, {}), ctx, NOW)).toBeInstanceOf(CxoneBadRequestError);
    for (const s of [500, 502, 503, 504]) {
      const err = errorFromResponse(res(s, '<html>gateway</html>'), ctx, NOW);
      expect(err).toBeInstanceOf(CxoneUnavailableError);
      expect(err.retryable).toBe(true);
    }
  });

  it('bounds a huge error body', () => {
    const err = errorFromResponse(res(502, 'x'.repeat(100_000)), ctx, NOW);
    expect(String(err.body).length).toBeLessThanOrEqual(500);
  });
});

describe('errorFromNetwork', () => {
  it('turns resets, refusals and timeouts into CxoneUnavailableError naming the endpoint', () => {
    for (const code of ['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'ECONNABORTED']) {
      const err = errorFromNetwork(Object.assign(new Error('boom'), { code }), ctx);
      expect(err).toBeInstanceOf(CxoneUnavailableError);
      expect(err.message).toContain(ctx.endpoint);
      expect(err.message).toContain(code);
    }
  });
});

describe('errorFromNetwork and secrets', () => {
  it('keeps no trace of the request (and its Authorization header) in the cause', () => {
    const axiosLike = Object.assign(new Error('socket hang up'), {
      code: 'ECONNRESET',
      config: { headers: { Authorization: 'Bearer secret-token' } },
    });
    const err = errorFromNetwork(axiosLike, ctx);
    expect(JSON.stringify(err.cause, Object.getOwnPropertyNames(err.cause))).not.toContain('secret-token');
    expect((err.cause as { code?: string }).code).toBe('ECONNRESET');
  });
});

describe('parseBody', () => {
  it('returns the parsed body, keeping unknown extra fields', () => {
    const body = {
      version: 1,
      status: 'active',
      totalCalls: 10,
      answeredCalls: 4,
      abandonedCalls: 0,
      complianceViolations: 0,
      agentUtilization: 50,
      extra: 'kept',
    };
    expect(parseBody(campaignStatsSchema, body, ctx)).toEqual(body);
  });

  it('throws CxoneMalformedResponseError naming the endpoint and the bad fields', () => {
    try {
      parseBody(campaignStatsSchema, { version: 'one', status: 'active' }, ctx);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(CxoneMalformedResponseError);
      const e = err as CxoneMalformedResponseError;
      expect(e.message).toContain(ctx.endpoint);
      expect(e.problems.some((p) => p.startsWith('version'))).toBe(true);
      expect(e.problems.some((p) => p.startsWith('totalCalls'))).toBe(true);
    }
  });

  it('never carries the access token of a token response that failed its schema', () => {
    const body = {
      access_token: 'SECRET-TOKEN-123',
      token_type: 'bearer',
      expires_in: '3600',
      nested: [{ refresh_token: 'R-1' }],
    };
    let error: CxoneMalformedResponseError | undefined;
    try {
      parseBody(tokenResponseSchema, body, { endpoint: 'POST /oauth2/token' });
    } catch (err) {
      error = err as CxoneMalformedResponseError;
    }
    expect(error).toBeInstanceOf(CxoneMalformedResponseError);
    const serialized = JSON.stringify({ ...error, body: error?.body, message: error?.message });
    expect(serialized).not.toContain('SECRET-TOKEN-123');
    expect(serialized).not.toContain('R-1');
    expect(error?.body).toMatchObject({
      access_token: '[redacted]',
      token_type: 'bearer',
      expires_in: '3600',
    });
  });

  it('scrubs credentials out of error bodies that are text, or that quote a header', () => {
    // A token endpoint answering form-encoded (as some OAuth servers do by default) fails the schema
    // with the token in a string; a gateway's 400 quotes the Authorization header it refused.
    let malformed: CxoneMalformedResponseError | undefined;
    try {
      parseBody(tokenResponseSchema, 'access_token=SECRET-FORM-1&token_type=bearer&expires_in=3600', {
        endpoint: 'POST /oauth2/token',
      });
    } catch (err) {
      malformed = err as CxoneMalformedResponseError;
    }
    const quoted = errorFromResponse(
      res(400, { message: 'Authorization=Bearer SECRET-HDR-2 is not valid', hint: 'client_secret=SECRET-3' }),
      ctx,
      NOW,
    );
    const html = errorFromResponse(
      res(502, '<html><pre>Authorization: Bearer SECRET-HTML-4</pre></html>'),
      ctx,
      NOW,
    );
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    for (const err of [malformed, quoted, html]) logger.error({ err }, 'failed');
    const everything = [
      ...lines,
      ...[malformed, quoted, html].map((e) => `${e?.message} ${JSON.stringify(e?.body)}`),
    ].join('\n');
    for (const secret of ['SECRET-FORM-1', 'SECRET-HDR-2', 'SECRET-3', 'SECRET-HTML-4']) {
      expect(everything).not.toContain(secret);
    }
    // What is not a credential stays, for the operator.
    expect(everything).toContain('token_type=bearer');
    expect(everything).toContain('is not valid');
  });
});
