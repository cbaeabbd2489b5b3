import type { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, campaignConfig, startStack, waitFor, type Stack } from '../e2e/stack.js';

/**
 * The enqueue of a launch fails after its record, audit record and event were written (Redis refusing
 * writes under `noeviction`, a connection lost for longer than a command's retries): the request
 * fails, and the launch does not stay `queued` for ever. Without an Idempotency-Key nobody can claim
 * it again, so it is closed as failed, saying why; with one it stays queued for the retry with that
 * key, which enqueues it.
 */
describe('a launch whose enqueue fails', () => {
  let stack: Stack;
  let refuseAdds = 0;
  beforeAll(async () => {
    stack = await startStack({
      ctxOverrides: (ctx) => ({
        queues: {
          ...ctx.queues,
          launch: Object.assign(Object.create(ctx.queues.launch) as Queue, {
            add: async (...args: Parameters<Queue['add']>) => {
              if (refuseAdds > 0) {
                refuseAdds -= 1;
                throw new Error("OOM command not allowed when used memory > 'maxmemory'.");
              }
              return ctx.queues.launch.add(...args);
            },
          }),
        },
      }),
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  async function launchRecords(): Promise<Array<Record<string, string>>> {
    const keys = await stack.redis.keys(`${stack.prefix}:launch-record:*`);
    return Promise.all(keys.map((key) => stack.redis.hgetall(key)));
  }
  const jobs = async () =>
    Object.values(
      await stack.ctx.queues.launch.getJobCounts('waiting', 'delayed', 'active', 'prioritized'),
    ).reduce((a, b) => a + b, 0);

  it('fails the request and closes a launch without a key as failed, naming the enqueue', async () => {
    refuseAdds = 1;
    const reply = await api(stack, 'POST', '/v1/campaigns', { body: campaignConfig() });
    expect(reply.status).toBeGreaterThanOrEqual(500);
    const [record] = await waitFor('the launch record', async () => {
      const all = await launchRecords();
      return all.length === 1 ? all : undefined;
    });
    expect(record).toMatchObject({ status: 'failed' });
    expect(record!.error).toMatch(/could not be enqueued.*OOM command not allowed/);
    expect(record!.error).toMatch(/nothing was sent to CXone/);
    const trail = await api(stack, 'GET', `/v1/campaigns/launch:${record!.launchId}/audit`);
    expect((trail.body.records as Array<{ action: string }>).map((r) => r.action)).toEqual([
      'launch_requested',
      'launch_failed',
    ]);
    expect(await jobs()).toBe(0);
  });

  it('keeps a keyed launch queued for its retry, which enqueues it once', async () => {
    const config = campaignConfig({ name: 'Keyed outreach' });
    const headers = { 'idempotency-key': `enqueue-failure-${Date.now()}` };
    refuseAdds = 1;
    const first = await api(stack, 'POST', '/v1/campaigns', { body: config, headers });
    expect(first.status).toBeGreaterThanOrEqual(500);
    const keyed = (await launchRecords()).find((r) => r.name === config.name);
    expect(keyed?.status).toBe('queued');
    expect(keyed).toBeDefined();
    expect(await jobs()).toBe(0);

    const retry = await api(stack, 'POST', '/v1/campaigns', { body: config, headers });
    expect(retry.status).toBe(202);
    expect(retry.body.launchId).toBe(keyed!.launchId);
    expect(await jobs()).toBe(1);
    await stack.ctx.queues.launch.drain(true);
  });
});
