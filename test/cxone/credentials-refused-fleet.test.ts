import { describe, expect, it } from 'vitest';
import { buildApiApp } from '../../src/producers/app.js';
import { startSandbox } from '../../src/sandbox/server.js';
import type { SandboxClient } from '../../src/sandbox/types.js';
import { CXONE_SCOPES } from '../../src/shared/cxone/wire.js';
import { loadConfig } from '../../src/shared/config.js';
import { createContext } from '../../src/shared/context-factory.js';
import {
  createSharedCredentialsRefusal,
  credentialsRefusalKey,
} from '../../src/shared/cxone/credentials-refusal.js';
import { CxoneAuthError, CxoneRateLimitError } from '../../src/shared/errors.js';
import { createKeys } from '../../src/shared/keys.js';
import { createFleetLimiter } from '../../src/shared/limiter/fleet-limiter.js';
import { silentLogger } from '../../src/shared/logger.js';
import { createRedis } from '../../src/shared/redis.js';
import { freePort } from '../support/free-port.js';
import { recordingLogger } from '../support/log-capture.js';
import { startRedisMonitor } from '../support/redis-monitor.js';
import { deletePrefixAt, REDIS_URL, testPrefix } from '../support/redis-prefix.js';
import type { CxoneClient } from '../../src/shared/cxone/client.js';
import { closeAfter, closeFleetProcessesAfterEach, ownClosers, processOf, sandbox } from './fleet-process.js';
import { tokenCounters } from './harness.js';

closeFleetProcessesAfterEach();

/**
 * CXone's refusal of the credentials shared by the fleet (src/shared/cxone/credentials-refusal.ts):
 * several processes — each its own token provider, limiter and Redis connection, on one KEY_PREFIX —
 * with a wrong secret make the token requests of one, counted at the sandbox over real HTTP.
 *
 * Each test has its own sandbox (its own counters) and prefix, and closes what it started itself
 * (ownClosers): they run concurrently, since most of each is waiting out a refusal's or a lockout's
 * time.
 */

const TOKEN = 'POST /oauth2/token';
const WRONG_SECRET = 'rotated-away-secret-4711';
/** What every caller is told: the refusal, and (but for the request's own caller) how long it holds. */
const PLAIN =
  /^CXone refused the OAuth client credentials \(401 invalid_client\); check CXONE_CLIENT_ID and CXONE_CLIENT_SECRET( \(refused \d+ times? in a row; the next token request in \d+ s\))?$/;

/** Every client asks for a token at once: what each got, a token or the error that refused it. */
const tokenAnswers = (clients: readonly CxoneClient[]) =>
  Promise.all(clients.map((client) => client.tokens.getToken().catch((e: unknown) => e)));

/** Every client asks for a token at once, and each is refused, told plainly. */
async function expectAllToldPlainly(clients: readonly CxoneClient[]): Promise<void> {
  for (const err of await tokenAnswers(clients)) expect((err as Error).message).toMatch(PLAIN);
}

