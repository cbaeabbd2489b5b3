import { afterEach, describe, expect, it } from 'vitest';
import { buildApiApp } from '../../src/producers/app.js';
import { startSandbox, type RunningSandbox, type SandboxOptions } from '../../src/sandbox/server.js';
import { ManualClock } from '../../src/shared/clock.js';
import { loadConfig } from '../../src/shared/config.js';
import { createContext } from '../../src/shared/context-factory.js';
import { createCxoneClient, type CxoneClient } from '../../src/shared/cxone/client.js';
import { CxoneAuthError, CxoneRateLimitError } from '../../src/shared/errors.js';
import { createFleetLimiter } from '../../src/shared/limiter/fleet-limiter.js';
import type { FleetLimiter } from '../../src/shared/limiter/types.js';
import { silentLogger } from '../../src/shared/logger.js';
import { registry } from '../../src/shared/metrics.js';
import { recordingLogger, type LogLine } from '../support/log-capture.js';
import { deletePrefixAt, REDIS_URL, testPrefix } from '../support/redis-prefix.js';
import { tokenCounters } from './harness.js';

/**
 * The product's token client against a sandbox that refuses its secret, and locks it after failed
 * logins as CXone's IdP does: a bounded number of token requests over a period, however many callers
 * ask, and every caller (a job, /readyz, the log) told plainly that the credentials are wrong.
 */

const WRONG_SECRET = 'rotated-away-secret-4711';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!();
});

async function sandboxWith(opts: SandboxOptions = {}): Promise<RunningSandbox> {
  const sandbox = await startSandbox({ port: 0, logger: silentLogger, ...opts });
  closers.push(() => sandbox.close());
  return sandbox;
}

function limiterAt(prefix: string): FleetLimiter {
  const limiter = createFleetLimiter({
    redisUrl: REDIS_URL,
    prefix,
    perWindow: 1_000,
    windowMs: 10_000,
    logger: silentLogger,
  });
  closers.push(async () => {
    await limiter.close();
    await deletePrefixAt(prefix);
  });
  return limiter;
}

function clientOf(
  sandbox: RunningSandbox,
  limiter: FleetLimiter,
  clientSecret: string,
  opts: { clock?: ManualClock; logger?: ReturnType<typeof recordingLogger>['logger'] } = {},
): CxoneClient {
  const client = createCxoneClient({
    baseUrl: sandbox.url,
    clientId: 'sandbox-client',
    clientSecret,
    timeoutMs: 5_000,
    limiter,
    logger: opts.logger ?? silentLogger,
    ...(opts.clock ? { clock: opts.clock } : {}),
  });
  closers.push(() => client.close());
  return client;
}

async function gauge(): Promise<number | undefined> {
  const metric = await registry.getSingleMetric('cxo_cxone_credentials_refused')?.get();
  return metric?.values[0]?.value;
}

