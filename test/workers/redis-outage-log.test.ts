import { createConnection } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'bullmq';
import { Redis, ReplyError } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { AppContext } from '../../src/shared/context.js';
import { createRedis, isRedisConnectionError } from '../../src/shared/redis.js';
import { createRedisOutageTracker } from '../../src/workers/redis-outage.js';
import { startWorkers, type RunningWorkers } from '../../src/workers/index.js';
import { waitFor } from '../e2e/stack.js';
import { freePort } from '../support/free-port.js';
import { recordingLogger } from '../support/log-capture.js';
import { deletePrefixAt, REDIS_URL, testPrefix } from '../support/redis-prefix.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

const WARN = 40;
const ERROR = 50;

let cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const fn of cleanup.reverse()) await fn().catch(() => undefined);
  cleanup = [];
});

describe('isRedisConnectionError', () => {
  it('tells Redis out of reach from Redis answering with an error', async () => {
    const port = await freePort();
    const refused = await new Promise<Error>((resolve) =>
      createConnection(port, '127.0.0.1').on('error', resolve),
    );
    const retriesSpent = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    retriesSpent.on('error', () => undefined);
    const outOfRetries = await retriesSpent.ping().catch((err: Error) => err);
    retriesSpent.disconnect();
    const live = new Redis(REDIS_URL);
    cleanup.push(async () => live.disconnect());
    const replyError = await live
      .eval('return redis.error_reply("ERR no such thing")', 0)
      .catch((e: Error) => e);
    await live.quit();
    const closed = await live.ping().catch((err: Error) => err);

    expect(isRedisConnectionError(refused)).toBe(true); // ECONNREFUSED
    expect(isRedisConnectionError(outOfRetries)).toBe(true); // MaxRetriesPerRequestError
    expect(isRedisConnectionError(closed)).toBe(true); // Connection is closed.
    expect(isRedisConnectionError(Object.assign(new Error('connect ETIMEDOUT'), { code: 'ETIMEDOUT' }))).toBe(
      true,
    );
    expect(isRedisConnectionError(replyError)).toBe(false);
    expect(isRedisConnectionError(new Error('Missing key for job 7. moveToFinished'))).toBe(false);
  });
});

describe('createRedisOutageTracker', () => {
  it('makes one line per outage, a reminder while it lasts, and one when the last queue is back', () => {
    let now = 1_000;
    const outage = createRedisOutageTracker(60_000, () => now);
    expect(outage.connectionError('launch')).toEqual({ queues: ['launch'], downForMs: 0, suppressed: 0 });
    now += 2_000;
    expect(outage.connectionError('poll')).toBeUndefined();
    expect(outage.connectionError('launch')).toBeUndefined();
    now += 60_000;
    expect(outage.connectionError('poll')).toEqual({
      queues: ['launch', 'poll'],
      downForMs: 62_000,
      suppressed: 2,
    });
    expect(outage.ready('launch')).toBeUndefined(); // poll still waiting
    now += 500;
    expect(outage.ready('poll')).toEqual({ queues: ['launch', 'poll'], downForMs: 62_500 });
    expect(outage.ready('poll')).toBeUndefined();
    // The next outage is told again, from its own start.
    expect(outage.connectionError('poll')).toEqual({ queues: ['poll'], downForMs: 0, suppressed: 0 });
  });
});

