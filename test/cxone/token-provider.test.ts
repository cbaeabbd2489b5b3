import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/shared/clock.js';
import type { CxoneHttp } from '../../src/shared/cxone/http.js';
import type { RawResponse } from '../../src/shared/cxone/response.js';
import {
  createTokenProvider,
  credentialsRefusedWaitMs,
  REFRESH_RETRY_MS,
  SCOPE_RECHECK_MS,
  SCOPE_WARN_AGAIN_MS,
} from '../../src/shared/cxone/token-provider.js';
import { permanentMessage } from '../../src/shared/retry/classify.js';
import {
  CxoneAuthError,
  CxoneRateLimitError,
  CxoneScopesNotGrantedError,
  CxoneUnavailableError,
} from '../../src/shared/errors.js';
import type { FleetLimiter } from '../../src/shared/limiter/types.js';
import { silentLogger, type Logger } from '../../src/shared/logger.js';
import { registry } from '../../src/shared/metrics.js';
import { recordingLogger } from '../support/log-capture.js';

/** A token endpoint scripted response by response; records what it was sent. */
function fakeHttp(answers: Array<RawResponse | (() => Promise<RawResponse>)>) {
  const sent: Array<{ path: string; headers?: Record<string, string>; data?: unknown }> = [];
  let n = 0;
  const http = {
    axios: undefined as never,
    async send(req: { path: string; headers?: Record<string, string>; data?: unknown }) {
      sent.push(req);
      const answer = answers[Math.min(n++, answers.length - 1)];
      if (answer === undefined) throw new Error('no scripted answer');
      return typeof answer === 'function' ? answer() : answer;
    },
    close() {},
  } as unknown as CxoneHttp;
  return { http, sent };
}

function recordingLimiter() {
  const calls: string[] = [];
  const penalties: Array<[string, number]> = [];
  const limiter: FleetLimiter = {
    schedule: (endpoint, priority, fn) => {
      calls.push(`${endpoint}|${priority}`);
      return fn();
    },
    penalize: async (endpoint, ms) => void penalties.push([endpoint, ms]),
    close: async () => undefined,
  };
  return { limiter, calls, penalties };
}

/** A provider for client a/b over `http`; the limiter records and lets every call through. */
function provider(
  http: CxoneHttp,
  opts: { clock?: ManualClock; limiter?: FleetLimiter; logger?: Logger } = {},
) {
  return createTokenProvider({
    http,
    clientId: 'a',
    clientSecret: 'b',
    limiter: opts.limiter ?? recordingLimiter().limiter,
    logger: opts.logger ?? silentLogger,
    ...(opts.clock ? { clock: opts.clock } : {}),
  });
}

const token = (value: string, expiresIn: number): RawResponse => ({
  status: 200,
  headers: {},
  body: { access_token: value, token_type: 'Bearer', expires_in: expiresIn },
});

