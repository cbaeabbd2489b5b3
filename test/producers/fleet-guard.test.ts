import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError as CliApiError } from '../../src/cli/api-client.js';
import { EXIT } from '../../src/cli/args.js';
import { describeError, FLEET_CONTESTED_HINT } from '../../src/cli/run.js';
import {
  FLEET_RETRY_AFTER_S,
  fleetContestedResponse,
  fleetRetryAfterSeconds,
  isFleetGuarded,
} from '../../src/producers/fleet-guard.js';
import {
  CAMPAIGN_VIEW_MAX_AGE_MS,
  FLEET_CONTESTED_STALE_REASON,
} from '../../src/producers/routes/campaigns.js';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import type { CxoneApi } from '../../src/shared/cxone/api.js';
import { api, API_TOKEN, campaignConfig, startStack, waitForLaunch, type Stack } from '../e2e/stack.js';
import { cliRunner } from '../ops/helpers.js';
import { keysWritten, snapshotKeys } from '../support/redis-writes.js';

/** The fleet claim's message, as src/shared/fleet-identity.ts words it (shortened). */
const CONTESTED =
  'a process of another fleet, working against CXone https://other.example, is running on KEY_PREFIX {cxo} too; this fleet works against CXone https://mine.example. Workers of this process stop taking jobs until one fleet is gone: stop one fleet.';

describe('which requests a contested fleet refuses (pure)', () => {
  it('refuses every write on the API, the webhook admin and Bull Board, and no read', () => {
    const refused: Array<[string, string]> = [
      ['POST', '/v1/campaigns'],
      ['PATCH', '/v1/campaigns/:campaignId'],
      ['POST', '/v1/campaigns/:campaignId/actions'],
      ['POST', '/v1/campaigns/:campaignId/audit/import-history'],
      ['POST', '/v1/webhooks/:eventId/replay'],
      ['POST', '/v1/webhooks/dead-letters/replay'],
      ['POST', '/admin/webhooks/destination/enable'],
      ['PUT', '/admin/queues/api/queues/:queueName/retry/:queueStatus'],
      ['PUT', '/admin/queues/api/queues/:queueName/:jobId/promote'],
      ['POST', '/admin/queues/api/queues/:queueName/add'],
      ['delete', '/v1/something-added-later'],
      // OpenAPI's spelling of a path (the document marks the same routes).
      ['post', '/v1/campaigns/{campaignId}/actions'],
    ];
    const allowed: Array<[string, string | undefined]> = [
      ['POST', '/v1/campaigns/validate'],
      ['post', '/v1/campaigns/validate/'],
      ['GET', '/v1/campaigns/:campaignId'],
      ['GET', '/v1/campaigns/:campaignId/audit/verify'],
      ['HEAD', '/v1/launches/:launchId'],
      ['GET', '/admin/queues/api/queues'],
      ['GET', '/readyz'],
      ['GET', '/metrics'],
      ['POST', '/healthz'],
      ['POST', undefined],
    ];
    expect(refused.filter(([m, u]) => !isFleetGuarded(m, u))).toEqual([]);
    expect(allowed.filter(([m, u]) => isFleetGuarded(m, u))).toEqual([]);
  });

  it("answers 503 fleet_contested with the claim's message, what to do, and Retry-After", () => {
    expect(FLEET_RETRY_AFTER_S).toBe(10);
    // The claim's actual renewal period, in whole seconds (never 0)
    expect(fleetRetryAfterSeconds(10_000)).toBe(FLEET_RETRY_AFTER_S);
    expect(fleetRetryAfterSeconds(40)).toBe(1);
    expect(fleetRetryAfterSeconds(15_500)).toBe(16);
    const response = fleetContestedResponse(CONTESTED, 7);
    expect(response.status).toBe(503);
    expect(response.headers).toEqual({ 'retry-after': '7' });
    expect(response.body).toMatchObject({ error: 'fleet_contested', retryAfterSeconds: 7 });
    expect(response.body.message).toContain(CONTESTED);
    expect(response.body.message).toMatch(/^refused, and nothing was recorded or enqueued: /);
    expect(response.body.message).toMatch(/Retry once GET \/readyz answers 200 \(checked every 7 s\)/);
  });
});

describe('cxo shows a fleet_contested refusal (pure)', () => {
  it('keeps the server exit code and adds what to do', () => {
    const f = describeError(
      new CliApiError(503, 'POST', '/v1/campaigns', fleetContestedResponse(CONTESTED).body),
    );
    expect(f.code).toBe(EXIT.server);
    expect(f.lines[0]).toContain('POST /v1/campaigns → 503: refused, and nothing was recorded or enqueued');
    expect(f.lines[0]).toContain('https://other.example');
    expect(f.lines).toContain(FLEET_CONTESTED_HINT);
    expect(f.json).toMatchObject({ error: 'fleet_contested', httpStatus: 503, hint: FLEET_CONTESTED_HINT });
    // Another 503 gets no such hint.
    const other = describeError(
      new CliApiError(503, 'POST', '/v1/campaigns', { error: 'redis_unavailable', message: 'down' }),
    );
    expect(other.lines).not.toContain(FLEET_CONTESTED_HINT);
  });
});

