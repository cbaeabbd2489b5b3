import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCommandStore, type CommandRecord } from '../../src/shared/lifecycle/commands.js';
import { LAUNCH_FAILED_REASON } from '../../src/shared/launch-store.js';
import { api } from '../e2e/stack.js';
import { stackForSuite } from '../support/stack-suite.js';

/**
 * GET /v1/launches/{id} for a failed launch whose record still names its cleanup stop
 * (`cancelCommandId`, "a stop retrying") after that stop had finished: a record written before the
 * stop's outcome was noted on launches, or by a worker that died before noting it. The view reads
 * the stop's own record and says what it did, writing nothing. Real Redis, real HTTP; the old-state
 * records are written directly, as an earlier release left them.
 */
const suite = stackForSuite();

const now = '2026-11-20T10:00:00.000Z';

/** A failed launch as an earlier release left it: not cancelled, naming the stop it queued. */
async function staleLaunch(campaignId: string, cancelCommandId: string): Promise<string> {
  const launchId = randomUUID();
  await suite.stack.ctx.redis.hset(suite.stack.ctx.keys.launch(launchId), {
    launchId,
    status: 'failed',
    actor: 'api:test',
    name: 'stale stop',
    requestedAt: now,
    updatedAt: now,
    campaignId,
    cxoneVersion: '2',
    activateAt: '2026-11-21T13:00:00.000Z',
    error: 'CXone refused the schedule (422)',
    cancelled: 'false',
    cancelCommandId,
  });
  return launchId;
}

function stopCommand(campaignId: string, fields: Partial<CommandRecord>): CommandRecord {
  return {
    commandId: randomUUID(),
    campaignId,
    status: 'queued',
    actor: 'launch-worker',
    reason: LAUNCH_FAILED_REASON,
    action: 'stop',
    requestedAt: now,
    updatedAt: now,
    attempts: 1,
    ...fields,
  };
}

async function withStop(fields: Partial<CommandRecord>) {
  const campaignId = `c-${randomUUID()}`;
  const stop = stopCommand(campaignId, fields);
  await createCommandStore(suite.stack.ctx).create(stop);
  const launchId = await staleLaunch(campaignId, stop.commandId);
  return { campaignId, stop, launchId };
}

const storedLaunch = (launchId: string) =>
  suite.stack.ctx.redis.hgetall(suite.stack.ctx.keys.launch(launchId));

describe('a failed launch naming a stop that has finished', () => {
  it('a stop that succeeded: shows the campaign cleaned up, no stop pending, and writes nothing', async () => {
    const { launchId, campaignId } = await withStop({
      status: 'succeeded',
      finishedAt: now,
      result: { version: 3, status: 'cancelled', writes: [], alreadyApplied: [], rebases: 0 },
    });
    const before = await storedLaunch(launchId);
    const reply = await api(suite.stack, 'GET', `/v1/launches/${launchId}`);
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({
      status: 'failed',
      campaignId,
      cancelled: true,
      campaignStatus: 'cancelled',
      cxoneVersion: 3,
    });
    expect(reply.body).not.toHaveProperty('cancelCommandId');
    expect(reply.body).not.toHaveProperty('cleanupError');
    // Stopped before its start: the planned start is not shown, as on a cleanup recorded by the worker.
    expect(reply.body).not.toHaveProperty('activateAt');
    expect(await storedLaunch(launchId)).toEqual(before);
  });

  it('a stop that succeeded on a campaign already dialing: completed, so not cancelled', async () => {
    const { launchId } = await withStop({
      status: 'succeeded',
      result: { version: 5, status: 'completed', writes: [], alreadyApplied: [], rebases: 0 },
    });
    const reply = await api(suite.stack, 'GET', `/v1/launches/${launchId}`);
    expect(reply.body).toMatchObject({ cancelled: false, campaignStatus: 'completed', cxoneVersion: 5 });
    expect(reply.body).not.toHaveProperty('cancelCommandId');
  });

  it('a stop that failed (404, the campaign gone): no stop pending, and why, without writing', async () => {
    const { launchId, stop } = await withStop({
      status: 'failed',
      finishedAt: now,
      error: { message: 'campaign c-1 not found on CXone', kind: 'not_found', status: 404 },
    });
    const before = await storedLaunch(launchId);
    const reply = await api(suite.stack, 'GET', `/v1/launches/${launchId}`);
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ status: 'failed', cancelled: false, cxoneVersion: 2 });
    expect(reply.body).not.toHaveProperty('cancelCommandId');
    expect(reply.body.cleanupError).toBe(
      `the stop ${stop.commandId} failed (not_found: campaign c-1 not found on CXone)`,
    );
    expect(reply.body.error).toBe('CXone refused the schedule (422)');
    expect(await storedLaunch(launchId)).toEqual(before);
  });

  it('a stop still queued or running, expired, or unreadable: the record as it is', async () => {
    for (const status of ['queued', 'running'] as const) {
      const { launchId, stop } = await withStop({ status });
      const reply = await api(suite.stack, 'GET', `/v1/launches/${launchId}`);
      expect(reply.body).toMatchObject({ cancelled: false, cancelCommandId: stop.commandId });
      expect(reply.body).not.toHaveProperty('cleanupError');
    }
    // Commands are kept 7 days, launches 30: an expired stop says nothing.
    const expiredId = randomUUID();
    const expired = await staleLaunch(`c-${randomUUID()}`, expiredId);
    const reply = await api(suite.stack, 'GET', `/v1/launches/${expired}`);
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ cancelled: false, cancelCommandId: expiredId });

    const unreadableId = randomUUID();
    await suite.stack.ctx.redis.set(suite.stack.ctx.keys.command(unreadableId), '{not json', 'EX', 60);
    const unreadable = await staleLaunch(`c-${randomUUID()}`, unreadableId);
    const answer = await api(suite.stack, 'GET', `/v1/launches/${unreadable}`);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ cancelled: false, cancelCommandId: unreadableId });
  });

  it('a command of another campaign under that id is not taken for the stop', async () => {
    const other = stopCommand(`c-${randomUUID()}`, { status: 'failed', error: { message: 'x' } });
    await createCommandStore(suite.stack.ctx).create(other);
    const launchId = await staleLaunch(`c-${randomUUID()}`, other.commandId);
    const reply = await api(suite.stack, 'GET', `/v1/launches/${launchId}`);
    expect(reply.body).toMatchObject({ cancelCommandId: other.commandId });
  });
});

describe('the published document', () => {
  it('describes cleanupError on LaunchStatus', async () => {
    const doc = (await api(suite.stack, 'GET', '/docs/json')).body as {
      components: { schemas: Record<string, { properties?: Record<string, { type?: string }> }> };
    };
    expect(doc.components.schemas.LaunchStatus?.properties?.cleanupError).toMatchObject({ type: 'string' });
  });
});
