import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AUTH_FAILURE_LIMIT,
  AUTH_FAILURE_WINDOW_MS,
  clientBucket,
} from '../../src/producers/auth-throttle.js';
import { authThrottled } from '../../src/shared/metrics.js';
import { API_TOKEN, campaignConfig, REDIS_URL, startStack, waitFor, type Stack } from '../e2e/stack.js';
import { startRedisMonitor, type MonitoredCommand } from '../support/redis-monitor.js';
import { stackForSuite } from '../support/stack-suite.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

/**
 * The failed-authentication throttle over real HTTP and real Redis: requests are sent from chosen
 * loopback addresses (127.0.0.1, 127.0.0.2, …), each a client address the API counts apart.
 */

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

/** One request from `from` (a local address to send from), with `authorization` as given. */
function send(
  stack: Pick<Stack, 'apiUrl'>,
  from: string,
  method: string,
  path: string,
  opts: { authorization?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const url = new URL(path, stack.apiUrl);
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method,
        localAddress: from,
        agent: false,
        headers: {
          ...(opts.authorization ? { authorization: opts.authorization } : {}),
          ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
          ...opts.headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          let body: Record<string, unknown> = {};
          try {
            body = JSON.parse(text) as Record<string, unknown>;
          } catch {
            body = {};
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const BEARER = `Bearer ${API_TOKEN}`;
const WRONG = 'Bearer wrong-token-0123';
const basic = (password: string) => `Basic ${Buffer.from(`ops:${password}`).toString('base64')}`;

async function throttledCount(): Promise<number> {
  return (await authThrottled.get()).values[0]?.value ?? 0;
}

/**
 * Commands a client sent Redis naming this stack's failed-authentication keys while `work` ran (the
 * commands a script runs inside Redis are left out: they cost no round trip).
 */
async function authCommandsDuring(stack: Stack, work: () => Promise<void>): Promise<string[]> {
  const monitor = await startRedisMonitor(REDIS_URL);
  const needle = `${stack.prefix}:auth-failures`;
  let seen: MonitoredCommand[] = [];
  try {
    await work();
    // A last, unrelated command to flush what MONITOR has queued for this connection.
    await stack.redis.ping();
    await new Promise((r) => setTimeout(r, 100));
  } finally {
    seen = await monitor.stop();
  }
  return seen
    .filter(({ source, args }) => source !== 'lua' && args.some((arg) => arg.includes(needle)))
    .map(({ args }) => args.join(' '));
}

describe('the failed-authentication throttle at its defaults', () => {
  const suite = stackForSuite();

  it(`answers 401 to ${AUTH_FAILURE_LIMIT} failures from an address within a minute, then 429 with Retry-After, and still accepts the token`, async () => {
    const stack = suite.stack;
    const from = '127.0.0.3';
    for (let i = 1; i <= AUTH_FAILURE_LIMIT; i++) {
      // Every way of failing counts: a wrong bearer token, none at all, a wrong Basic password.
      const reply =
        i % 3 === 0
          ? await send(stack, from, 'GET', '/admin/queues', { authorization: basic('not-the-token') })
          : await send(stack, from, 'GET', '/v1/launches/x', i % 3 === 1 ? { authorization: WRONG } : {});
      expect(reply.status, `failure ${i}`).toBe(401);
    }
    const before = await throttledCount();
    const throttled = await send(stack, from, 'POST', '/v1/campaigns', {
      authorization: WRONG,
      body: campaignConfig(),
    });
    expect(throttled.status).toBe(429);
    const retryAfter = Number(throttled.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(AUTH_FAILURE_WINDOW_MS / 1000);
    expect(throttled.headers['content-type']).toMatch(/^application\/json/);
    expect(throttled.body).toMatchObject({ error: 'too_many_failed_auth', retryAfterSeconds: retryAfter });
    expect(String(throttled.body.message)).toContain(`more than ${AUTH_FAILURE_LIMIT} requests`);
    expect(await suite.queued()).toBe(0);

    // Without a token, with a wrong Basic password on Bull Board (and its unserved paths): 429 too.
    expect((await send(stack, from, 'GET', '/v1/nothing-here')).status).toBe(429);
    expect(
      (await send(stack, from, 'GET', '/admin/queues', { authorization: basic('still-wrong') })).status,
    ).toBe(429);
    expect((await send(stack, from, 'GET', '/admin/queues/no/such/page')).status).toBe(429);
    // A path the router refuses before any hook runs takes the same check.
    expect((await send(stack, from, 'GET', '/v1/%ZZ')).body.error).toBe('too_many_failed_auth');
    expect((await throttledCount()) - before).toBe(5);

    // The right token from the same address is accepted: a client behind the same NAT is not locked out.
    const valid = await send(stack, from, 'POST', '/v1/campaigns/validate', {
      authorization: BEARER,
      body: campaignConfig(),
    });
    expect(valid.status).toBe(200);
    expect(valid.body).toMatchObject({ valid: true });
    expect(
      (await send(stack, from, 'GET', '/admin/queues', { authorization: basic(API_TOKEN) })).status,
    ).toBe(200);

    // Another address is counted apart.
    const other = await send(stack, '127.0.0.4', 'GET', '/v1/launches/x', { authorization: WRONG });
    expect(other.status).toBe(401);
    expect(other.body.error).toBe('unauthorized');

    // The count lives under the fleet's prefix, with the window's expiry.
    const key = `${stack.prefix}:auth-failures:${from}`;
    expect(Number(await stack.redis.get(key))).toBeGreaterThan(AUTH_FAILURE_LIMIT);
    const ttl = await stack.redis.pttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(AUTH_FAILURE_WINDOW_MS);
  });

  it('sends Redis nothing for an accepted request, and nothing for a refusal this process knows is throttled', async () => {
    const stack = suite.stack;
    const from = '127.0.0.5';
    for (let i = 0; i <= AUTH_FAILURE_LIMIT; i++)
      await send(stack, from, 'GET', '/v1/x', { authorization: WRONG });
    const commands = await authCommandsDuring(stack, async () => {
      for (let i = 0; i < 5; i++) {
        expect((await send(stack, from, 'GET', '/v1/nothing', { authorization: BEARER })).status).toBe(404);
        expect((await send(stack, from, 'GET', '/v1/nothing', { authorization: WRONG })).status).toBe(429);
        expect((await send(stack, '127.0.0.6', 'GET', '/v1/x', { authorization: BEARER })).status).toBe(404);
      }
    });
    expect(commands).toEqual([]);
    // A refusal from an address not known to be throttled is counted in one command.
    const counted = await authCommandsDuring(stack, async () => {
      expect((await send(stack, '127.0.0.6', 'GET', '/v1/x', { authorization: WRONG })).status).toBe(401);
    });
    expect(counted).toHaveLength(1);
    expect(counted[0]).toMatch(/^eval(sha)? /i);
  });
});

describe("the OpenAPI document's 429", () => {
  const suite = stackForSuite();

  it('is documented, with Retry-After, on every operation behind the token, and on none other', async () => {
    const res = await fetch(`${suite.stack.apiUrl}/docs/json`);
    const doc = (await res.json()) as {
      paths: Record<string, Record<string, { responses?: Record<string, { headers?: object }> }>>;
    };
    const operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods)
        .filter(([method]) => ['get', 'post', 'patch', 'put', 'delete'].includes(method))
        .map(([method, op]) => ({ name: `${method.toUpperCase()} ${path}`, path, op })),
    );
    const guarded = operations.filter((o) => o.path.startsWith('/v1/') || o.path.startsWith('/admin/'));
    expect(guarded.length).toBeGreaterThan(10);
    for (const { name, op } of guarded) {
      expect(Object.keys(op.responses?.['429']?.headers ?? {}), name).toContain('Retry-After');
    }
    for (const { name, op } of operations.filter((o) => !guarded.includes(o))) {
      expect(op.responses?.['429'], name).toBeUndefined();
    }
  });
});

describe('the failed-authentication throttle with a short window', () => {
  let contested: string | undefined;
  const suite = stackForSuite({
    apiOptions: { authThrottle: { limit: 3, windowMs: 1_000 }, fleetContested: () => contested },
  });

  it('counts nothing while another fleet is on the prefix, which the API writes nothing to then', async () => {
    const from = '127.0.0.12';
    contested = 'another fleet is on this prefix';
    try {
      const seen: number[] = [];
      for (let i = 0; i < 5; i++) {
        seen.push((await send(suite.stack, from, 'GET', '/v1/x', { authorization: WRONG })).status);
      }
      expect(seen).toEqual([401, 401, 401, 401, 401]);
      expect(await suite.stack.redis.exists(`${suite.stack.prefix}:auth-failures:${from}`)).toBe(0);
    } finally {
      contested = undefined;
    }
  });

  it('lets an address go when its window ends, and counts it again from zero', async () => {
    const from = '127.0.0.7';
    const statuses = async (n: number) => {
      const seen: number[] = [];
      for (let i = 0; i < n; i++) {
        seen.push((await send(suite.stack, from, 'GET', '/v1/x', { authorization: WRONG })).status);
      }
      return seen;
    };
    expect(await statuses(5)).toEqual([401, 401, 401, 429, 429]);
    const key = `${suite.stack.prefix}:auth-failures:${from}`;
    await new Promise((r) => setTimeout(r, 1_200));
    expect(await suite.stack.redis.exists(key)).toBe(0);
    expect(await statuses(4)).toEqual([401, 401, 401, 429]);
  });

  it('does not take X-Forwarded-For as the address: a client cannot pick its own bucket', async () => {
    const from = '127.0.0.8';
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) {
      const reply = await send(suite.stack, from, 'GET', '/v1/x', {
        authorization: WRONG,
        headers: { 'x-forwarded-for': `198.51.100.${i}`, 'x-real-ip': `198.51.100.${i}` },
      });
      seen.push(reply.status);
    }
    expect(seen).toEqual([401, 401, 401, 429, 429]);
  });
});

describe('the failed-authentication throttle while Redis does not answer', () => {
  let proxy: TcpProxy;
  let stack: Stack;
  beforeAll(async () => {
    proxy = await startTcpProxy();
    stack = await startStack({
      env: { REDIS_URL: proxy.url },
      apiOptions: { authThrottle: { limit: 2, windowMs: 60_000 } },
    });
  });
  afterAll(async () => {
    proxy?.thaw();
    await stack?.close();
    await proxy?.close();
  });

  const statuses = async (from: string, n: number, authorization = WRONG) => {
    const seen: number[] = [];
    for (let i = 0; i < n; i++) {
      const started = Date.now();
      seen.push((await send(stack, from, 'GET', '/v1/x', { authorization })).status);
      // Never held for the request deadline (15 s): the count waits half a second at most.
      expect(Date.now() - started).toBeLessThan(1_500);
    }
    return seen;
  };

  it('fails open while Redis stalls: refusals are 401, never 429, the token still required; the count catches up after', async () => {
    const from = '127.0.0.9';
    proxy.freeze();
    try {
      expect(await statuses(from, 4)).toEqual([401, 401, 401, 401]);
    } finally {
      proxy.thaw();
    }
    // The stalled counts reach Redis once it answers: late, not lost.
    expect(await statuses(from, 1)).toEqual([429]);
  });

  it('fails open while Redis is disconnected, at once and without queueing a count', async () => {
    const from = '127.0.0.10';
    proxy.cut();
    try {
      await waitFor('the API to see Redis gone', async () => stack.ctx.redis.status !== 'ready' || undefined);
      expect(await statuses(from, 4)).toEqual([401, 401, 401, 401]);
      expect(await statuses('127.0.0.11', 1, BEARER)).toEqual([404]);
    } finally {
      await proxy.restore();
    }
    await waitFor(
      'the API to reconnect to Redis',
      async () => stack.ctx.redis.status === 'ready' || undefined,
    );
    expect(await statuses(from, 3)).toEqual([401, 401, 429]);
  });
});

describe('clientBucket', () => {
  it('counts an IPv4 address alone, however Node reports it', () => {
    expect(clientBucket('192.0.2.1')).toBe('192.0.2.1');
    expect(clientBucket('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(clientBucket('::FFFF:192.0.2.1')).toBe('192.0.2.1');
  });

  it('counts an IPv6 address with its /64, however it is written', () => {
    const bucket = '2001:db8:1:2::/64';
    for (const ip of [
      '2001:db8:1:2::1',
      '2001:0db8:0001:0002:ffff:ffff:ffff:ffff',
      '2001:db8:1:2:a:b:c:d',
      '2001:db8:1:2::1%eth0',
      '2001:db8:1:2::192.0.2.1',
    ]) {
      expect(clientBucket(ip), ip).toBe(bucket);
    }
    expect(clientBucket('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
    expect(clientBucket('::1')).toBe('0:0:0:0::/64');
    expect(clientBucket('2001:db8::')).toBe('2001:db8:0:0::/64');
  });

  it('puts a request without an address in one bucket of its own', () => {
    expect(clientBucket(undefined)).toBe('unknown');
    expect(clientBucket('')).toBe('unknown');
  });
});