/** Real Redis, the sandbox, the API with a contest switched on and off, and the launch worker. */
describe('the API while its fleet claim is contested', () => {
  let stack: Stack;
  let contested: string | undefined;
  let aheadMs = 0;
  let cxoneReads = 0;
  beforeAll(async () => {
    stack = await startStack({
      launchWorker: true,
      apiOptions: { fleetContested: () => contested },
      ctxOverrides: (ctx) => ({
        clock: { now: () => Date.now() + aheadMs },
        cxone: {
          ...ctx.cxone,
          getCampaign: async (...args: Parameters<CxoneApi['getCampaign']>) => {
            cxoneReads++;
            return ctx.cxone.getCampaign(...args);
          },
        } as CxoneApi,
      }),
    });
  });
  afterAll(async () => {
    await stack?.close();
  });
  /** BullMQ's bookkeeping its queues and workers write as they start. */
  const BULLMQ_START = /:(meta|stalled-check)$/;

  it('refuses the webhook replays and the destination enable, after authentication', async () => {
    contested = CONTESTED;
    try {
      const before = await snapshotKeys(stack.redis, stack.prefix, BULLMQ_START);
      for (const path of [
        '/v1/webhooks/evt_abc123/replay',
        '/v1/webhooks/dead-letters/replay',
        '/admin/webhooks/destination/enable',
      ]) {
        const reply = await api(stack, 'POST', path);
        expect([path, reply.status, reply.body.error]).toEqual([path, 503, 'fleet_contested']);
        expect(reply.headers.get('retry-after')).toBe(String(FLEET_RETRY_AFTER_S));
        // Without the token, the 401 as ever: the refusal tells nothing to an unauthenticated caller.
        expect((await api(stack, 'POST', path, { token: null })).status).toBe(401);
      }
      expect((await api(stack, 'POST', '/v1/campaigns', { body: {}, token: null })).status).toBe(401);
      // Bull Board checks its own credentials in its scope's onRequest, before the root preHandler.
      const board = await api(stack, 'PUT', '/admin/queues/api/queues/pause', { token: null });
      expect([board.status, board.headers.get('www-authenticate')]).toEqual([
        401,
        expect.stringMatching(/^Basic /),
      ]);
      expect(await keysWritten(stack.redis, before)).toEqual([]);
      // Reads go on.
      expect((await api(stack, 'GET', '/v1/webhooks/dead-letters')).status).toBe(200);
      expect((await api(stack, 'GET', '/admin/webhooks/destination')).status).toBe(200);
    } finally {
      contested = undefined;
    }
  });

  it('serves a stale campaign view from the cache, saying why, without reading CXone or writing', async () => {
    aheadMs = 0;
    const reply = await api(stack, 'POST', '/v1/campaigns', {
      body: campaignConfig({ name: 'Contested view' }),
    });
    const launch = await waitForLaunch(stack, String(reply.body.launchId));
    const campaignId = String(launch.campaignId);
    const store = createCampaignStore(stack.ctx);
    const stored = await store.get(campaignId);

    contested = CONTESTED;
    try {
      aheadMs = CAMPAIGN_VIEW_MAX_AGE_MS + 1_000;
      const reads = cxoneReads;
      const view = await api(stack, 'GET', `/v1/campaigns/${campaignId}`);
      expect(view.status).toBe(200);
      expect(view.body).toMatchObject({ campaignId, stale: true, staleReason: FLEET_CONTESTED_STALE_REASON });
      expect(cxoneReads).toBe(reads);
      expect(await store.get(campaignId)).toEqual(stored);
    } finally {
      contested = undefined;
    }
    // Once the contest is over, the same view is read from CXone again.
    const fresh = await api(stack, 'GET', `/v1/campaigns/${campaignId}`);
    expect(fresh.body.stale).toBeUndefined();
    expect(cxoneReads).toBeGreaterThan(0);
    aheadMs = 0;
  });

  it('cxo launch reports the refusal with the server exit code and launches nothing', async () => {
    const cxo = cliRunner({
      files: { 'c.json': JSON.stringify(campaignConfig({ name: 'From the CLI' })) },
      env: () => ({ API_URL: stack.apiUrl, API_TOKEN }),
      pollMs: 10,
    });
    contested = CONTESTED;
    try {
      const refused = await cxo('launch', 'c.json', '--idempotency-key', 'cli-contested-1');
      expect(refused.code).toBe(EXIT.server);
      expect(refused.err).toContain('https://other.example');
      expect(refused.err).toContain(FLEET_CONTESTED_HINT);
      expect(await stack.redis.exists(stack.ctx.keys.launchIdempotency('cli-contested-1'))).toBe(0);
    } finally {
      contested = undefined;
    }
    const accepted = await cxo('launch', 'c.json', '--idempotency-key', 'cli-contested-1', '--no-wait');
    expect(accepted.code).toBe(EXIT.ok);
  });

  it('documents the refusal on the routes that write, and only there', async () => {
    const doc = (await api(stack, 'GET', '/docs/json')).body as {
      paths: Record<string, Record<string, { responses: Record<string, { description: string }> }>>;
    };
    const says = (path: string, method: string) =>
      doc.paths[path]?.[method]?.responses['503']?.description.includes('fleet_contested');
    expect(says('/v1/campaigns', 'post')).toBe(true);
    expect(says('/v1/campaigns/{campaignId}', 'patch')).toBe(true);
    expect(says('/v1/campaigns/{campaignId}/actions', 'post')).toBe(true);
    expect(says('/v1/campaigns/{campaignId}/audit/import-history', 'post')).toBe(true);
    expect(says('/v1/webhooks/{eventId}/replay', 'post')).toBe(true);
    expect(says('/v1/campaigns/{campaignId}', 'get')).toBe(false);
    expect(says('/v1/campaigns/validate', 'post')).toBe(false);
  });
});
