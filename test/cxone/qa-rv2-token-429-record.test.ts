import { describe, expect, it } from 'vitest';
import {
  createSharedCredentialsRefusal,
  credentialsRefusalKey,
} from '../../src/shared/cxone/credentials-refusal.js';
import { CxoneAuthError, CxoneRateLimitError } from '../../src/shared/errors.js';
import { createKeys } from '../../src/shared/keys.js';
import { cxoneCredentialsRefused } from '../../src/shared/metrics.js';
import { createFleetLimiter } from '../../src/shared/limiter/fleet-limiter.js';
import { silentLogger } from '../../src/shared/logger.js';
import { createRedis } from '../../src/shared/redis.js';
import { REDIS_URL, testPrefix } from '../support/redis-prefix.js';
import { closeFleetProcessesAfterEach, closers, processOf, sandbox } from './fleet-process.js';
import { tokenCounters } from './harness.js';

closeFleetProcessesAfterEach();

/**
 * A 429 from the token endpoint in the fleet's shared credentials record (credentials-refusal.ts):
 * what the process CXone answered says and holds, and what a token issued meanwhile does to it.
 * Each "process" is its own token provider, limiter and Redis connection on one prefix, against the
 * sandbox over real HTTP.
 */

const TOKEN = 'POST /oauth2/token';
const WRONG_SECRET = 'rotated-away-secret-4711';
/** docs/operations.md: what the check reads while a lockout after a refusal holds. */
const LOCKED =
  /^CXone refused token requests with 429 too_many_failed_auth \(".*"\); no token request for \d+ s more, and before it CXone refused the OAuth client credentials: check CXONE_CLIENT_ID and CXONE_CLIENT_SECRET$/;

describe('the process CXone answered 429', () => {
  it('says the refusal before the lockout, as every other process of the fleet does', async () => {
    // The client is locked for 3 s after one failed login.
    const running = await sandbox({ authFailureLimit: { perWindow: 1, windowMs: 3_000 } });
    const prefix = testPrefix('rv2-429said');
    const wrong = processOf(running, prefix, WRONG_SECRET, { baseWaitMs: 200 }).client;
    await expect(wrong.tokens.getToken()).rejects.toBeInstanceOf(CxoneAuthError);

    // The operator's recovery (docs/operations.md): a process restarted with the fixed secret asks
    // once the refusal's wait has run out, and is answered the lockout's 429.
    await new Promise((resolve) => setTimeout(resolve, 250));
    const fixed = processOf(running, prefix, 'sandbox-secret', { baseWaitMs: 200 }).client;
    const own = await fixed.tokens.getToken().catch((e: unknown) => e);
    expect(own).toBeInstanceOf(CxoneRateLimitError);
    expect(await tokenCounters(running)).toMatchObject({ requests: 2, unauthorized: 1, rateLimited: 1 });
    // Another process learns it from the record and names the refusal before it...
    const other = processOf(running, prefix, 'sandbox-secret', { baseWaitMs: 200 }).client;
    const learned = await other.tokens.getToken().catch((e: unknown) => e);
    expect((learned as Error).message).toMatch(LOCKED);
    // ...and so does the one CXone answered, at once and at its next look (its /readyz reads it).
    expect((own as Error).message).toMatch(LOCKED);
    const again = await fixed.tokens.getToken().catch((e: unknown) => e);
    expect((again as Error).message).toMatch(LOCKED);
    expect((await tokenCounters(running)).requests).toBe(2);
    // Held back by a lockout that came after a refusal of the credentials, a process's
    // cxo_cxone_credentials_refused is 1, as its message names the refusal (the gauge is this test
    // process's, shared by its "processes": cleared first).
    cxoneCredentialsRefused.set(0);
    const third = processOf(running, prefix, 'sandbox-secret', { baseWaitMs: 200 }).client;
    expect(((await third.tokens.getToken().catch((e: unknown) => e)) as Error).message).toMatch(LOCKED);
    expect((await cxoneCredentialsRefused.get()).values[0]?.value).toBe(1);
  });

  it('holds the longer 429 the record already had, not only its own shorter one', async () => {
    const running = await sandbox();
    const prefix = testPrefix('rv2-429longer');
    const xRedis = createRedis(REDIS_URL, { connectionName: 'cxo-test-rv2-429' });
    closers.push(async () => {
      xRedis.disconnect();
    });
    const elsewhere = createSharedCredentialsRefusal({
      redis: xRedis,
      keys: createKeys(prefix),
      logger: silentLogger,
    });
    const { client } = processOf(running, prefix, 'sandbox-secret', {
      wrap: (shared) => ({
        ...shared,
        async gate() {
          const answer = await shared.gate();
          // Another process's 429 of 3 s is recorded just after this one was let through, while its
          // request is on its way.
          await elsewhere.throttled({
            waitMs: 3_000,
            said: 'CXone refused token requests with 429',
            keepRefusalMs: 0,
          });
          return answer;
        },
      }),
    });
    // This process's own request is answered 429 with Retry-After 1 s.
    const fault = await fetch(`${running.url}/__sandbox/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ failNext: 1, status: 429, retryAfterSeconds: 1, endpoint: TOKEN }),
    });
    expect(fault.ok).toBe(true);
    const own = await client.tokens.getToken().catch((e: unknown) => e);
    expect(own).toBeInstanceOf(CxoneRateLimitError);
    expect((own as CxoneRateLimitError).retryAfterMs).toBeGreaterThan(2_000);
  });
});

describe('a token issued while another process’s 429 holds', () => {
  it('does not end the 429 in the record: a process asking next is told at once, not held in the limiter', async () => {
    const running = await sandbox();
    const prefix = testPrefix('rv2-429tok');
    const keys = createKeys(prefix);
    // Process A's token request was on its way when process X was answered 429 (Retry-After 3 s):
    // X's 429 is recorded, and the token endpoint penalized, before A's token is.
    const xRedis = createRedis(REDIS_URL, { connectionName: 'cxo-test-rv2-429' });
    closers.push(async () => {
      xRedis.disconnect();
    });
    const x = createSharedCredentialsRefusal({ redis: xRedis, keys, logger: silentLogger });
    const xLimiter = createFleetLimiter({
      redisUrl: REDIS_URL,
      prefix,
      perWindow: 1_000,
      windowMs: 10_000,
      logger: silentLogger,
    });
    closers.push(() => xLimiter.close());
    const a = processOf(running, prefix, 'sandbox-secret', {
      wrap: (shared) => ({
        ...shared,
        async accepted() {
          await x.throttled({
            waitMs: 3_000,
            said: 'CXone refused token requests with 429 temporarily_unavailable',
            keepRefusalMs: 0,
          });
          await xLimiter.penalize(TOKEN, 3_000);
          return shared.accepted();
        },
      }),
    }).client;
    await expect(a.tokens.getToken()).resolves.toEqual(expect.any(String));
    const key = credentialsRefusalKey(keys);
    expect(await xRedis.hget(key, 'state')).toBe('ok');

    // Process B needs a token while X's Retry-After runs: told at once (docs/limiter.md), not left
    // to wait out the penalty in the limiter with its callers.
    const b = processOf(running, prefix, 'sandbox-secret').client;
    const started = Date.now();
    const answer = await b.tokens.getToken().catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(answer).toBeInstanceOf(CxoneRateLimitError);
    expect((answer as Error).message).toMatch(
      /^CXone refused token requests with 429 temporarily_unavailable; no token request for [1-3] s more$/,
    );
    expect(await tokenCounters(running)).toMatchObject({ requests: 1, accepted: 1 });
  });
});
