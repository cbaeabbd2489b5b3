import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { CXONE_ENDPOINTS } from '../../src/shared/cxone/wire.js';
import { createFleetLimiter } from '../../src/shared/limiter/fleet-limiter.js';
import { type FleetLimiter, LimiterUnavailableError } from '../../src/shared/limiter/types.js';
import { classifyError } from '../../src/shared/retry/classify.js';
import { silentLogger } from '../../src/shared/logger.js';
import { REDIS_URL, testPrefix } from '../cxone/harness.js';
import { waitFor } from '../e2e/stack.js';
import { freePort } from '../support/free-port.js';

const EP = CXONE_ENDPOINTS.getStats;
/** Redis db reserved for H2's FLUSHDB tests (nobody else uses it). */
const FLUSH_DB = 11;

function withDb(url: string, db: number): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

async function startRedis(port: number): Promise<ChildProcess> {
  const proc = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  const probe = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    retryStrategy: () => 50,
    maxRetriesPerRequest: 1,
  });
  probe.on('error', () => undefined);
  for (let i = 0; i < 100; i++) {
    try {
      await probe.connect().catch(() => undefined);
      if ((await probe.ping()) === 'PONG') break;
    } catch {
      await sleep(50);
    }
  }
  probe.disconnect();
  return proc;
}

async function stopRedis(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    proc.once('exit', () => resolve());
    proc.kill('SIGKILL');
  });
}

/** Calls the limiter continuously from a few callers, recording when each call started. */
/**
 * A Redis of the test's own on a free port (`server.proc`, which a test restarting it replaces), and
 * the test's own cleanup, run when it finishes, Redis stopped last: not the file's, since the afterEach
 * of one concurrent test would end the other's.
 */
async function ownRedis(onTestFinished: (fn: () => Promise<void>) => void) {
  const cleanup: Array<() => Promise<void>> = [];
  onTestFinished(async () => {
    for (const fn of cleanup.reverse()) await fn();
  });
  const port = await freePort();
  const server = { proc: await startRedis(port) };
  cleanup.push(async () => stopRedis(server.proc));
  return { cleanup, port, server, url: `redis://127.0.0.1:${port}` };
}

function keepCalling(limiter: FleetLimiter) {
  const starts: number[] = [];
  const errors: unknown[] = [];
  let stop = false;
  const loops = Array.from({ length: 3 }, async () => {
    while (!stop) {
      try {
        await limiter.schedule(EP, 'poll', async () => void starts.push(Date.now()));
      } catch (err) {
        if (stop) return;
        errors.push(err);
        await sleep(50);
      }
    }
  });
  return {
    starts,
    errors,
    async stop() {
      stop = true;
      await limiter.close();
      await Promise.allSettled(loops);
    },
  };
}

/** Waits until the callers have made more than `count` calls (not for a fixed time: a busy machine is slower). */
async function untilCalls(run: ReturnType<typeof keepCalling>, count: number, sinceMs = 0): Promise<void> {
  await waitFor(
    `more than ${count} calls`,
    async () => run.starts.filter((t) => t > sinceMs).length > count,
    10_000,
  );
}

/**
 * Calls started again within `withinMs` of `sinceMs` and kept going until `keptGoingMs` after it, and
 * none of them failed.
 */
async function expectResumed(
  run: ReturnType<typeof keepCalling>,
  sinceMs: number,
  withinMs: number,
  keptGoingMs: number,
): Promise<void> {
  await untilCalls(run, 10, sinceMs);
  await untilCalls(run, 0, sinceMs + keptGoingMs);
  const after = run.starts.filter((t) => t > sinceMs);
  expect((after[0] as number) - sinceMs).toBeLessThan(withinMs);
  expect(run.errors).toEqual([]);
}

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanup.reverse()) await fn();
  cleanup = [];
});