describe('token provider', () => {
  it('asks for every scope with a form-encoded client-credentials grant, through the limiter as control', async () => {
    const { http, sent } = fakeHttp([token('t1', 3600)]);
    const { limiter, calls } = recordingLimiter();
    const tokens = createTokenProvider({
      http,
      clientId: 'id',
      clientSecret: 's3cret',
      limiter,
      logger: silentLogger,
    });
    expect(await tokens.getToken()).toBe('t1');
    expect(calls).toEqual(['POST /oauth2/token|control']);
    expect(sent[0]?.path).toBe('/oauth2/token');
    expect(sent[0]?.headers?.['Content-Type']).toBe('application/x-www-form-urlencoded');
    const form = new URLSearchParams(String(sent[0]?.data));
    expect(form.get('grant_type')).toBe('client_credentials');
    expect(form.get('client_id')).toBe('id');
    expect(form.get('scope')?.split(' ').sort()).toEqual([
      'outbound:campaigns:read',
      'outbound:campaigns:stats:read',
      'outbound:campaigns:write',
    ]);
  });

  it('caches an hour-long token until 60 s before expiry', async () => {
    const clock = new ManualClock(0);
    const { http, sent } = fakeHttp([token('t1', 3600), token('t2', 3600)]);
    const tokens = provider(http, { clock });
    await tokens.getToken();
    clock.set(3_540_000 - 1);
    expect(await tokens.getToken()).toBe('t1');
    expect(sent).toHaveLength(1);
    // The refresh starts then; the call that started it still goes on with the cached token.
    clock.set(3_540_000);
    expect(await tokens.getToken()).toBe('t1');
    expect(sent).toHaveLength(2);
    await sleep(0);
    expect(await tokens.getToken()).toBe('t2');
    expect(sent).toHaveLength(2);
  });

  it('refreshes a 1-second token after 90 % of its life', async () => {
    const clock = new ManualClock(0);
    const { http, sent } = fakeHttp([token('t1', 1), token('t2', 1)]);
    const tokens = provider(http, { clock });
    await tokens.getToken();
    clock.set(899);
    expect(await tokens.getToken()).toBe('t1');
    expect(sent).toHaveLength(1);
    clock.set(900);
    expect(await tokens.getToken()).toBe('t1');
    await sleep(0);
    expect(await tokens.getToken()).toBe('t2');
    expect(tokens.expiresAt()).toBe(1_900);
    expect(sent).toHaveLength(2);
  });

  it("counts a token's lifetime from when its request was sent, not from before its wait in the limiter", async () => {
    const clock = new ManualClock(0);
    const { http, sent } = fakeHttp([token('t1', 300), token('t2', 300)]);
    // The token request waits 100 s for its slot (a backlog, a 429 penalty on the token endpoint).
    const limiter: FleetLimiter = {
      schedule: (_endpoint, _priority, fn) => {
        clock.advance(100_000);
        return fn();
      },
      penalize: async () => undefined,
      close: async () => undefined,
    };
    const tokens = provider(http, { clock, limiter });
    expect(await tokens.getToken()).toBe('t1');
    // Sent at 100 s: it lives until 400 s, refreshed 30 s (10 %) early, sendable until 5 s before its end.
    expect(tokens.expiresAt()).toBe(400_000);
    clock.set(369_999);
    expect(await tokens.getToken()).toBe('t1');
    expect(sent).toHaveLength(1);
    clock.set(394_999);
    expect(tokens.sendable()).toBe('t1');
  });

  it('shares one in-flight request between concurrent callers', async () => {
    let release: (r: RawResponse) => void = () => undefined;
    const pending = new Promise<RawResponse>((r) => (release = r));
    const { http, sent } = fakeHttp([() => pending]);
    const tokens = provider(http);
    const all = Promise.all(Array.from({ length: 10 }, () => tokens.getToken()));
    release(token('shared', 3600));
    expect(new Set(await all)).toEqual(new Set(['shared']));
    expect(sent).toHaveLength(1);
  });

  it('invalidate forgets only the token CXone refused', async () => {
    const { http, sent } = fakeHttp([token('t1', 3600), token('t2', 3600)]);
    const tokens = provider(http);
    await tokens.getToken();
    tokens.invalidate('some-older-token');
    expect(await tokens.getToken()).toBe('t1');
    tokens.invalidate('t1');
    tokens.invalidate('t1');
    expect(await tokens.getToken()).toBe('t2');
    expect(sent).toHaveLength(2);
  });

  it('does not cache failures: the next call asks again', async () => {
    const { http, sent } = fakeHttp([{ status: 503, headers: {}, body: {} }, token('t1', 3600)]);
    const tokens = provider(http);
    await expect(tokens.getToken()).rejects.toBeInstanceOf(CxoneUnavailableError);
    expect(await tokens.getToken()).toBe('t1');
    expect(sent).toHaveLength(2);
  });

  it('names the settings to check when the client is refused, and the scopes when they are', async () => {
    const refused = fakeHttp([{ status: 401, headers: {}, body: { error: 'invalid_client' } }]);
    const a = provider(refused.http);
    const refusedErr = await a.getToken().catch((e: unknown) => e);
    expect((refusedErr as Error).message).toMatch(/CXONE_CLIENT_ID and CXONE_CLIENT_SECRET/);
    // What a failed launch then says names the variables once, not twice.
    const reason = permanentMessage(refusedErr);
    expect(reason.match(/CXONE_CLIENT_ID/g)).toHaveLength(1);
    expect(reason).toMatch(/enabled in CXone/);
    const scoped = fakeHttp([
      { status: 400, headers: {}, body: { error: 'invalid_scope', error_description: 'not granted: x' } },
    ]);
    const b = provider(scoped.http);
    const err = await b.getToken().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CxoneAuthError);
    expect((err as Error).message).toMatch(/refused the scopes .*not granted: x.*grant them/);
  });

  it('waits 10 s after a refusal, doubling per refusal in a row up to 5 min', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 20].map((n) => credentialsRefusedWaitMs(n))).toEqual([
      10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000,
    ]);
  });

  it('keeps serving a live cached token when a refresh is refused, and asks again only after the wait', async () => {
    const clock = new ManualClock(0);
    const refusal: RawResponse = { status: 401, headers: {}, body: { error: 'invalid_client' } };
    const { http, sent } = fakeHttp([token('t1', 3600), refusal, refusal, token('t2', 3600)]);
    const tokens = provider(http, { clock });
    await tokens.getToken();
    // The refresh is due (60 s before expiry) and refused: t1 goes on, no request for 10 s.
    clock.set(3_540_000);
    expect(await tokens.getToken()).toBe('t1');
    await sleep(0);
    expect(sent).toHaveLength(2);
    clock.advance(REFRESH_RETRY_MS);
    expect(await tokens.getToken()).toBe('t1');
    expect(sent).toHaveLength(2);
    clock.advance(10_000 - REFRESH_RETRY_MS);
    expect(await tokens.getToken()).toBe('t1');
    await sleep(0);
    expect(sent).toHaveLength(3);
    // Refused again: 20 s now; then a token resets the count.
    clock.advance(20_000);
    expect(await tokens.getToken()).toBe('t1');
    await sleep(0);
    expect(sent).toHaveLength(4);
    expect(await tokens.getToken()).toBe('t2');
  });

  it('penalizes the token endpoint fleet-wide on a 429', async () => {
    const { http } = fakeHttp([{ status: 429, headers: { 'retry-after': '7' }, body: {} }]);
    const rec = recordingLimiter();
    const tokens = provider(http, { limiter: rec.limiter });
    await expect(tokens.getToken()).rejects.toBeInstanceOf(CxoneRateLimitError);
    expect(rec.penalties).toEqual([['POST /oauth2/token', 7_000]]);
  });
});

