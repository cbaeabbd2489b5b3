import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { shutdown } from '../../src/process/run.js';
import { createContext, type ClosableContext } from '../../src/shared/context-factory.js';
import { HISTORY_JOB } from '../../src/shared/audit/history-sync.js';
import { CXONE_ENDPOINTS } from '../../src/shared/cxone/wire.js';
import { QUEUES, type QueueName } from '../../src/shared/keys.js';
import { createLaunchStore } from '../../src/shared/launch-store.js';
import { getCommand } from '../../src/shared/lifecycle/enqueue.js';
import { campaignLockKey } from '../../src/shared/lifecycle/lock.js';
import { createFleetLimiter } from '../../src/shared/limiter/fleet-limiter.js';
import { silentLogger } from '../../src/shared/logger.js';
import { startWorkers, WORKER_FACTORIES, type RunningWorkers } from '../../src/workers/index.js';
import {
  api,
  campaignConfig,
  REDIS_URL,
  startStack,
  waitFor,
  waitForLaunch,
  type Stack,
} from '../e2e/stack.js';
import { sandboxCounters } from '../support/sandbox-counters.js';

/**
 * A worker process stopped on SIGTERM whose shutdown deadline passes while its jobs wait for a CXone
 * permit (a 429's penalty running fleet-wide) — a launch, a command, a poll, a history import (window
 * jobs make no CXone call; their pauses and resumes are commands): each goes back at once, its attempt
 * not spent, for another process to run — rather than sitting under its lock until the stalled
 * check, counting towards maxStalledCount, or (a launch on its last attempt) being recorded failed.
 */