describe('limiter recovery from Redis trouble', () => {
  it('Redis 7 prefixes script errors with ERR, which upstream bottleneck 2.19.5 does not recognise', async () => {
    const redis = new Redis(REDIS_URL);
    cleanup.push(async () => void redis.disconnect());
    const message = await redis.eval("return redis.error_reply('SETTINGS_KEY_NOT_FOUND')", 0).then(
      () => '',
      (e: Error) => e.message,
    );
    // Upstream compares e.message === "SETTINGS_KEY_NOT_FOUND" and so re-throws forever;
    // @maselious/bottleneck matches /^(.*\s)?SETTINGS_KEY_NOT_FOUND$/ and re-initialises.
    expect(message).not.toBe('SETTINGS_KEY_NOT_FOUND');
    expect(message).toMatch(/^(.*\s)?SETTINGS_KEY_NOT_FOUND$/);
  });

  it.each([
    { mode: 'one slot per permit', perWindow: 20 },
    { mode: 'leases', perWindow: 400 }, // minTime 4 ms: leases of 6 slots
  ])('keeps limiting after FLUSHDB wipes its keys ($mode)', async ({ perWindow }) => {
    const url = withDb(REDIS_URL, FLUSH_DB);
    const limiter = createFleetLimiter({
      redisUrl: url,
      prefix: testPrefix('flush'),
      perWindow,
      windowMs: 1_000,
      logger: silentLogger,
    });
    const run = keepCalling(limiter);
    const admin = new Redis(url);
    cleanup.push(async () => {
      await run.stop();
      await admin.flushdb();
      admin.disconnect();
    });

    await untilCalls(run, 5);
    expect(await admin.dbsize()).toBeGreaterThan(0);
    await admin.flushdb();
    const flushedAt = Date.now();
    const windowEnd = flushedAt + 2_000;
    await expectResumed(run, flushedAt, 1_500, windowEnd - flushedAt);
    // The budget still holds after recovery: in the second second after the flush.
    const inWindow = run.starts.filter((t) => t > windowEnd - 1_000 && t <= windowEnd).length;
    expect(inWindow).toBeLessThanOrEqual(perWindow);
  });

  // Each on its own redis-server, so the two run side by side: most of each is waiting out the outage
  // and the calls after it.
  it.concurrent.for([
    { mode: 'one slot per permit', perWindow: 20 },
    { mode: 'leases', perWindow: 400 },
  ])(
    'resumes within seconds after a Redis restart without persistence ($mode)',
    { timeout: 30_000 },
    async ({ perWindow }, { onTestFinished }) => {
      const { cleanup, port, server, url } = await ownRedis(onTestFinished);
      const limiter = createFleetLimiter({
        redisUrl: url,
        prefix: testPrefix('restart'),
        perWindow,
        windowMs: 1_000,
        logger: silentLogger,
      });
      const run = keepCalling(limiter);
      cleanup.push(() => run.stop());

      await untilCalls(run, 5);
      await stopRedis(server.proc);
      await sleep(1_000);
      server.proc = await startRedis(port);
      const restartedAt = Date.now();
      // Calls waited through the outage instead of failing.
      await expectResumed(run, restartedAt, 3_000, 4_000);
    },
  );

  it.concurrent(
    'gives up with a transient LimiterUnavailableError when Redis stays down',
    async ({ onTestFinished }) => {
      const { cleanup, server, url } = await ownRedis(onTestFinished);
      const limiter = createFleetLimiter({
        redisUrl: url,
        prefix: testPrefix('down'),
        perWindow: 20,
        windowMs: 1_000,
        logger: silentLogger,
        redisOutageMaxMs: 1_000,
      });
      cleanup.push(() => limiter.close());
      await limiter.schedule(EP, 'poll', async () => undefined);
      await stopRedis(server.proc);

      const t0 = Date.now();
      const err = await limiter.schedule(EP, 'control', async () => 'ran').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LimiterUnavailableError);
      expect(Date.now() - t0).toBeLessThan(10_000);
      // Workers retry it with backoff like any other transient failure.
      expect(classifyError(err).kind).toBe('transient');
    },
    20_000,
  );
});