describe('a token for a call that already holds its limiter slot (sendable)', () => {
  it('is the cached one until shortly before it expires, past the early refresh, and never fetched', async () => {
    const clock = new ManualClock(1_000_000);
    const { http, sent } = fakeHttp([token('t1', 3600), token('t2', 3600)]);
    const tokens = provider(http, { clock });
    expect(tokens.sendable()).toBeUndefined();
    await tokens.getToken();
    // Past the early refresh (60 s before expiry), still sendable: 3 540.5 s into its hour.
    clock.advance(3_540_500);
    expect(tokens.sendable()).toBe('t1');
    // Within 5 s of its end: a request might reach CXone after it died.
    clock.advance(55_000);
    expect(tokens.sendable()).toBeUndefined();
    expect(sent).toHaveLength(1);
  });
});

describe('the early refresh', () => {
  it('does not hold up calls while the cached token is still sendable; they get the new one once it is in', async () => {
    const clock = new ManualClock(0);
    let release: (r: RawResponse) => void = () => undefined;
    const slow = new Promise<RawResponse>((r) => (release = r));
    const { http, sent } = fakeHttp([token('t1', 3600), () => slow]);
    const tokens = provider(http, { clock });
    await tokens.getToken();
    // The refresh is due and its request waits (a limiter backlog, a penalty on the token endpoint):
    // the token has a minute left, so calls go on with it at once.
    clock.set(3_540_000);
    const during = await Promise.race([tokens.getToken(), sleep(200).then(() => 'held up')]);
    expect(during).toBe('t1');
    expect(await tokens.getToken()).toBe('t1');
    expect(sent).toHaveLength(2);
    release(token('t2', 3600));
    await sleep(0);
    expect(await tokens.getToken()).toBe('t2');
    expect(sent).toHaveLength(2);
  });

  it('is waited for once the cached token is no longer sendable', async () => {
    const clock = new ManualClock(0);
    let release: (r: RawResponse) => void = () => undefined;
    const slow = new Promise<RawResponse>((r) => (release = r));
    const { http } = fakeHttp([token('t1', 3600), () => slow]);
    const tokens = provider(http, { clock });
    await tokens.getToken();
    clock.set(3_596_000);
    const pending = tokens.getToken();
    const early = await Promise.race([pending, sleep(100).then(() => 'waiting')]);
    expect(early).toBe('waiting');
    release(token('t2', 3600));
    expect(await pending).toBe('t2');
  });
});