describe.concurrent('a fleet with a wrong secret', () => {
  it(
    'makes one token request in all, however many processes and callers, each told plainly',
    ownClosers(async () => {
      const running = await sandbox();
      const prefix = testPrefix('credfleet');
      const { logger, lines } = recordingLogger('info');
      const fleet = [1, 2, 3].map(() => processOf(running, prefix, WRONG_SECRET, { logger }).client);

      // Every process asks at once (a fleet started after a bad rotation), and keeps asking.
      for (let round = 0; round < 5; round += 1) {
        const errors = await Promise.all(
          fleet.flatMap((client) => [
            client.tokens.getToken().catch((e: unknown) => e),
            client.getCampaign('any').catch((e: unknown) => e),
          ]),
        );
        for (const err of errors) {
          expect(err).toBeInstanceOf(CxoneAuthError);
          expect((err as Error).message).toMatch(PLAIN);
        }
      }
      expect(await tokenCounters(running)).toMatchObject({ requests: 1, unauthorized: 1, rateLimited: 0 });
      // The other processes say it too, once each, without a request and without the secret.
      const errorLines = lines.filter((l) => l.level === 50);
      expect(errorLines).toHaveLength(3);
      expect(errorLines.filter((l) => /recorded by another process of the fleet/.test(l.msg))).toHaveLength(
        2,
      );
      expect(JSON.stringify(lines)).not.toContain(WRONG_SECRET);
    }),
  );

  it(
    'started at once within a minute of a token issued elsewhere, it still makes one token request',
    ownClosers(async () => {
      const running = await sandbox();
      const prefix = testPrefix('credokwrong');
      // An old process, right secret, was just issued a token (state ok)...
      const old = processOf(running, prefix, 'sandbox-secret').client;
      await expect(old.tokens.getToken()).resolves.toEqual(expect.any(String));
      // ...when four new ones start at once with a wrong one (a bad rotation rolled out).
      const fleet = [1, 2, 3, 4].map(() => processOf(running, prefix, WRONG_SECRET).client);
      await expectAllToldPlainly(fleet);
      expect(await tokenCounters(running)).toMatchObject({ accepted: 1, unauthorized: 1 });
    }),
  );

  it(
    'waiting on a token request that failed (503) does not make the state ok of an earlier token a pass',
    ownClosers(async () => {
      const running = await sandbox();
      const prefix = testPrefix('credokstale');
      const old = processOf(running, prefix, 'sandbox-secret').client;
      await expect(old.tokens.getToken()).resolves.toEqual(expect.any(String));
      // A new process claims the token request, which fails; three with a wrong secret wait for it.
      const fault = await fetch(`${running.url}/__sandbox/faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ failNext: 1, status: 503, endpoint: TOKEN, latencyMs: 300 }),
      });
      expect(fault.ok).toBe(true);
      const { client: claimant, redis } = processOf(running, prefix, 'sandbox-secret');
      const claimed = claimant.tokens.getToken().catch((e: unknown) => e);
      const key = credentialsRefusalKey(createKeys(prefix));
      while ((await redis.hget(key, 'claim')) === null)
        await new Promise((resolve) => setTimeout(resolve, 5));
      const fleet = [1, 2, 3].map(() => processOf(running, prefix, WRONG_SECRET).client);
      await Promise.all(fleet.map((client) => client.tokens.getToken().catch(() => undefined)));
      expect(await claimed).toBeInstanceOf(Error);
      expect(await tokenCounters(running)).toMatchObject({ faults: 1, unauthorized: 1 });
    }),
  );

  it(
    'the others wait for the one asking even while its request waits out a 429 penalty in the limiter',
    ownClosers(async () => {
      const running = await sandbox();
      const prefix = testPrefix('credpenalty');
      const fleet = [1, 2, 3].map(() => processOf(running, prefix, WRONG_SECRET).client);
      // A penalty on the token endpoint (an earlier 429) holds the first request for 6 s: past the
      // old 5 s the others waited, after which they queued requests of their own behind the same
      // penalty and all sent them the moment it ended.
      const penalizer = createFleetLimiter({
        redisUrl: REDIS_URL,
        prefix,
        perWindow: 1_000,
        windowMs: 10_000,
        logger: silentLogger,
      });
      closeAfter(() => penalizer.close());
      await penalizer.penalize(TOKEN, 6_000);
      await expectAllToldPlainly(fleet);
      expect(await tokenCounters(running)).toMatchObject({ requests: 1, unauthorized: 1 });
    }),
  );

  it(
    'after the shared wait one process asks, and the waits double fleet-wide: no lockout',
    ownClosers(async () => {
      const running = await sandbox();
      const prefix = testPrefix('credwave');
      const fleet = [1, 2, 3].map(() => processOf(running, prefix, WRONG_SECRET, { baseWaitMs: 400 }).client);

      // 3 s of every process asking every 50 ms: per process that was 4 requests (0, 0.4, 1.2, 2.8 s),
      // 12 in all; shared, the fleet makes the 4 of one process (a slow machine makes fewer, not more).
      const until = Date.now() + 3_000;
      while (Date.now() < until) {
        await Promise.all(fleet.map((client) => client.tokens.getToken().catch(() => undefined)));
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const counted = await tokenCounters(running);
      expect(counted.requests).toBeGreaterThanOrEqual(2);
      expect(counted.requests).toBeLessThanOrEqual(4);
      expect(counted.rateLimited).toBe(0);
    }),
  );
});

describe.concurrent('a healthy fleet', () => {
  it(
    'gets every process its token, and serves a cached token without looking at the record',
    ownClosers(async () => {
      const running = await sandbox();
      const prefix = testPrefix('credok');
      const looks = { gate: 0 };
      const fleet = [1, 2, 3].map(() => {
        const { client } = processOf(running, prefix, 'sandbox-secret', {
          wrap: (shared) => ({
            ...shared,
            gate: () => {
              looks.gate += 1;
              return shared.gate();
            },
          }),
        });
        return client;
      });
      // Cold, all at once: one asks first, the others go as soon as its token is in.
      const tokens = await Promise.all(fleet.map((client) => client.tokens.getToken()));
      expect(tokens.every((t) => typeof t === 'string')).toBe(true);
      expect(await tokenCounters(running)).toMatchObject({ requests: 3, accepted: 3 });
      const before = looks.gate;
      // Watched at Redis too: a regression that reads the record any other way than gate() shows here.
      const monitor = await startRedisMonitor(REDIS_URL);
      for (let i = 0; i < 50; i += 1) {
        for (const client of fleet) await client.tokens.getToken();
      }
      const seen = await monitor.stop();
      const key = credentialsRefusalKey(createKeys(prefix));
      expect(seen.filter((c) => c.args.includes(key))).toEqual([]);
      expect(looks.gate).toBe(before);
      expect(before).toBeGreaterThanOrEqual(3);
    }),
  );
});

describe.concurrent('a healthy fleet whose tokens CXone revoked', () => {
  it(
    'gets every process a new token at once after one request, whatever state ok says',
    ownClosers(async () => {
      const running = await sandbox();
      const prefix = testPrefix('credrevoked');
      const fleet = [1, 2, 3, 4].map(() => processOf(running, prefix, 'sandbox-secret').client);
      const tokens = await Promise.all(fleet.map((client) => client.tokens.getToken()));
      expect((await fetch(`${running.url}/__sandbox/tokens`, { method: 'DELETE' })).ok).toBe(true);
      const fresh = await Promise.all(
        fleet.map((client, i) => {
          client.tokens.invalidate(tokens[i]!);
          return client.tokens.getToken();
        }),
      );
      expect(fresh.every((t, i) => typeof t === 'string' && t !== tokens[i])).toBe(true);
      expect(await tokenCounters(running)).toMatchObject({ requests: 8, accepted: 8, unauthorized: 0 });
    }),
  );
});

describe.concurrent('the secret rotated in CXone under a running fleet', () => {
  it(
    'every process refused at once (its tokens revoked) within a minute of a token makes one token request',
    ownClosers(async () => {
      // CXone's side of a rotation after a leak: a new secret, and every token issued so far revoked.
      const registered: SandboxClient = {
        clientId: 'sandbox-client',
        clientSecret: 'sandbox-secret',
        scopes: [...CXONE_SCOPES],
      };
      const running = await startSandbox({ port: 0, logger: silentLogger, clients: [registered] });
      closeAfter(() => running.close());
      const prefix = testPrefix('credrotated');
      const fleet = [1, 2, 3, 4].map(() => processOf(running, prefix, 'sandbox-secret').client);
      const tokens = await Promise.all(fleet.map((client) => client.tokens.getToken()));
      expect(await tokenCounters(running)).toMatchObject({ accepted: 4 });

      registered.clientSecret = 'the-new-secret';
      expect((await fetch(`${running.url}/__sandbox/tokens`, { method: 'DELETE' })).ok).toBe(true);
      // Every process's calls are answered 401 from now on (client.ts: invalidate, then a new token).
      const errors = await Promise.all(
        fleet.map((client, i) => {
          client.tokens.invalidate(tokens[i]!);
          return client.tokens.getToken().catch((e: unknown) => e);
        }),
      );
      for (const err of errors) expect((err as Error).message).toMatch(PLAIN);
      expect(await tokenCounters(running)).toMatchObject({ accepted: 4, unauthorized: 1 });
    }),
  );
});

describe.concurrent('recovery once the secret is right', () => {
  it(
    'a new process with the right secret waits out the shared record, then its token clears it for all',
    ownClosers(async () => {
      const running = await sandbox();
      const prefix = testPrefix('credfix');
      const wrong = processOf(running, prefix, WRONG_SECRET, { baseWaitMs: 1_500 }).client;
      await expect(wrong.tokens.getToken()).rejects.toBeInstanceOf(CxoneAuthError);

      // Within the wait the right secret is held too (the record cannot tell a fixed secret from a wrong one).
      const fixed = processOf(running, prefix, 'sandbox-secret', { baseWaitMs: 1_500 }).client;
      const held = await fixed.tokens.getToken().catch((e: unknown) => e);
      expect((held as Error).message).toMatch(PLAIN);
      expect((await tokenCounters(running)).requests).toBe(1);

      // Once it has passed, the fixed process gets its token, which clears the record for the fleet.
      let token: string | undefined;
      const deadline = Date.now() + 10_000;
      while (token === undefined && Date.now() < deadline) {
        token = await fixed.tokens.getToken().catch(() => undefined);
        if (token === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(token).toEqual(expect.any(String));
      expect(await tokenCounters(running)).toMatchObject({ accepted: 1, unauthorized: 1 });
    }),
  );

  it(
    'a token issued to a fixed process does not let every process still on the wrong secret ask at once',
    ownClosers(async () => {
      const running = await sandbox();
      const prefix = testPrefix('credmixed');
      // A rolling fix: four processes still run with the wrong secret when the first fixed one starts.
      const wrong = [1, 2, 3, 4].map(
        () => processOf(running, prefix, WRONG_SECRET, { baseWaitMs: 400 }).client,
      );
      await Promise.all(wrong.map((client) => client.tokens.getToken().catch(() => undefined)));
      expect(await tokenCounters(running)).toMatchObject({ requests: 1, unauthorized: 1 });

      // Past the wait, the fixed process asks first and is issued a token.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const fixed = processOf(running, prefix, 'sandbox-secret', { baseWaitMs: 400 }).client;
      await expect(fixed.tokens.getToken()).resolves.toEqual(expect.any(String));

      // The wrong ones look again (a second after their last look) and all want a token at once:
      // the fleet still makes one failed login, not one per process (10 a minute lock the client).
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      await expectAllToldPlainly(wrong);
      expect(await tokenCounters(running)).toMatchObject({ accepted: 1, unauthorized: 2 });
    }),
  );

  it(
    "an operator's DEL of the record ends the hold within a second",
    ownClosers(async () => {
      const running = await sandbox();
      const prefix = testPrefix('credclear');
      const wrong = processOf(running, prefix, WRONG_SECRET).client; // a 10 s wait
      await expect(wrong.tokens.getToken()).rejects.toBeInstanceOf(CxoneAuthError);
      const { client: fixed, redis } = processOf(running, prefix, 'sandbox-secret');
      await expect(fixed.tokens.getToken()).rejects.toThrow(PLAIN);

      // docs/operations.md: redis-cli DEL '<KEY_PREFIX>:cxone:credentials'
      expect(await redis.del(credentialsRefusalKey(createKeys(prefix)))).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      await expect(fixed.tokens.getToken()).resolves.toEqual(expect.any(String));
      expect(await tokenCounters(running)).toMatchObject({ requests: 2, accepted: 1, unauthorized: 1 });
    }),
  );
});

describe.concurrent('Redis down', () => {
  it(
    'does not stop a process from getting a token, and its own back-off still holds',
    ownClosers(async () => {
      const running = await sandbox();
      const prefix = testPrefix('credredis');
      // A free port nobody listens on: a Redis that is down.
      const redisUrl = `redis://127.0.0.1:${await freePort()}`;
      const right = processOf(running, prefix, 'sandbox-secret', { redisUrl }).client;
      await expect(right.tokens.getToken()).resolves.toEqual(expect.any(String));

      const wrong = processOf(running, prefix, WRONG_SECRET, { redisUrl }).client;
      for (let i = 0; i < 4; i += 1) {
        await expect(wrong.tokens.getToken()).rejects.toBeInstanceOf(CxoneAuthError);
      }
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      await expect(wrong.tokens.getToken()).rejects.toBeInstanceOf(CxoneAuthError);
      expect(await tokenCounters(running)).toMatchObject({ requests: 2, accepted: 1, unauthorized: 1 });
    }),
  );
});

describe.concurrent('/readyz across the fleet', () => {
  it(
    'says the credentials are wrong in every process, for one token request',
    ownClosers(async () => {
      const running = await sandbox();
      const prefix = testPrefix('credreadyfleet');
      const config = loadConfig({
        REDIS_URL,
        KEY_PREFIX: prefix,
        API_TOKEN: 'ops-ready-token',
        CXONE_BASE_URL: running.url,
        CXONE_CLIENT_ID: 'sandbox-client',
        CXONE_CLIENT_SECRET: WRONG_SECRET,
        CXONE_TIMEOUT_MS: '2000',
      });
      const apps = [];
      for (let i = 0; i < 2; i += 1) {
        const ctx = await createContext(config, silentLogger);
        const app = await buildApiApp(ctx);
        closeAfter(async () => {
          await app.close();
          await ctx.close();
          await deletePrefixAt(prefix);
        });
        await app.ready();
        apps.push(app);
      }
      for (let i = 0; i < 4; i += 1) {
        for (const app of apps) {
          const res = await app.inject({ method: 'GET', url: '/readyz' });
          expect(res.statusCode).toBe(503);
          const body = res.json() as { checks: { cxone: { ok: boolean; error: string } } };
          expect(body.checks.cxone.error).toMatch(PLAIN);
          expect(res.body).not.toContain(WRONG_SECRET);
        }
      }
      expect((await tokenCounters(running)).requests).toBe(1);
    }),
  );
});

describe.concurrent('a 429 from the token endpoint (an IdP lockout) in one process', () => {
  /** What every caller of every process is told while it holds: CXone's words, the time left, the refusal before it. */
  const LOCKED =
    /^CXone refused token requests with 429 too_many_failed_auth \(".*too many failed client authentications.*"\); no token request for [1-4] s more, and before it CXone refused the OAuth client credentials: check CXONE_CLIENT_ID and CXONE_CLIENT_SECRET$/;

  /**
   * Sleeps until every 429 among `errors` has run out, and 100 ms more. Counted from `heardAt`, when
   * the last of them was in: each error's retryAfterMs counts from its own answer, which came before
   * then. Counted from before the calls instead, the time the calls took was taken off the wait, and
   * on a loaded machine (calls of over 100 ms) the look after it came while the 429 still held.
   */
  async function sleepPast429s(errors: unknown[], heardAt: number): Promise<void> {
    const longest = Math.max(...errors.map((e) => (e as CxoneRateLimitError).retryAfterMs ?? 0));
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, heardAt + longest - Date.now()) + 100));
  }

  /**
   * A sandbox that locks the client for 3 s after one failed login, and a process with the wrong
   * secret that was refused (a 200 ms wait), then asked again and was answered the lockout's 429.
   */
  async function lockedOut(tag: string) {
    const running = await sandbox({ authFailureLimit: { perWindow: 1, windowMs: 3_000 } });
    const prefix = testPrefix(tag);
    const first = processOf(running, prefix, WRONG_SECRET, { baseWaitMs: 200 }).client;
    await expect(first.tokens.getToken()).rejects.toBeInstanceOf(CxoneAuthError);
    await new Promise((resolve) => setTimeout(resolve, 250));
    const locked = await first.tokens.getToken().catch((e: unknown) => e);
    expect(locked).toBeInstanceOf(CxoneRateLimitError);
    expect((locked as Error).message).toMatch(LOCKED);
    expect(await tokenCounters(running)).toMatchObject({ requests: 2, unauthorized: 1, rateLimited: 1 });
    return { running, prefix, first };
  }

  it(
    "tells every other process's callers at once, without a token request or a wait in the limiter, and one asks after it",
    ownClosers(async () => {
      const { running, prefix } = await lockedOut('cred429');
      // Processes started with the fixed secret meanwhile: the lockout is the client's, so they are
      // held too — told at once, where their token requests queued behind the 429's penalty (3 s).
      const { logger, lines } = recordingLogger('info');
      const fleet = [1, 2].map(() => processOf(running, prefix, 'sandbox-secret', { logger }).client);
      const started = Date.now();
      const errors = await Promise.all(
        fleet.flatMap((client) => [
          client.tokens.getToken().catch((e: unknown) => e),
          client.getCampaign('any').catch((e: unknown) => e),
          client.tokens.getToken().catch((e: unknown) => e),
        ]),
      );
      const heardAt = Date.now();
      expect(Date.now() - started).toBeLessThan(1_000);
      for (const err of errors) {
        expect(err).toBeInstanceOf(CxoneRateLimitError);
        expect((err as Error).message).toMatch(LOCKED);
        expect((err as CxoneRateLimitError).retryAfterMs).toBeGreaterThan(1_000);
        expect((err as CxoneRateLimitError).retryAfterMs).toBeLessThanOrEqual(3_000);
      }
      expect((await tokenCounters(running)).requests).toBe(2);
      // Said once per process, as a warning, without the secret.
      const said = lines.filter((l) => /recorded by another process of the fleet/.test(l.msg));
      expect(said).toHaveLength(2);
      expect(said.every((l) => l.level === 40 && /429 too_many_failed_auth/.test(l.msg))).toBe(true);
      expect(JSON.stringify(lines)).not.toContain(WRONG_SECRET);

      // Asked again while it holds: the same answer, and nothing sent.
      await new Promise((resolve) => setTimeout(resolve, 500));
      for (const client of fleet) {
        await expect(client.tokens.getToken()).rejects.toBeInstanceOf(CxoneRateLimitError);
      }
      expect((await tokenCounters(running)).requests).toBe(2);

      // Once its Retry-After has passed, they ask again: one request, then the other at once.
      await sleepPast429s(errors, heardAt);
      const tokens = await Promise.all(fleet.map((client) => client.tokens.getToken()));
      expect(tokens.every((t) => typeof t === 'string')).toBe(true);
      expect(await tokenCounters(running)).toMatchObject({
        requests: 4,
        accepted: 2,
        unauthorized: 1,
        rateLimited: 1,
      });
    }),
  );

  it(
    'tells the processes waiting for the one asking at once, and the refusal after it still doubles the wait',
    ownClosers(async () => {
      const running = await sandbox({ authFailureLimit: { perWindow: 1, windowMs: 3_000 } });
      const prefix = testPrefix('cred429wait');
      const fleet = [1, 2, 3].map(() => processOf(running, prefix, WRONG_SECRET, { baseWaitMs: 200 }).client);
      await Promise.all(fleet.map((client) => client.tokens.getToken().catch(() => undefined)));
      expect(await tokenCounters(running)).toMatchObject({ requests: 1, unauthorized: 1 });

      // Past the wait all three ask at once: one claims and is answered the lockout's 429; the two
      // waiting for its answer hear it at once instead of claiming in turn and queueing behind it.
      await new Promise((resolve) => setTimeout(resolve, 250));
      const started = Date.now();
      const errors = await tokenAnswers(fleet);
      const heardAt = Date.now();
      expect(heardAt - started).toBeLessThan(1_500);
      for (const err of errors) expect((err as Error).message).toMatch(LOCKED);
      expect(await tokenCounters(running)).toMatchObject({ requests: 2, unauthorized: 1, rateLimited: 1 });

      // The lockout (3 s) outlasts the refusal's own record (200 ms + 1.6 s): after it, one asks, is
      // refused, and the fleet counts that refusal the second in a row.
      await sleepPast429s(errors, heardAt);
      const after = await tokenAnswers(fleet);
      for (const err of after) expect(err).toBeInstanceOf(CxoneAuthError);
      expect(after.some((err) => /refused 2 times in a row/.test((err as Error).message))).toBe(true);
      expect(after.some((err) => /refused 1 time in a row/.test((err as Error).message))).toBe(false);
      expect(await tokenCounters(running)).toMatchObject({ requests: 3, unauthorized: 2, rateLimited: 1 });
    }),
  );

  // Alone: its look past the lockout has a margin of under a second, left to this test's own timers.
  it.sequential(
    'keeps the refusal before it while the 429 holds and past it, so the next refusal doubles; a refusal meanwhile keeps the 429',
    ownClosers(async () => {
      const prefix = testPrefix('cred429rec');
      const redis = createRedis(REDIS_URL, { connectionName: 'cxo-test-credref' });
      closeAfter(async () => {
        redis.disconnect();
        await deletePrefixAt(prefix);
      });
      const record = () =>
        createSharedCredentialsRefusal({ redis, keys: createKeys(prefix), logger: silentLogger });
      const key = credentialsRefusalKey(createKeys(prefix));
      const wait = { baseWaitMs: 100, maxWaitMs: 1_000 };
      const refusal = {
        status: 401,
        message: 'CXone refused the OAuth client credentials (401 invalid_client)',
      };
      const said = 'CXone refused token requests with 429 too_many_failed_auth';
      const a = record();
      const b = record();
      expect(await a.refused({ ...refusal, ...wait })).toEqual({ inARow: 1, waitMs: 100 });
      // A lockout longer than the refusal's own record (100 ms + 1 s), as CXone's 10 min can be
      // against a refusal's 10 s + 5 min: the record keeps the refusal its max wait (1 s) past the
      // lockout, as the token provider asks (keepRefusalMs is the max wait). A whole second, not
      // 300 ms: the look past the lockout below comes after two timers and several round trips,
      // which a loaded CI box delayed past a 200 ms margin.
      expect(await a.throttled({ waitMs: 1_500, said, keepRefusalMs: 1_000 })).toMatchObject({
        said,
        afterRefusal: true,
      });
      expect(await b.gate()).toMatchObject({ kind: 'throttled', said, afterRefusal: true });
      expect(await redis.pttl(key)).toBeGreaterThan(1_500);
      expect(await redis.pttl(key)).toBeLessThanOrEqual(2_500);
      // A refusal to a request sent before the 429 was recorded does not end it.
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect(await b.refused({ ...refusal, ...wait })).toEqual({ inARow: 2, waitMs: 200 });
      expect(await b.gate()).toMatchObject({ kind: 'throttled', said, afterRefusal: true });
      // Past the lockout, within its max wait of its end: asked again and refused, the third in a row.
      await new Promise((resolve) => setTimeout(resolve, 1_450));
      expect(await b.gate()).toEqual({ kind: 'go' });
      expect(await b.refused({ ...refusal, ...wait })).toEqual({ inARow: 3, waitMs: 400 });
      // A token clears it all.
      await b.accepted();
      expect(await redis.hget(key, 'throttledUntil')).toBeNull();
      expect(await redis.hget(key, 'state')).toBe('ok');
    }),
  );
});
