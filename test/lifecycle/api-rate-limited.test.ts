import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApiApp } from '../../src/producers/app.js';
import { API_LIMITER_MAX_WAIT_MS } from '../../src/shared/cxone/api.js';
import { CXONE_ENDPOINTS } from '../../src/shared/cxone/wire.js';
import { createFleetLimiter, type FleetLimiter } from '../../src/shared/limiter/index.js';
import { silentLogger } from '../../src/shared/logger.js';
import { REDIS_URL, startHarness, type Harness } from './harness.js';

/**
 * The API under a long 429 penalty (fleet-wide, set by "another process"): requests that need CXone
 * answer 503 + Retry-After within the API's bounded wait instead of hanging, and nothing is queued.
 * No adjust worker runs, so the queue shows exactly what the API enqueued.
 */
const PENALTY_MS = 120_000;
let h: Harness;
let app: FastifyInstance;
let otherProcess: FleetLimiter;
/** Made before any penalty: the harness makes them through the (unbounded) CXone client. */
let campaignIds: [string, string];
const auth = { authorization: 'Bearer lifecycle-test-token', 'x-actor': 'alice' };

beforeAll(async () => {
  h = await startHarness();
  app = await buildApiApp(h.ctx);
  campaignIds = [(await h.campaign('active')).id, (await h.campaign('active')).id];
  otherProcess = createFleetLimiter({
    redisUrl: REDIS_URL,
    prefix: h.env.KEY_PREFIX!,
    perWindow: 100_000,
    windowMs: 60_000,
    logger: silentLogger,
  });
});

afterAll(async () => {
  await otherProcess?.close();
  await app?.close();
  await h?.close();
});

async function queued(): Promise<number> {
  const counts = await h.ctx.queues.adjust.getJobCounts('waiting', 'delayed', 'active', 'prioritized');
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

describe('API requests under a CXone 429 penalty', () => {
  it('POST actions answers 503 + Retry-After within the bounded wait and enqueues nothing', async () => {
    const [id] = campaignIds;
    await otherProcess.penalize(CXONE_ENDPOINTS.getCampaign, PENALTY_MS);

    const started = Date.now();
    const res = await app.inject({
      method: 'POST',
      url: `/v1/campaigns/${id}/actions`,
      headers: auth,
      payload: { action: 'stop' },
    });
    const tookMs = Date.now() - started;

    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ error: 'upstream_unavailable' });
    // Retry-After is the penalty still to run, not a guess.
    const retryAfterS = Number(res.headers['retry-after']);
    expect(retryAfterS).toBeGreaterThan(60);
    expect(retryAfterS).toBeLessThanOrEqual(PENALTY_MS / 1000);
    // Said in the body too, for whoever shows the body (cxo, a log line).
    expect(res.json()).toMatchObject({
      retryAfterSeconds: retryAfterS,
      message: `CXone is rate limiting this endpoint; retry in ${retryAfterS} s`,
    });
    expect(tookMs).toBeLessThan(API_LIMITER_MAX_WAIT_MS + 1_000);
    expect(await queued()).toBe(0);
    // The campaign was not stopped behind the client's back.
    expect((await h.ctx.redis.keys(h.ctx.keys.command('*'))).length).toBe(0);
  });

  it('history import answers 503 + Retry-After under a penalty on the history endpoint', async () => {
    const [, id] = campaignIds;
    await otherProcess.penalize(CXONE_ENDPOINTS.getHistory, PENALTY_MS);
    const started = Date.now();
    const res = await app.inject({
      method: 'POST',
      url: `/v1/campaigns/${id}/audit/import-history`,
      headers: auth,
    });
    expect(res.statusCode).toBe(503);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(60);
    expect(Date.now() - started).toBeLessThan(API_LIMITER_MAX_WAIT_MS + 1_000);
  });
});