describe('a failed early refresh', () => {
  const unavailable: RawResponse = { status: 503, headers: {}, body: { error: 'unavailable' } };

  it('keeps serving the cached token while it is still sendable, and asks again only after a pause', async () => {
    const clock = new ManualClock(0);
    const { http, sent } = fakeHttp([token('t1', 3600), unavailable, unavailable, token('t2', 3600)]);
    const tokens = provider(http, { clock });
    await tokens.getToken();
    // The early refresh is due (60 s before expiry) and the token endpoint answers 503: the token
    // still has a minute to live, so calls go on with it instead of failing.
    clock.set(3_540_000);
    expect(await tokens.getToken()).toBe('t1');
    await sleep(0);
    expect(sent).toHaveLength(2);
    // Not one token request per call while the endpoint is down.
    clock.advance(1_000);
    expect(await tokens.getToken()).toBe('t1');
    await sleep(0);
    expect(sent).toHaveLength(2);
    clock.advance(REFRESH_RETRY_MS);
    expect(await tokens.getToken()).toBe('t1');
    await sleep(0);
    expect(sent).toHaveLength(3);
    clock.advance(REFRESH_RETRY_MS);
    expect(await tokens.getToken()).toBe('t1');
    await sleep(0);
    expect(await tokens.getToken()).toBe('t2');
    expect(sent).toHaveLength(4);
  });

  it('fails once the cached token is no longer sendable, or CXone refused it', async () => {
    const clock = new ManualClock(0);
    const late = fakeHttp([token('t1', 3600), unavailable]);
    const a = provider(late.http, { clock });
    await a.getToken();
    clock.set(3_596_000);
    await expect(a.getToken()).rejects.toBeInstanceOf(CxoneUnavailableError);

    const refused = fakeHttp([token('t1', 3600), unavailable]);
    const b = provider(refused.http, { clock: new ManualClock(0) });
    await b.getToken();
    b.invalidate('t1');
    await expect(b.getToken()).rejects.toBeInstanceOf(CxoneUnavailableError);
  });
});

const scoped = (value: string, expiresIn: number, scope: string): RawResponse => ({
  status: 200,
  headers: {},
  body: { access_token: value, token_type: 'Bearer', expires_in: expiresIn, scope },
});

async function scopeGauge(): Promise<Record<string, number>> {
  const metric = await registry.getSingleMetric('cxo_cxone_scope_missing')?.get();
  return Object.fromEntries((metric?.values ?? []).map((v) => [String(v.labels.scope), v.value]));
}

