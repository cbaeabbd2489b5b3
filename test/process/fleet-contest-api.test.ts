import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createKeys } from '../../src/shared/keys.js';
import { api, API_TOKEN, campaignConfig, waitFor, waitForLaunch, type ApiTarget } from '../e2e/stack.js';
import { giveBack, intrude, INTRUDER_CXONE } from '../support/fleet-intruder.js';
import { startInProcess } from '../support/in-process-start-up.js';
import { deletePrefix, REDIS_URL, testPrefix } from '../support/redis-prefix.js';
import { keysWritten, snapshotKeys } from '../support/redis-writes.js';

/*
 * While another fleet is on the prefix, the API takes no work (src/producers/fleet-guard.ts): a launch
 * or command it queued could be taken by the other fleet, another CXone tenant, once the operator
 * stops this one. A whole in-process start-up, contested as in fleet-guard.test.ts.
 */

const redis = new Redis(REDIS_URL);
const stoppers: Array<() => Promise<unknown>> = [];
const prefixes: string[] = [];
afterEach(async () => {
  for (const stop of stoppers.splice(0).reverse()) await stop();
  for (const p of prefixes.splice(0)) await deletePrefix(redis, p);
});
afterAll(() => redis.disconnect());

async function startAll(KEY_PREFIX: string) {
  const { r, started } = startInProcess(
    stoppers,
    'all',
    { KEY_PREFIX, API_TOKEN },
    { ttlMs: 2_000, renewEveryMs: 40 },
  );
  await started;
  const { port } = r.running.api!.server.address() as { port: number };
  return { r, target: { apiUrl: `http://127.0.0.1:${port}` } satisfies ApiTarget };
}

/** The fleet claim's own keys, which the renewals rewrite. */
const FLEET_CLAIM = /}:fleet/;

describe('the API of a fleet whose KEY_PREFIX another fleet contests', () => {
  it('refuses launches, commands and queue writes with 503 fleet_contested, writing nothing; reads go on; the same launch is accepted once the contest is over', async () => {
    const KEY_PREFIX = testPrefix('contest');
    prefixes.push(KEY_PREFIX);
    const keys = createKeys(KEY_PREFIX);
    const { r, target } = await startAll(KEY_PREFIX);

    // A campaign launched before the contest, to command while it lasts.
    const first = await api(target, 'POST', '/v1/campaigns', { body: campaignConfig({ name: 'before' }) });
    expect(first.status).toBe(202);
    const launched = await waitForLaunch(target, String(first.body.launchId));
    expect(launched.status).toBe('succeeded');
    const campaignId = String(launched.campaignId);
    const auditBefore = await redis.xlen(keys.auditStream());

    await intrude(redis, KEY_PREFIX);
    await waitFor('the contest to be seen', async () => r.running.fleetClaim!.contested);
    const before = await snapshotKeys(redis, KEY_PREFIX, FLEET_CLAIM);

    const idempotencyKey = 'contested-launch-1';
    const config = campaignConfig({ name: 'during the contest' });
    const refusedLaunch = await api(target, 'POST', '/v1/campaigns', {
      body: config,
      headers: { 'idempotency-key': idempotencyKey },
    });
    expect(refusedLaunch.status).toBe(503);
    // The claim is looked at every 40 ms here (renewEveryMs): a retry is worth it a second later,
    // not after the 10 s of the default renewal.
    expect(refusedLaunch.headers.get('retry-after')).toBe('1');
    expect(refusedLaunch.body).toMatchObject({ error: 'fleet_contested', retryAfterSeconds: 1 });
    expect(refusedLaunch.body.message).toContain('(checked every 1 s)');
    expect(refusedLaunch.body.message).toContain(KEY_PREFIX);
    expect(refusedLaunch.body.message).toContain(INTRUDER_CXONE);
    expect(refusedLaunch.body.message).toMatch(/stop one fleet/);

    const pause = await api(target, 'POST', `/v1/campaigns/${campaignId}/actions`, {
      body: { action: 'pause' },
    });
    expect([pause.status, pause.body.error]).toEqual([503, 'fleet_contested']);
    const patch = await api(target, 'PATCH', `/v1/campaigns/${campaignId}`, {
      body: { dialerStrategy: { callRate: 0.2 } },
    });
    expect([patch.status, patch.body.error]).toEqual([503, 'fleet_contested']);
    const importHistory = await api(target, 'POST', `/v1/campaigns/${campaignId}/audit/import-history`);
    expect([importHistory.status, importHistory.body.error]).toEqual([503, 'fleet_contested']);
    // Bull Board's write actions too (a retried or promoted job would run on either fleet).
    const retry = await api(target, 'PUT', '/admin/queues/api/queues/launch/retry/failed');
    expect([retry.status, retry.body.error]).toEqual([503, 'fleet_contested']);

    // Nothing was written: no launch record, idempotency claim, job, command, audit record or event.
    expect(await keysWritten(redis, before)).toEqual([]);
    expect(await redis.exists(keys.launchIdempotency(idempotencyKey))).toBe(0);
    expect(await redis.xlen(keys.auditStream())).toBe(auditBefore);
    for (const name of ['launch', 'adjust'] as const) {
      const queue = new Queue(name, { connection: redis, prefix: KEY_PREFIX });
      const counts = await queue.getJobCounts('waiting', 'delayed', 'prioritized', 'active');
      expect(counts, name).toEqual({ waiting: 0, delayed: 0, prioritized: 0, active: 0 });
    }

    // Reads keep answering.
    expect((await api(target, 'GET', `/v1/campaigns/${campaignId}`)).status).toBe(200);
    expect((await api(target, 'GET', `/v1/launches/${String(first.body.launchId)}`)).status).toBe(200);
    expect((await api(target, 'GET', `/v1/campaigns/${campaignId}/audit`)).status).toBe(200);
    expect((await api(target, 'GET', `/v1/campaigns/${campaignId}/commands`)).status).toBe(200);
    const validate = await api(target, 'POST', '/v1/campaigns/validate', { body: config });
    expect([validate.status, validate.body.valid]).toEqual([200, true]);
    expect((await api(target, 'GET', '/admin/queues/api/queues')).status).toBe(200);
    expect((await api(target, 'GET', '/healthz')).status).toBe(200);
    expect((await api(target, 'GET', '/readyz')).status).toBe(503);
    expect((await api(target, 'GET', '/metrics')).status).toBe(200);
    expect((await api(target, 'GET', '/docs/json')).status).toBe(200);

    // The other fleet is gone: the same request, with the same key, is a new launch that runs.
    await giveBack(redis, KEY_PREFIX);
    await waitFor('the contest to end', async () => !r.running.fleetClaim!.contested);
    const accepted = await api(target, 'POST', '/v1/campaigns', {
      body: config,
      headers: { 'idempotency-key': idempotencyKey },
    });
    expect(accepted.status).toBe(202);
    expect(accepted.headers.get('idempotent-replayed')).toBeNull();
    expect((await waitForLaunch(target, String(accepted.body.launchId))).status).toBe('succeeded');
    const resumedPause = await api(target, 'POST', `/v1/campaigns/${campaignId}/actions`, {
      body: { action: 'pause' },
    });
    expect(resumedPause.status).toBe(202);
  });
});
