import { createServer, type Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/shared/clock.js';
import { launchIdempotencyKey } from '../../src/shared/cxone/idempotency.js';
import {
  CxoneAuthError,
  CxoneConflictError,
  CxoneForbiddenError,
  CxoneMalformedResponseError,
  CxoneNotFoundError,
  CxoneRateLimitError,
  CxoneUnavailableError,
  CxoneValidationError,
} from '../../src/shared/errors.js';
import { DEFAULT_PENALTY_MS } from '../../src/shared/cxone/token-provider.js';
import {
  campaignBody,
  type Harness,
  REDIS_URL,
  scriptedClient,
  startHarness,
  testPrefix,
} from './harness.js';
import { deletePrefixAt } from '../support/redis-prefix.js';

const TOKEN = 'POST /oauth2/token';
const STATS = 'GET /api/v2/outbound/campaigns/:id/stats';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

describe('CXone client against the sandbox (real HTTP, real Redis)', () => {
  it('caches the token and shares one in-flight token request between concurrent callers', async () => {
    harness = await startHarness({ tag: 'tok' });
    const created = await harness.client.createCampaign(campaignBody());
    const stats = await Promise.all(Array.from({ length: 12 }, () => harness!.client.getStats(created.id)));
    expect(stats.every((s) => s.version === created.version)).toBe(true);
    const counters = await harness.counters();
    expect(counters[TOKEN]?.requests).toBe(1);
    expect(counters[STATS]?.accepted).toBe(12);
  });

  it('single flight holds for a cold start: 20 concurrent first calls fetch one token', async () => {
    harness = await startHarness({ tag: 'cold' });
    const tokens = await Promise.all(Array.from({ length: 20 }, () => harness!.client.tokens.getToken()));
    expect(new Set(tokens).size).toBe(1);
    expect((await harness.counters())[TOKEN]?.requests).toBe(1);
  });

  it('refreshes 4-second tokens early, before CXone would refuse them', async () => {
    // Four seconds, not one or two: the refresh margin (the last 10 % of the lifetime) is then
    // 400 ms, and the sleep into it below may fire 360 ms late on a loaded machine and still ask
    // before expiry (with 1 s, 60 ms late was too late; with 2 s, 180 ms would have been).
    harness = await startHarness({ tag: 'early', sandbox: { tokenTtlSeconds: 4 } });
    const created = await harness.client.createCampaign(campaignBody());
    const first = await harness.client.tokens.getToken();
    const firstExpiry = harness.client.tokens.expiresAt() as number;
    // Inside the refresh margin but before expiry.
    await sleep(Math.max(0, firstExpiry - 360 - Date.now()));
    const askedAt = Date.now();
    // Starts the early refresh; the token it answers with is the cached one while that can be sent.
    await harness.client.tokens.getToken();
    expect(askedAt).toBeLessThan(firstExpiry);
    // Waited for by the clock, not a count of sleeps: a loaded machine stretches each 10 ms.
    const refreshedBy = Date.now() + 5_000;
    while ((harness.client.tokens.expiresAt() as number) <= firstExpiry && Date.now() < refreshedBy) {
      await sleep(10);
    }
    const second = await harness.client.tokens.getToken();
    expect(second).not.toBe(first);
    expect(harness.client.tokens.expiresAt()).toBeGreaterThan(firstExpiry);
    await harness.client.getStats(created.id);
    const counters = await harness.counters();
    expect(counters[TOKEN]?.requests).toBeGreaterThanOrEqual(2);
    // The stats call went out with the early-refreshed token: CXone never saw an expired one.
    expect(counters[STATS]?.unauthorized ?? 0).toBe(0);
    expect(counters[STATS]?.accepted).toBe(1);
  });

  it('on 401 fetches a new token and retries the call exactly once', async () => {
    // A frozen client clock believes the token is fresh; the sandbox expires it after 1 s.
    const clock = new ManualClock(Date.now());
    harness = await startHarness({ tag: '401', sandbox: { tokenTtlSeconds: 1 }, clock });
    const created = await harness.client.createCampaign(campaignBody());
    await sleep(1_200);
    const stats = await harness.client.getStats(created.id);
    expect(stats.status).toBeDefined();
    const counters = await harness.counters();
    expect(counters[STATS]?.unauthorized).toBe(1);
    expect(counters[STATS]?.accepted).toBe(1);
    expect(counters[TOKEN]?.requests).toBe(2);
  });

  it('sends the token current when its limiter slot comes, not the one it had before waiting', async () => {
    // One call per endpoint every 3 s and 2-second tokens: the second stats call waits in the limiter
    // longer than the token it set out with lives.
    harness = await startHarness({
      tag: 'wait',
      sandbox: { tokenTtlSeconds: 2 },
      perWindow: 1,
      windowMs: 3_000,
    });
    const created = await harness.client.createCampaign(campaignBody());
    await harness.client.getStats(created.id);
    const waited = await harness.client.getStats(created.id);
    expect(waited.status).toBeDefined();
    const counters = await harness.counters();
    // No slot spent on a dead token (before: a 401, a refresh, another wait and another 401, ending
    // in "check your credentials").
    expect(counters[STATS]?.unauthorized ?? 0).toBe(0);
    expect(counters[STATS]?.accepted).toBe(2);
  });

  it('maps 422 with every invalid field', async () => {
    harness = await startHarness({ tag: '422' });
    const bad = campaignBody();
    (bad.dialerSettings as { agentCapacity: number }).agentCapacity = 0;
    (bad as { targetListId: string }).targetListId = 'not-a-uuid';
    const err = await harness.client.createCampaign(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CxoneValidationError);
    const fields = (err as CxoneValidationError).fieldErrors.map((f) => f.field);
    expect(fields).toEqual(expect.arrayContaining(['dialerSettings.agentCapacity', 'targetListId']));
    expect((err as CxoneValidationError).status).toBe(422);
    expect(harness.sandbox.campaignCount()).toBe(0);
  });

  it('sends If-Match and maps a stale version to a conflict carrying the current version', async () => {
    harness = await startHarness({ tag: '409' });
    const created = await harness.client.createCampaign(campaignBody());
    const updated = await harness.client.updateCampaign(created.id, created.version, { name: 'Renamed' });
    expect(updated.version).toBe(created.version + 1);
    expect(updated.name).toBe('Renamed');
    const err = await harness.client
      .updateCampaign(created.id, created.version, { name: 'Stale' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CxoneConflictError);
    expect((err as CxoneConflictError).currentVersion).toBe(updated.version);
    expect((err as CxoneConflictError).campaignId).toBe(created.id);
  });

  it('maps 404, and 403 for a token without the stats scope', async () => {
    harness = await startHarness({
      tag: '403',
      scopes: ['outbound:campaigns:read', 'outbound:campaigns:write'],
    });
    const missing = await harness.client
      .getCampaign('00000000-0000-4000-8000-000000000000')
      .catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(CxoneNotFoundError);
    const created = await harness.client.createCampaign(campaignBody());
    const forbidden = await harness.client.getStats(created.id).catch((e: unknown) => e);
    expect(forbidden).toBeInstanceOf(CxoneForbiddenError);
    expect((forbidden as CxoneForbiddenError).status).toBe(403);
  });

  it('says which scopes CXone refused to grant', async () => {
    harness = await startHarness({
      tag: 'scope',
      sandbox: {
        clients: [
          { clientId: 'sandbox-client', clientSecret: 'sandbox-secret', scopes: ['outbound:campaigns:read'] },
        ],
      },
    });
    const err = await harness.client.getCampaign('x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CxoneAuthError);
    expect((err as Error).message).toMatch(/refused the scopes.*outbound:campaigns:write/);
  });

  it('reports wrong credentials as an auth error naming the settings to check', async () => {
    harness = await startHarness({ tag: 'cred', clientSecret: 'wrong-secret' });
    const err = await harness.client.getCampaign('x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CxoneAuthError);
    expect((err as Error).message).toMatch(/CXONE_CLIENT_SECRET/);
  });

  it('maps 429 with its Retry-After and penalizes the endpoint for the whole fleet', async () => {
    harness = await startHarness({ tag: '429' });
    const created = await harness.client.createCampaign(campaignBody());
    await fetch(`${harness.sandbox.url}/__sandbox/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ failNext: 1, status: 429, endpoint: STATS, retryAfterSeconds: 2 }),
    });
    const err = await harness.client.getStats(created.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CxoneRateLimitError);
    expect((err as CxoneRateLimitError).retryAfterMs).toBe(2_000);
    const redis = new Redis(REDIS_URL);
    const pttl = await redis.pttl(
      `${harness.prefix}:limiter:GET_/api/v2/outbound/campaigns/:id/stats:penalty`,
    );
    redis.disconnect();
    expect(pttl).toBeGreaterThan(1_000);
    expect(pttl).toBeLessThanOrEqual(2_000);
  });

  it('reads a Retry-After sent as an HTTP date, and penalizes by default when none is sent', async () => {
    harness = await startHarness({ tag: '429-forms' });
    const created = await harness.client.createCampaign(campaignBody());
    const script = (form: string) =>
      fetch(`${harness!.sandbox.url}/__sandbox/faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          failNext: 1,
          status: 429,
          endpoint: STATS,
          retryAfterSeconds: 3,
          retryAfterForm: form,
        }),
      });
    const penaltyMs = async () => {
      const redis = new Redis(REDIS_URL);
      const key = `${harness!.prefix}:limiter:GET_/api/v2/outbound/campaigns/:id/stats:penalty`;
      const pttl = await redis.pttl(key);
      await redis.del(key);
      redis.disconnect();
      return pttl;
    };

    expect((await script('http-date')).status).toBe(200);
    const dated = await harness.client.getStats(created.id).catch((e: unknown) => e);
    expect(dated).toBeInstanceOf(CxoneRateLimitError);
    // Whole seconds on the wire, rounded up: between 3 and 4 s from when it was sent.
    expect((dated as CxoneRateLimitError).retryAfterMs).toBeGreaterThan(2_000);
    expect((dated as CxoneRateLimitError).retryAfterMs).toBeLessThanOrEqual(4_000);
    expect(await penaltyMs()).toBeGreaterThan(2_000);

    expect((await script('omitted')).status).toBe(200);
    const bare = await harness.client.getStats(created.id).catch((e: unknown) => e);
    expect(bare).toBeInstanceOf(CxoneRateLimitError);
    expect((bare as CxoneRateLimitError).retryAfterMs).toBeUndefined();
    // No header is no licence to hammer: the endpoint is still held back, for the default penalty.
    const held = await penaltyMs();
    expect(held).toBeGreaterThan(0);
    expect(held).toBeLessThanOrEqual(DEFAULT_PENALTY_MS);
  });

  it('maps 5xx and timeouts to CxoneUnavailableError', async () => {
    harness = await startHarness({ tag: '5xx', timeoutMs: 300 });
    const created = await harness.client.createCampaign(campaignBody());
    harness.sandbox.setFaults({ errorRate: 1 });
    const fault = await harness.client.getStats(created.id).catch((e: unknown) => e);
    expect(fault).toBeInstanceOf(CxoneUnavailableError);
    expect((fault as CxoneUnavailableError).status).toBe(503);
    harness.sandbox.setFaults({ errorRate: 0, latencyMs: 1_000 });
    const timeout = await harness.client.getStats(created.id).catch((e: unknown) => e);
    expect(timeout).toBeInstanceOf(CxoneUnavailableError);
    expect((timeout as Error).message).toMatch(/timed out/);
    harness.sandbox.setFaults({ latencyMs: 0 });
  });

  it("names each caller's campaign and attempt on a failed token request they shared", async () => {
    harness = await startHarness({ tag: 'tokctx' });
    const a = await harness.client.createCampaign(campaignBody());
    const b = await harness.client.createCampaign(campaignBody());
    harness.client.tokens.invalidate(await harness.client.tokens.getToken());
    await fetch(`${harness.sandbox.url}/__sandbox/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ failNext: 1, status: 503, endpoint: TOKEN }),
    });
    const [errA, errB] = await Promise.all([
      harness.client.getStats(a.id, { attempt: 2 }).catch((e: unknown) => e),
      harness.client.getCampaign(b.id, { attempt: 5 }).catch((e: unknown) => e),
    ]);
    expect((await harness.counters())[TOKEN]?.faults).toBe(1);
    for (const [err, campaignId, attempt] of [
      [errA, a.id, 2],
      [errB, b.id, 5],
    ] as const) {
      expect(err).toBeInstanceOf(CxoneUnavailableError);
      expect((err as CxoneUnavailableError).toJSON()).toMatchObject({
        status: 503,
        endpoint: TOKEN,
        campaignId,
        attempt,
      });
    }
  });

  it('creates once per Idempotency-Key', async () => {
    harness = await startHarness({ tag: 'idem' });
    const key = launchIdempotencyKey('launch-42');
    const body = campaignBody();
    const a = await harness.client.createCampaign(body, { idempotencyKey: key });
    const b = await harness.client.createCampaign(body, { idempotencyKey: key });
    expect(b.id).toBe(a.id);
    expect(harness.sandbox.campaignCount()).toBe(1);
  });

  it('walks history page by page, yielding each page as parsed', async () => {
    harness = await startHarness({ tag: 'hist' });
    const created = await harness.client.createCampaign(campaignBody());
    let version = created.version;
    for (let i = 0; i < 4; i++) {
      version = (await harness.client.updateCampaign(created.id, version, { name: `Name ${i}` })).version;
    }
    const pages: number[] = [];
    const cursors: (string | null)[] = [];
    const all: string[] = [];
    for await (const page of harness.client.history(created.id, { pageSize: 2 })) {
      pages.push(page.records.length);
      cursors.push(page.cursor);
      for (const record of page.records) all.push(record.id);
    }
    const expected = (harness.sandbox.getCampaignState(created.id) as { historyLength: number })
      .historyLength;
    expect(all).toHaveLength(expected);
    expect(new Set(all).size).toBe(expected);
    expect(pages.every((n) => n <= 2)).toBe(true);
    expect(pages.length).toBe(Math.ceil(expected / 2));
    // Each page says the cursor that fetched it, and a walk can start from one of them.
    expect(cursors[0]).toBeNull();
    expect(cursors.slice(1).every((c) => typeof c === 'string')).toBe(true);
    const from = cursors[cursors.length - 1] as string;
    const resumed: string[] = [];
    for await (const page of harness.client.history(created.id, { pageSize: 2, from })) {
      for (const record of page.records) resumed.push(record.id);
    }
    expect(resumed).toEqual(all.slice(2 * (pages.length - 1)));
  });
});

describe('CXone client against a server that breaks the contract', () => {
  let server: Server | undefined;
  const prefix = testPrefix('malformed');
  afterEach(async () => {
    await new Promise((r) => server?.close(r));
    await deletePrefixAt(prefix);
  });

  const clientOf = (broken: Server) => scriptedClient(broken, prefix);

  it('turns a malformed answer into CxoneMalformedResponseError naming the endpoint', async () => {
    server = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/oauth2/token') {
        res.end(JSON.stringify({ access_token: 't', token_type: 'Bearer', expires_in: 3600 }));
      } else {
        res.end(JSON.stringify({ id: 42, status: 'exploded' }));
      }
    });
    const { client, close } = await clientOf(server);
    try {
      const err = await client.getCampaign('c-1').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CxoneMalformedResponseError);
      expect((err as Error).message).toContain('GET /api/v2/campaigns/:id');
      expect((err as CxoneMalformedResponseError).problems.join(' ')).toMatch(/id|status/);
    } finally {
      await close();
    }
  });

  it('refuses a history walk whose next cursor names a page it has already read, instead of looping', async () => {
    let pagesServed = 0;
    server = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/oauth2/token') {
        res.end(JSON.stringify({ access_token: 't', token_type: 'Bearer', expires_in: 3600 }));
        return;
      }
      pagesServed++;
      // A broken cache or proxy: page "b" points back at page "a".
      const cursor = new URL(req.url ?? '/', 'http://x').searchParams.get('cursor');
      const record = (n: number) => ({
        id: `h${n}`,
        campaignId: 'c-1',
        version: n,
        occurredAt: new Date(0).toISOString(),
        action: 'update',
        actor: 'x',
        changes: {},
      });
      res.end(
        JSON.stringify(
          cursor === 'b'
            ? { records: [record(3)], nextCursor: 'a' }
            : { records: [record(cursor === 'a' ? 2 : 1)], nextCursor: cursor === 'a' ? 'b' : 'a' },
        ),
      );
    });
    const { client, close } = await clientOf(server);
    try {
      const seen: number[] = [];
      const walk = (async () => {
        for await (const page of client.history('c-1', { attempt: 4 })) {
          seen.push(...page.records.map((r) => r.version));
          if (seen.length > 20) throw new Error('still walking');
        }
      })();
      const err = await walk.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CxoneMalformedResponseError);
      expect((err as CxoneMalformedResponseError).toJSON()).toMatchObject({
        endpoint: 'GET /api/v2/outbound/campaigns/:id/history',
        campaignId: 'c-1',
        attempt: 4,
      });
      expect((err as Error).message).toMatch(/nextCursor/);
      expect(seen).toEqual([1, 2, 3]);
      expect(pagesServed).toBe(3);
    } finally {
      await close();
    }
  });
});
