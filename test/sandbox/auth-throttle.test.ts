import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { sandboxOptionsFromConfig } from '../../src/sandbox/embedded.js';
import type { RunningSandbox } from '../../src/sandbox/server.js';
import { ManualClock } from '../../src/shared/clock.js';
import { loadConfig } from '../../src/shared/config.js';
import { silentLogger } from '../../src/shared/logger.js';
import { call, CONSOLE, FLEET, start, type Reply } from './helpers.js';

/**
 * Failed client logins at POST /oauth2/token are throttled per client id, and per remote address for
 * ids the sandbox does not know: past the limit, 429 too_many_failed_auth with Retry-After, the right
 * secret included, until the window allows again.
 */

const login = (sandbox: RunningSandbox, clientId: string | undefined, clientSecret: string) =>
  call(sandbox, 'POST', '/oauth2/token', {
    form: {
      grant_type: 'client_credentials',
      ...(clientId !== undefined ? { client_id: clientId } : {}),
      client_secret: clientSecret,
    },
  });

/** A token request sent from `localAddress` (another loopback address: another caller to the sandbox). */
function loginFrom(
  sandbox: RunningSandbox,
  localAddress: string,
  clientId: string,
  clientSecret: string,
): Promise<Reply> {
  const body = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: clientId,
    client_secret: clientSecret,
  }).toString();
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${sandbox.url}/oauth2/token`,
      {
        method: 'POST',
        localAddress,
        agent: false,
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: new Headers(res.headers as Record<string, string>),
            body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('sandbox: failed client logins at the token endpoint', () => {
  let sandbox: RunningSandbox | undefined;
  afterEach(async () => {
    await sandbox?.close();
    sandbox = undefined;
  });

  it('locks a client after 10 failures a minute by default: 429 + Retry-After, even for the right secret; other clients go on', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 5, 12));
    sandbox = await start({ clock });
    const config = await call(sandbox, 'GET', '/__sandbox/config');
    expect(config.body.authFailureLimit).toEqual({ perWindow: 10, windowMs: 60_000 });
    for (let i = 0; i < 10; i += 1) {
      const refused = await login(sandbox, FLEET.clientId, 'wrong');
      expect(refused.status, `failure ${i + 1}`).toBe(401);
      expect(refused.body.error).toBe('invalid_client');
      clock.advance(1_000);
    }
    // 10 failures within 10 s: locked until the first leaves the window, 50 s from now.
    const locked = await login(sandbox, FLEET.clientId, 'wrong');
    expect(locked.status).toBe(429);
    expect(locked.headers.get('retry-after')).toBe('50');
    expect(locked.body).toMatchObject({ error: 'too_many_failed_auth', retryAfterSeconds: 50 });
    expect(String(locked.body.error_description)).toMatch(/too many failed client authentications/);
    const right = await login(sandbox, FLEET.clientId, FLEET.clientSecret);
    expect(right.status).toBe(429);
    expect(right.body.error).toBe('too_many_failed_auth');
    // Another client (of the same tenant) is not this client: its logins go on.
    expect((await login(sandbox, CONSOLE.clientId, CONSOLE.clientSecret)).status).toBe(200);
    // Refusals during the lockout do not move it: Retry-After counts down as announced.
    clock.advance(20_000);
    expect((await login(sandbox, FLEET.clientId, FLEET.clientSecret)).headers.get('retry-after')).toBe('30');
    const counters = (await call(sandbox, 'GET', '/__sandbox/counters')).body.endpoints as Record<
      string,
      { unauthorized: number; rateLimited: number; accepted: number }
    >;
    expect(counters['POST /oauth2/token']).toMatchObject({ unauthorized: 10, rateLimited: 3 });
  });

  it('lets the client in again once the oldest failure leaves the window, and counts afresh', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 5, 12));
    sandbox = await start({ clock, authFailureLimit: { perWindow: 3, windowMs: 10_000 } });
    for (let i = 0; i < 3; i += 1) {
      expect((await login(sandbox, FLEET.clientId, 'wrong')).status).toBe(401);
      clock.advance(2_000);
    }
    // Failures at 0, 2 and 4 s; now 6 s.
    expect((await login(sandbox, FLEET.clientId, FLEET.clientSecret)).headers.get('retry-after')).toBe('4');
    clock.advance(3_999);
    expect((await login(sandbox, FLEET.clientId, FLEET.clientSecret)).status).toBe(429);
    clock.advance(1);
    // The failure at 0 s has left the window: one more failure is allowed, and locks again.
    expect((await login(sandbox, FLEET.clientId, FLEET.clientSecret)).status).toBe(200);
    expect((await login(sandbox, FLEET.clientId, 'wrong')).status).toBe(401);
    const again = await login(sandbox, FLEET.clientId, FLEET.clientSecret);
    expect(again.status).toBe(429);
    expect(again.headers.get('retry-after')).toBe('2');
    // The control surface forgets the counts, as it forgets the rate windows.
    expect((await call(sandbox, 'DELETE', '/__sandbox/rate-limits')).status).toBe(200);
    expect((await login(sandbox, FLEET.clientId, FLEET.clientSecret)).status).toBe(200);
  });

  it('counts unknown client ids per remote address, apart from the known clients', async () => {
    sandbox = await start({ authFailureLimit: { perWindow: 3, windowMs: 60_000 } });
    // Three made-up ids (and a missing one would count the same) from one address.
    for (const id of ['spray-1', 'spray-2', 'spray-3']) {
      expect((await login(sandbox, id, 'x')).status).toBe(401);
    }
    const sprayed = await login(sandbox, 'spray-4', 'x');
    expect(sprayed.status).toBe(429);
    expect(sprayed.body.error).toBe('too_many_failed_auth');
    expect(Number(sprayed.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await login(sandbox, undefined, 'x')).status).toBe(429);
    // A known client from the same address is judged by its own count.
    expect((await login(sandbox, FLEET.clientId, FLEET.clientSecret)).status).toBe(200);
    expect((await login(sandbox, FLEET.clientId, 'wrong')).status).toBe(401);
    // Another address is not locked by this one's spraying.
    const elsewhere = await loginFrom(sandbox, '127.0.0.2', 'spray-5', 'x');
    expect(elsewhere.status).toBe(401);
    // While a client's lockout holds wherever its logins come from.
    for (let i = 0; i < 2; i += 1) expect((await login(sandbox, FLEET.clientId, 'wrong')).status).toBe(401);
    expect((await loginFrom(sandbox, '127.0.0.2', FLEET.clientId, FLEET.clientSecret)).status).toBe(429);
  });

  it('takes its limit from SANDBOX_AUTH_FAILURES_PER_MIN and SANDBOX_AUTH_FAILURE_WINDOW_MS', () => {
    const config = loadConfig({
      HOST: '127.0.0.1',
      SANDBOX_AUTH_FAILURES_PER_MIN: '4',
      SANDBOX_AUTH_FAILURE_WINDOW_MS: '30000',
    });
    expect(sandboxOptionsFromConfig(config, silentLogger).authFailureLimit).toEqual({
      perWindow: 4,
      windowMs: 30_000,
    });
    const defaults = loadConfig({ HOST: '127.0.0.1' });
    expect(sandboxOptionsFromConfig(defaults, silentLogger).authFailureLimit).toEqual({
      perWindow: 10,
      windowMs: 60_000,
    });
    expect(() => loadConfig({ HOST: '127.0.0.1', SANDBOX_AUTH_FAILURES_PER_MIN: '0' })).toThrow(
      /SANDBOX_AUTH_FAILURES_PER_MIN/,
    );
  });
});
