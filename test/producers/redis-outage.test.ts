import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { api, campaignConfig, startStack, waitFor, type Stack } from '../e2e/stack.js';

/**
 * The API with Redis stalled or gone, over real HTTP and real Redis behind a TCP proxy the test
 * freezes (bytes held, connections open) or cuts (connections closed, new ones refused). A request
 * never hangs, and what it was told ("nothing enqueued") stays true when Redis comes back.
 */
const DEADLINE_MS = 1_500;
let proxy: TcpProxy;
let stack: Stack;

beforeAll(async () => {
  proxy = await startTcpProxy();
  stack = await startStack({ env: { REDIS_URL: proxy.url }, apiOptions: { requestDeadlineMs: DEADLINE_MS } });
});
afterEach(async () => {
  proxy.thaw();
});
afterAll(async () => {
  await stack?.close();
  await proxy?.close();
});

/** Launch records and launch jobs as Redis holds them, read past the proxy. */
async function launchRecords(): Promise<Array<Record<string, string>>> {
  const keys = await stack.redis.keys(`${stack.prefix}:launch-record:*`);
  return Promise.all(keys.map((key) => stack.redis.hgetall(key)));
}
async function launchJobs(): Promise<number> {
  const counts = await stack.ctx.queues.launch.getJobCounts('waiting', 'delayed', 'active', 'prioritized');
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

describe('the API while Redis stalls or is down', () => {
  it('answers 503 at its deadline while Redis stalls, and does not enqueue the launch when Redis resumes', async () => {
    const before = (await launchRecords()).length;
    proxy.freeze();
    const started = Date.now();
    const reply = await api(stack, 'POST', '/v1/campaigns', { body: campaignConfig() });
    expect(reply.status).toBe(503);
    expect(reply.body).toMatchObject({ error: 'request_timeout' });
    expect(reply.headers.get('retry-after')).toBe('5');
    expect(Date.now() - started).toBeLessThan(DEADLINE_MS + 2_000);

    // The 503 names the launch, so the client can look it up once Redis is back.
    const launchId = String(reply.body.launchId);
    expect(launchId).toMatch(/^[0-9a-f-]{36}$/);

    proxy.thaw();
    // The handler carries on once Redis answers: its launch record is closed, and no job appears.
    const records = await waitFor('the abandoned launch to be closed', async () => {
      const all = await launchRecords();
      return all.length > before && all.every((r) => r.status !== 'queued') ? all : undefined;
    });
    const abandoned = records.find((r) => /abandoned/.test(r.error ?? ''));
    expect(abandoned).toMatchObject({ status: 'failed', launchId });
    expect((await api(stack, 'GET', `/v1/launches/${launchId}`)).body).toMatchObject({ status: 'failed' });
    // Its request was audited, so its end is too.
    const trail = await api(stack, 'GET', `/v1/campaigns/launch:${launchId}/audit`);
    expect((trail.body.records as Array<{ action: string }>).map((r) => r.action)).toEqual([
      'launch_requested',
      'launch_failed',
    ]);
    expect(await launchJobs()).toBe(0);
  });

  it('keeps a keyed launch for its retry: the same Idempotency-Key then enqueues it, once', async () => {
    const config = campaignConfig();
    const headers = { 'idempotency-key': `outage-${Date.now()}` };
    proxy.freeze();
    const first = await api(stack, 'POST', '/v1/campaigns', { body: config, headers });
    expect(first.status).toBe(503);
    proxy.thaw();
    await waitFor('the keyed launch to be recorded', async () =>
      (await launchRecords()).find((r) => r.status === 'queued'),
    );
    // Give the abandoned handler time to have enqueued, had it been going to.
    await new Promise((r) => setTimeout(r, 300));
    expect(await launchJobs()).toBe(0);

    const retry = await api(stack, 'POST', '/v1/campaigns', { body: config, headers });
    expect(retry.status).toBe(202);
    const again = await api(stack, 'POST', '/v1/campaigns', { body: config, headers });
    expect(again.body.launchId).toBe(retry.body.launchId);
    expect(await launchJobs()).toBe(1);
    await stack.ctx.queues.launch.drain(true);
  });

  it('answers 503 at once while Redis is down, having written nothing', async () => {
    const before = (await launchRecords()).length;
    proxy.cut();
    await waitFor('the connection to notice', async () => stack.ctx.redis.status !== 'ready', 5_000, 20);
    const started = Date.now();
    const reply = await api(stack, 'POST', '/v1/campaigns', { body: campaignConfig() });
    expect(reply.status).toBe(503);
    expect(reply.body).toMatchObject({ error: 'redis_unavailable' });
    expect(reply.body.message).toMatch(/^Redis is not connected \(\w+\); nothing was recorded or enqueued\./);
    expect(Date.now() - started).toBeLessThan(1_000);
    // A read is told Redis cannot be read, not a write's promise that nothing was recorded.
    const read = await api(stack, 'GET', '/v1/launches/6f1c2a7e-3b4d-4e8f-9a10-1b2c3d4e5f60');
    expect(read.status).toBe(503);
    expect(read.body).toMatchObject({ error: 'redis_unavailable' });
    expect(read.body.message).toMatch(/^Redis is not connected \(\w+\), so nothing can be read now\. Retry/);
    expect(read.body.message).not.toContain('recorded');
    // Bull Board's own API too, rather than waiting for Redis to come back.
    const board = await api(stack, 'GET', '/admin/queues/api/queues');
    expect(board.status).toBe(503);
    expect(board.body).toMatchObject({ error: 'redis_unavailable' });

    await proxy.restore();
    await waitFor('Redis to be back', async () => stack.ctx.redis.status === 'ready', 10_000, 50);
    await new Promise((r) => setTimeout(r, 300));
    expect((await launchRecords()).length).toBe(before);
    expect(await launchJobs()).toBe(0);
  });
});