describe('the token client with a wrong secret', () => {
  it('asks the token endpoint a bounded number of times, however many callers, and says why to each', async () => {
    const sandbox = await sandboxWith();
    const clock = new ManualClock(Date.now());
    const { logger, lines } = recordingLogger('debug');
    const client = clientOf(sandbox, limiterAt(testPrefix('credref')), WRONG_SECRET, { clock, logger });

    const errors: unknown[] = [];
    for (let i = 0; i < 15; i += 1) {
      errors.push(await client.getCampaign('any').catch((e: unknown) => e));
      errors.push(await client.tokens.getToken().catch((e: unknown) => e));
    }
    // 30 callers, one token request: the refusal is not asked again at once.
    expect((await tokenCounters(sandbox)).requests).toBe(1);
    for (const err of errors) {
      expect(err).toBeInstanceOf(CxoneAuthError);
      expect((err as Error).message).toMatch(
        /^CXone refused the OAuth client credentials \(401 invalid_client\); check CXONE_CLIENT_ID and CXONE_CLIENT_SECRET/,
      );
    }
    expect((errors.at(-1) as Error).message).toMatch(
      /\(refused 1 time in a row; the next token request in 10 s\)$/,
    );
    expect(await gauge()).toBe(1);

    // Asked again after 10 s, then after 20 s more (doubling), whoever calls meanwhile.
    clock.advance(10_000);
    await expect(client.tokens.getToken()).rejects.toBeInstanceOf(CxoneAuthError);
    const second = await client.getCampaign('any').catch((e: unknown) => e);
    expect((second as Error).message).toMatch(/refused 2 times in a row; the next token request in 20 s/);
    expect((await tokenCounters(sandbox)).requests).toBe(2);
    clock.advance(19_999);
    await expect(client.tokens.getToken()).rejects.toBeInstanceOf(CxoneAuthError);
    expect((await tokenCounters(sandbox)).requests).toBe(2);
    clock.advance(1);
    await expect(client.tokens.getToken()).rejects.toBeInstanceOf(CxoneAuthError);
    // Three requests in 30 s: under any IdP's lockout (the sandbox's 10 a minute never answered 429).
    expect(await tokenCounters(sandbox)).toMatchObject({ requests: 3, unauthorized: 3, rateLimited: 0 });

    // One error line per request made, in plain words; the secret in none.
    const errorLines = lines.filter((l: LogLine) => l.level === 50);
    expect(errorLines).toHaveLength(3);
    for (const line of errorLines) {
      expect(line.msg).toMatch(
        /CXone refused the OAuth client credentials \(401 invalid_client\); check CXONE_CLIENT_ID and CXONE_CLIENT_SECRET; the next token request in \d+ s/,
      );
    }
    expect(JSON.stringify(lines)).not.toContain(WRONG_SECRET);

    // The right secret (another process) gets a token, and the gauge says the refusal is over.
    const fixed = clientOf(sandbox, limiterAt(testPrefix('credok')), 'sandbox-secret');
    await expect(fixed.tokens.getToken()).resolves.toEqual(expect.any(String));
    expect(await gauge()).toBe(0);
  });

  it("honours the IdP's lockout (429 + Retry-After): no request until it has passed, and the fixed secret waits it out", async () => {
    // Two failures in 3 s lock the client (the sandbox refuses even the right secret meanwhile).
    const sandbox = await sandboxWith({ authFailureLimit: { perWindow: 2, windowMs: 3_000 } });
    const prefix = testPrefix('credlock');
    const clock = new ManualClock(Date.now());
    const client = clientOf(sandbox, limiterAt(prefix), WRONG_SECRET, { clock });

    await expect(client.tokens.getToken()).rejects.toBeInstanceOf(CxoneAuthError);
    clock.advance(10_000);
    await expect(client.tokens.getToken()).rejects.toBeInstanceOf(CxoneAuthError);
    clock.advance(20_000);
    const locked = await client.tokens.getToken().catch((e: unknown) => e);
    expect(locked).toBeInstanceOf(CxoneRateLimitError);
    expect((locked as CxoneRateLimitError).retryAfterMs).toBeGreaterThan(0);
    expect((locked as CxoneRateLimitError).retryAfterMs).toBeLessThanOrEqual(3_000);
    expect((locked as Error).message).toMatch(
      /^CXone refused token requests with 429 too_many_failed_auth \(".*too many failed client authentications.*"\); no token request for [1-3] s more, and before it CXone refused the OAuth client credentials: check CXONE_CLIENT_ID and CXONE_CLIENT_SECRET$/,
    );
    // Until Retry-After has passed, callers hear it at once and nothing is sent.
    for (let i = 0; i < 10; i += 1) {
      const err = await client.getCampaign('any').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CxoneRateLimitError);
      expect((err as Error).message).toMatch(/429 too_many_failed_auth/);
    }
    expect(await tokenCounters(sandbox)).toMatchObject({ requests: 3, unauthorized: 2, rateLimited: 1 });

    // The secret fixed and the fleet restarted (same prefix): its first token request waits for the
    // lockout's Retry-After in the limiter, so it is not refused (a request during the lockout would be).
    const fixed = clientOf(sandbox, limiterAt(prefix), 'sandbox-secret');
    await expect(fixed.tokens.getToken()).resolves.toEqual(expect.any(String));
    expect(await tokenCounters(sandbox)).toMatchObject({
      requests: 4,
      unauthorized: 2,
      rateLimited: 1,
      accepted: 1,
    });
  });
});

describe('/readyz with a wrong CXone secret', () => {
  it('is 503 saying the credentials are wrong, costs one token request for many probes, and logs no secret', async () => {
    const sandbox = await sandboxWith();
    const prefix = testPrefix('credready');
    const { logger, lines } = recordingLogger('info');
    const config = loadConfig({
      REDIS_URL,
      KEY_PREFIX: prefix,
      API_TOKEN: 'ops-ready-token',
      CXONE_BASE_URL: sandbox.url,
      CXONE_CLIENT_ID: 'sandbox-client',
      CXONE_CLIENT_SECRET: WRONG_SECRET,
      CXONE_TIMEOUT_MS: '2000',
    });
    const ctx = await createContext(config, logger);
    const app = await buildApiApp(ctx);
    closers.push(async () => {
      await app.close();
      await deletePrefixAt(prefix);
      await ctx.close();
    });
    await app.ready();

    for (let i = 0; i < 8; i += 1) {
      const res = await app.inject({ method: 'GET', url: '/readyz' });
      expect(res.statusCode).toBe(503);
      const body = res.json() as {
        checks: { redis: { ok: boolean }; cxone: { ok: boolean; error: string } };
      };
      expect(body.checks.redis.ok).toBe(true);
      expect(body.checks.cxone).toMatchObject({ ok: false });
      expect(body.checks.cxone.error).toMatch(
        /^CXone refused the OAuth client credentials \(401 invalid_client\); check CXONE_CLIENT_ID and CXONE_CLIENT_SECRET/,
      );
      expect(res.body).not.toContain(WRONG_SECRET);
    }
    expect((await tokenCounters(sandbox)).requests).toBe(1);
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/^cxo_cxone_credentials_refused 1$/m);
    expect(
      lines.some((l) => l.level === 50 && /CXONE_CLIENT_SECRET/.test(l.msg) && /invalid_client/.test(l.msg)),
    ).toBe(true);
    expect(JSON.stringify(lines)).not.toContain(WRONG_SECRET);
  });
});