describe('a shutdown deadline passing while jobs wait for a CXone permit', () => {
  let stack: Stack | undefined;
  let next: { ctx: ClosableContext; workers: RunningWorkers } | undefined;
  afterAll(async () => {
    await next?.workers.close(2_000);
    await next?.ctx.close();
    await stack?.close();
  });

  const CXONE_WORKERS = new Set(['launch', 'adjust', 'poll', 'audit']);
  const cxoneWorkers = WORKER_FACTORIES.filter(([name]) => CXONE_WORKERS.has(name));
  const calls = (s: Stack) => sandboxCounters(s.sandbox);

  it('puts every interrupted job back without spending an attempt, and another process runs each once', async () => {
    stack = await startStack();
    const s = stack;
    const workers = await startWorkers(s.ctx, cxoneWorkers);
    const launched = await api(s, 'POST', '/v1/campaigns', { body: campaignConfig({ name: 'Running' }) });
    expect(launched.status).toBe(202);
    const campaignId = String((await waitForLaunch(s, String(launched.body.launchId))).campaignId);

    // A launch on its last attempt (a failure now would be final), a command (the API reads the
    // campaign from CXone to take it), a poll — queued while their queues are paused.
    await Promise.all([s.ctx.queues.launch.pause(), s.ctx.queues.adjust.pause()]);
    const second = await api(s, 'POST', '/v1/campaigns', { body: campaignConfig({ name: 'Interrupted' }) });
    expect(second.status).toBe(202);
    const launchId = String(second.body.launchId);
    await s.redis.hset(s.ctx.queues.launch.toKey(launchId), 'atm', '9');
    const patch = await api(s, 'PATCH', `/v1/campaigns/${campaignId}`, { body: { name: 'Renamed' } });
    expect(patch.status).toBe(202);
    const commandId = String(patch.body.commandId);

    // CXone said 429 on every endpoint: no call starts anywhere in the fleet for ten minutes.
    const endpoints = Object.values(CXONE_ENDPOINTS).filter((e) => e !== CXONE_ENDPOINTS.token);
    const penalizer = createFleetLimiter({
      redisUrl: REDIS_URL,
      prefix: s.prefix,
      perWindow: 1_000,
      windowMs: 60_000,
      logger: silentLogger,
    });
    for (const endpoint of endpoints) await penalizer.penalize(endpoint, 10 * 60_000);
    await penalizer.close();
    await Promise.all([s.ctx.queues.launch.resume(), s.ctx.queues.adjust.resume()]);
    const poll = await s.ctx.queues.poll.add('poll', { campaignId }, { attempts: 3 });
    const history = await s.ctx.queues.audit.add(HISTORY_JOB, { campaignId, version: 1 }, { attempts: 8 });
    const jobs: Array<[QueueName, string]> = [
      [QUEUES.launch, launchId],
      [QUEUES.adjust, commandId], // its job is named by the command
      [QUEUES.poll, poll.id!],
      [QUEUES.audit, history.id!],
    ];
    await waitFor('every job running, waiting for its permit', async () => {
      const states = await Promise.all(jobs.map(([q, id]) => s.ctx.queues[q].getJobState(id)));
      return states.every((state) => state === 'active');
    });
    const before = await calls(s);

    await shutdown({ workers, ctx: s.ctx }, { ...s.config, shutdownTimeoutMs: 300 }, silentLogger);

    for (const [queue, id] of jobs) {
      const key = `${s.prefix}:${queue}:${id}`;
      const where = { queue, id };
      expect({ ...where, active: await s.redis.lpos(`${s.prefix}:${queue}:active`, id) }).toEqual({
        ...where,
        active: null,
      });
      expect({ ...where, delayed: await s.redis.zscore(`${s.prefix}:${queue}:delayed`, id) }).not.toEqual({
        ...where,
        delayed: null,
      });
      expect({ ...where, lock: await s.redis.exists(`${key}:lock`) }).toEqual({ ...where, lock: 0 });
      const [attemptsMade, stalled, failedReason] = await s.redis.hmget(key, 'atm', 'stc', 'failedReason');
      expect({ ...where, attemptsMade, stalled, failedReason }).toEqual({
        ...where,
        attemptsMade: queue === QUEUES.launch ? '9' : null,
        stalled: null,
        failedReason: null,
      });
    }

    // Put back before Redis closed: what the runs held on the way out (the campaign's lock the
    // command took, the poll's lease) is released, not left for the next process to wait out.
    expect(await s.redis.exists(campaignLockKey(s.ctx.keys, campaignId))).toBe(0);
    expect(await s.redis.exists(s.ctx.keys.lock(`poll:${campaignId}`))).toBe(0);

    // The next process, once CXone allows calls again: each job runs to its end, its call made once.
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    try {
      for (const endpoint of endpoints) await redis.del(`${s.ctx.keys.limiter(endpoint)}:penalty`);
    } finally {
      redis.disconnect();
    }
    const ctx = await createContext(s.config, silentLogger);
    next = { ctx, workers: await startWorkers(ctx, cxoneWorkers) };
    const launches = createLaunchStore(ctx);
    const launch = await waitFor(
      'the interrupted launch to finish',
      async () => {
        const record = await launches.get(launchId);
        return record && record.status !== 'queued' && record.status !== 'running' ? record : undefined;
      },
      30_000,
    );
    expect(launch.status).toBe('succeeded');
    const command = await waitFor(
      'the interrupted command to finish',
      async () => {
        const c = await getCommand(ctx, commandId);
        return c && c.status !== 'queued' && c.status !== 'running' ? c : undefined;
      },
      30_000,
    );
    expect(command.status).toBe('succeeded');
    const polled = await waitFor(
      'the interrupted poll to finish',
      async () => {
        const state = await ctx.queues.poll.getJobState(poll.id!);
        return state === 'completed' || state === 'failed' ? state : undefined;
      },
      30_000,
    );
    expect(polled).toBe('completed');
    const imported = await waitFor(
      'the interrupted history import to finish',
      async () => {
        const state = await ctx.queues.audit.getJobState(history.id!);
        return state === 'completed' || state === 'failed' ? state : undefined;
      },
      30_000,
    );
    expect(imported).toBe('completed');
    const after = await calls(s);
    // The interrupted launch's create was not sent before the shutdown, and once after it.
    expect(before[CXONE_ENDPOINTS.createCampaign]?.requests).toBe(1);
    expect(after[CXONE_ENDPOINTS.createCampaign]?.requests).toBe(2);
  }, 90_000);
});