describe('worker logs while Redis is unreachable', () => {
  async function start(proxy: TcpProxy, opts: { refusalIntervalMs?: number } = {}) {
    const prefix = testPrefix('outage-log');
    const { logger, lines } = recordingLogger('info');
    const connection = createRedis(proxy.url);
    connection.on('error', () => undefined);
    const factory = (queue: string) => () =>
      new Worker(queue, async () => undefined, { connection, prefix, autorun: true });
    const running: RunningWorkers = await startWorkers(
      { logger } as unknown as AppContext,
      [
        ['launch', factory('launch')],
        ['poll', factory('poll')],
      ],
      opts,
    );
    cleanup.push(
      () => deletePrefixAt(prefix),
      async () => connection.disconnect(),
      () => running.close(2_000),
    );
    return { lines, running };
  }

  it('warns once for the process, not an error per queue and retry, and says when it is back', async () => {
    const proxy = await startTcpProxy();
    cleanup.push(() => proxy.close());
    const { lines } = await start(proxy);

    proxy.cut();
    const warned = await waitFor('the outage warning', async () =>
      lines.find((l) => l.level === WARN && l.msg.startsWith('Redis is unreachable')),
    );
    // Several reconnect attempts on each worker's two connections (200 ms, 400 ms, 600 ms… apart).
    await sleep(2_500);
    await proxy.restore();
    const back = await waitFor(
      'the line saying Redis is back',
      async () => lines.find((l) => l.msg.startsWith('Redis answers again')),
      10_000,
    );

    expect(lines.filter((l) => l.level >= ERROR)).toEqual([]);
    expect(lines.filter((l) => l.level === WARN)).toEqual([warned]);
    expect(warned.queues).toEqual(expect.arrayContaining([expect.stringMatching(/^(launch|poll)$/)]));
    expect(warned.err).toMatch(/ECONNREFUSED|ECONNRESET|Connection is closed/);
    expect(back.level).toBe(30);
    expect([...(back.queues as string[])].sort()).toEqual(['launch', 'poll']);
    expect(back.downForMs).toBeGreaterThanOrEqual(2_500);
  });

  it('logs a READONLY Redis once for the process, not per worker and poll; a different error still shows', async () => {
    const proxy = await startTcpProxy();
    cleanup.push(() => proxy.close());
    const { lines, running } = await start(proxy);
    const readonly = () =>
      new ReplyError("READONLY You can't write against a read only replica.") as unknown as Error;
    for (let i = 0; i < 20; i++) for (const worker of running.workers) worker.emit('error', readonly());
    running.workers[0]!.emit('error', new Error('ERR Error running script: attempt to compare nil'));
    const logged = lines.filter((l) => l.level === ERROR);
    expect(logged).toHaveLength(2);
    expect(logged[0]).toMatchObject({ err: expect.stringMatching(/^READONLY /) });
    expect(logged[0]!.msg).toMatch(/Redis refuses the workers' commands/);
    expect(logged[1]).toMatchObject({ msg: 'worker error', worker: 'launch' });
  });

  it('says when a refusal has passed, counting the repeats no later refusal came to carry', async () => {
    const proxy = await startTcpProxy();
    cleanup.push(() => proxy.close());
    const { lines, running } = await start(proxy, { refusalIntervalMs: 400 });
    const readonly = () =>
      new ReplyError("READONLY You can't write against a read only replica.") as unknown as Error;
    for (let i = 0; i < 5; i++) for (const worker of running.workers) worker.emit('error', readonly());
    // No refusal after these: their count was kept for a next line that never came.
    const over = await waitFor(
      'the line saying the refusal has passed',
      async () => lines.find((l) => l.msg.startsWith("Redis takes the workers' commands again")),
      3_000,
    );
    expect(over).toMatchObject({ level: 30, state: 'READONLY', suppressed: 9 });
    expect(lines.filter((l) => l.level === ERROR)).toHaveLength(1);
  });

  it('still logs any other worker error at error level, with its stack and queue', async () => {
    const proxy = await startTcpProxy();
    cleanup.push(() => proxy.close());
    const { lines, running } = await start(proxy);
    running.workers[1]!.emit('error', new Error('ERR Error running script: attempt to compare nil'));
    const logged = lines.filter((l) => l.level === ERROR);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ msg: 'worker error', worker: 'poll' });
    expect((logged[0]!.err as { stack: string }).stack).toContain('attempt to compare nil');
  });
});
