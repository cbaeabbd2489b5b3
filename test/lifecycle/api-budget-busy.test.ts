import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApiApp } from '../../src/producers/app.js';
import { API_LIMITER_MAX_WAIT_MS } from '../../src/shared/cxone/api.js';
import { CXONE_ENDPOINTS } from '../../src/shared/cxone/wire.js';
import { loadConfig } from '../../src/shared/config.js';
import { createContext, type ClosableContext } from '../../src/shared/context-factory.js';
import { recordingLogger, type LogLine } from '../support/log-capture.js';
import { startHarness, type Harness } from './harness.js';

/**
 * The API when the fleet's OWN per-endpoint budget is busy (launches and polls spending
 * CXONE_RATE_LIMIT_PER_MIN) and CXone has sent no 429 at all: a command's fresh read gets no slot
 * within API_LIMITER_MAX_WAIT_MS. Still 503 `upstream_unavailable` + Retry-After, but said as what it
 * is — not "CXone is rate limiting" — and logged as load (warn, no stack), not as an error.
 */
const PER_MIN = 100;
let h: Harness;
let api: ClosableContext;
let app: FastifyInstance;
let log: LogLine[];
let campaignId: string;
const auth = { authorization: 'Bearer lifecycle-test-token', 'x-actor': 'alice' };

beforeAll(async () => {
  h = await startHarness();
  // Made through the harness's own (fast) budget, before the API process below exists.
  campaignId = (await h.campaign('active')).id;
  // An API process whose budget is CXone's usual 100 a minute per endpoint (the harness's is unbounded).
  const recording = recordingLogger('debug');
  log = recording.lines;
  api = await createContext(
    loadConfig({ ...h.env, CXONE_RATE_LIMIT_PER_MIN: String(PER_MIN), LOG_LEVEL: 'debug' }),
    recording.logger,
  );
  app = await buildApiApp(api);
  // Connected before the first request (the request guard answers 503 redis_unavailable until then).
  await api.redis.ping();
});

afterAll(async () => {
  await app?.close();
  await api?.close();
  await h?.close();
});

describe("API requests while the fleet's own CXone budget is busy (no 429)", () => {
  it('POST actions answers 503 upstream_unavailable naming the fleet budget, logged at warn without a stack', async () => {
    // Operators' calls have already taken their share of this window (half the budget: 50 reads in
    // the last minute), so this one goes ahead of no job: it queues for a permit as any control call.
    const operatorLog = `${api.keys.limiter(CXONE_ENDPOINTS.getCampaign)}:operator-log`;
    const [seconds] = await api.redis.time();
    const nowMs = Number(seconds) * 1000;
    await api.redis.zadd(
      operatorLog,
      ...Array.from({ length: PER_MIN / 2 }, (_, i) => [nowMs, `earlier:${i}`]).flat(),
    );
    await api.redis.pexpire(operatorLog, 120_000);
    // The other process takes the endpoint's slot: the next one is a spacing (~15 s) away.
    // Reads the process makes for its jobs (unbounded, as jobs wait) take the next ~4.8 s of the
    // endpoint's budget: one slot every ~606 ms at 100 a minute, and the API's read queues behind them,
    // its slot well past its 3 s (more would only make the test wait for the jobs' reads longer).
    const jobReads = Array.from({ length: 8 }, () =>
      api.cxone.getCampaign(campaignId, { priority: 'control', campaignId }),
    );
    const jobsDone = Promise.allSettled(jobReads);
    const before = log.length;

    const started = Date.now();
    const res = await app.inject({
      method: 'POST',
      url: `/v1/campaigns/${campaignId}/actions`,
      headers: auth,
      payload: { action: 'pause' },
    });
    const tookMs = Date.now() - started;

    expect(res.statusCode).toBe(503);
    const body = res.json<{ error: string; message: string; retryAfterSeconds: number }>();
    // The documented code, unchanged: clients retry on it as before.
    expect(body.error).toBe('upstream_unavailable');
    const retryAfterS = Number(res.headers['retry-after']);
    expect(retryAfterS).toBeGreaterThanOrEqual(1);
    expect(retryAfterS).toBeLessThanOrEqual(60);
    expect(body.retryAfterSeconds).toBe(retryAfterS);
    expect(body.message).toMatch(/fleet's CXone budget/);
    expect(body.message).toMatch(/CXone is not rate limiting/);
    expect(body.message).toContain(`retry in ${retryAfterS} s`);
    expect(body.message).not.toMatch(/CXone is rate limiting/);
    expect(tookMs).toBeLessThan(API_LIMITER_MAX_WAIT_MS + 1_000);
    // Nothing was queued for a client told it failed.
    expect((await api.redis.keys(api.keys.command('*'))).length).toBe(0);
    // CXone was never asked, so it cannot have answered 429.
    expect((await h.counters('GET /api/v2/campaigns/:id'))?.byStatus['429'] ?? 0).toBe(0);

    const lines = log.slice(before);
    // Load, not a bug: no error-level line (the API logged one with a stack per refused request).
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
    const warned = lines.filter((l) => l.level === 40);
    expect(warned).toHaveLength(1);
    const warn = warned[0]!;
    expect(warn.msg).toContain(`the fleet's CXone budget for ${CXONE_ENDPOINTS.getCampaign}`);
    expect(warn.msg).toContain(`no free slot within ${API_LIMITER_MAX_WAIT_MS} ms`);
    expect(warn.msg).toContain('CXone sent no 429');
    expect(warn.msg).toMatch(/retry after \d+ s/);
    expect(warn.msg).toContain('Raise CXONE_RATE_LIMIT_PER_MIN only if CXone allows');
    expect(warn.msg).not.toMatch(/rate limited by CXone/);
    expect(warn.err).toMatchObject({
      name: 'FleetBudgetBusyError',
      kind: 'rate_limit',
      limitedBy: 'fleet_budget',
      endpoint: CXONE_ENDPOINTS.getCampaign,
      campaignId,
    });
    // No stack (pino's err serializer leaves an empty one on the plain summary).
    expect((warn.err as { stack?: string }).stack ?? '').toBe('');
    // The jobs' reads were only delayed: the budget was busy, nothing was wrong.
    const done = await jobsDone;
    expect(done.map((r) => (r.status === 'fulfilled' ? r.value.id : String(r.reason)))).toEqual(
      jobReads.map(() => campaignId),
    );
  }, 30_000);
});