describe('the scopes CXone granted', () => {
  const READ_WRITE = 'outbound:campaigns:read outbound:campaigns:write';

  it('are all asked for when the token response has no scope field (RFC 6749 §5.1)', async () => {
    const { logger, lines } = recordingLogger('debug');
    const tokens = provider(fakeHttp([token('t1', 3600)]).http, { logger });
    expect(await tokens.getToken()).toBe('t1');
    expect(tokens.scopeShortfall()).toBeUndefined();
    expect(lines.filter((l) => l.level >= 40)).toEqual([]);
    expect(await scopeGauge()).toMatchObject({ 'outbound:campaigns:stats:read': 0 });
  });

  it('fewer than asked: the token still serves, and one warning, the gauge and scopeShortfall name what is missing and what it blocks', async () => {
    const { logger, lines } = recordingLogger('debug');
    const tokens = provider(fakeHttp([scoped('secret-token-value', 3600, READ_WRITE)]).http, { logger });
    expect(await tokens.getToken()).toBe('secret-token-value');
    const lacking = tokens.scopeShortfall();
    expect(lacking).toBeInstanceOf(CxoneScopesNotGrantedError);
    expect(lacking?.missingScopes).toEqual(['outbound:campaigns:stats:read']);
    expect(lacking?.grantedScopes).toEqual(['outbound:campaigns:read', 'outbound:campaigns:write']);
    expect(lacking?.message).toMatch(/missing outbound:campaigns:stats:read .*guard is blind/);
    const warned = lines.filter((l) => l.level === 40);
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({
      missingScopes: ['outbound:campaigns:stats:read'],
      grantedScopes: ['outbound:campaigns:read', 'outbound:campaigns:write'],
      blocks: { 'outbound:campaigns:stats:read': ['GET /api/v2/outbound/campaigns/:id/stats'] },
      msg: lacking?.message,
    });
    expect(JSON.stringify(lines)).not.toContain('secret-token-value');
    expect(await scopeGauge()).toEqual({
      'outbound:campaigns:read': 0,
      'outbound:campaigns:write': 0,
      'outbound:campaigns:stats:read': 1,
    });
  });

  it('fewer than asked: a new token is asked for within SCOPE_RECHECK_MS, and one with every scope ends it', async () => {
    const clock = new ManualClock(0);
    const { logger, lines } = recordingLogger('debug');
    const { http, sent } = fakeHttp([scoped('t1', 3600, READ_WRITE), token('t2', 3600)]);
    const tokens = provider(http, { clock, logger });
    await tokens.getToken();
    clock.set(SCOPE_RECHECK_MS - 1);
    expect(await tokens.getToken()).toBe('t1');
    expect(sent).toHaveLength(1);
    clock.set(SCOPE_RECHECK_MS);
    // In the background, as an early refresh: the call goes on with the cached token.
    expect(await tokens.getToken()).toBe('t1');
    await sleep(0);
    expect(await tokens.getToken()).toBe('t2');
    expect(sent).toHaveLength(2);
    expect(tokens.scopeShortfall()).toBeUndefined();
    expect(await scopeGauge()).toMatchObject({ 'outbound:campaigns:stats:read': 0 });
    expect(lines.find((l) => l.msg === 'CXone now grants every OAuth scope asked for')).toMatchObject({
      level: 30,
      wereMissing: ['outbound:campaigns:stats:read'],
    });
    // Then the usual hour-long caching again.
    clock.set(SCOPE_RECHECK_MS * 2);
    expect(await tokens.getToken()).toBe('t2');
    expect(sent).toHaveLength(2);
  });

  it('written as a JSON array or null are read, not a reason to refuse a token that works', async () => {
    const answer = (value: string, scope: unknown): RawResponse => ({
      status: 200,
      headers: {},
      body: { access_token: value, token_type: 'Bearer', expires_in: 3600, scope },
    });
    const listed = provider(
      fakeHttp([answer('t1', ['outbound:campaigns:read', 'outbound:campaigns:write'])]).http,
    );
    expect(await listed.getToken()).toBe('t1');
    expect(listed.scopeShortfall()?.missingScopes).toEqual(['outbound:campaigns:stats:read']);
    const nulled = provider(fakeHttp([answer('t2', null)]).http);
    expect(await nulled.getToken()).toBe('t2');
    expect(nulled.scopeShortfall()).toBeUndefined();
  });

  it('the same scopes missing token after token (2-second tokens) are warned once, again when they change or an hour on', async () => {
    const clock = new ManualClock(0);
    const { logger, lines } = recordingLogger('debug');
    let granted = READ_WRITE;
    let n = 0;
    const { http, sent } = fakeHttp([async () => scoped(`t${++n}`, 2, granted)]);
    const tokens = provider(http, { clock, logger });
    const missingWarned = () => lines.filter((l) => l.level === 40 && Array.isArray(l.missingScopes));
    /** One fresh token each time: a 2-second token is not sendable 2 s on. */
    const freshTokens = async (count: number) => {
      for (let i = 0; i < count; i++) {
        clock.advance(2_000);
        await tokens.getToken();
      }
    };
    await tokens.getToken();
    await freshTokens(10);
    expect(sent).toHaveLength(11);
    expect(missingWarned()).toHaveLength(1);
    // Another scope missing instead is news.
    granted = 'outbound:campaigns:read outbound:campaigns:stats:read';
    await freshTokens(5);
    expect(missingWarned().map((l) => l.missingScopes)).toEqual([
      ['outbound:campaigns:stats:read'],
      ['outbound:campaigns:write'],
    ]);
    expect(tokens.scopeShortfall()?.missingScopes).toEqual(['outbound:campaigns:write']);
    // Still missing an hour on: said once more, as a reminder.
    clock.advance(SCOPE_WARN_AGAIN_MS);
    await freshTokens(5);
    expect(missingWarned()).toHaveLength(3);
  });

  it('a failed re-check is tried again at the next one, not every REFRESH_RETRY_MS for the rest of the token', async () => {
    const clock = new ManualClock(0);
    const unavailable: RawResponse = { status: 503, headers: {}, body: { error: 'unavailable' } };
    const { http, sent } = fakeHttp([scoped('t1', 3600, READ_WRITE), unavailable, token('t2', 3600)]);
    const tokens = provider(http, { clock });
    await tokens.getToken();
    clock.set(SCOPE_RECHECK_MS);
    expect(await tokens.getToken()).toBe('t1');
    await sleep(0);
    expect(sent).toHaveLength(2);
    // The token itself has most of an hour left: no token request per REFRESH_RETRY_MS for it.
    for (let at = SCOPE_RECHECK_MS; at < 2 * SCOPE_RECHECK_MS; at += REFRESH_RETRY_MS) {
      clock.set(at);
      expect(await tokens.getToken()).toBe('t1');
      await sleep(0);
    }
    expect(sent).toHaveLength(2);
    clock.set(2 * SCOPE_RECHECK_MS);
    expect(await tokens.getToken()).toBe('t1');
    await sleep(0);
    expect(sent).toHaveLength(3);
    expect(await tokens.getToken()).toBe('t2');
    expect(tokens.scopeShortfall()).toBeUndefined();
  });
});
