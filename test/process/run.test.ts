import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { Role } from '../../src/process/banner.js';
import { createProcessRunner } from '../../src/process/run.js';
import { findOnPath } from '../../src/process/private-redis.js';
import { loadConfig } from '../../src/shared/config.js';
import { fleetRecordKey } from '../../src/shared/fleet-claim.js';
import { createKeys } from '../../src/shared/keys.js';
import type { ClosableContext } from '../../src/shared/context-factory.js';
import { silentLogger, type Logger } from '../../src/shared/logger.js';
import { recordingLogger } from '../support/log-capture.js';
import { redisAnswers } from '../../src/shared/redis.js';
import { freePort } from '../support/free-port.js';
import { stopRedisAt } from './stop-redis.js';
import { deletePrefixAt, REDIS_URL, testPrefix } from '../support/redis-prefix.js';
import { startWorkers, type RunningWorkers } from '../../src/workers/index.js';

const REDIS_SERVER = findOnPath('redis-server');

/** A runner whose exit is recorded instead of ending the test process. */
function runner(
  env: NodeJS.ProcessEnv,
  opts: { redisUrlExplicit: boolean; startWorkers?: typeof startWorkers; role?: Role; logger?: Logger },
) {
  const exits: number[] = [];
  const errors: string[] = [];
  const banners: string[][] = [];
  let exited!: (code: number) => void;
  const exit = new Promise<number>((resolve) => (exited = resolve));
  const r = createProcessRunner({
    role: 'all',
    config: loadConfig({ HOST: '127.0.0.1', PORT: '0', SANDBOX_PORT: '0', LOG_LEVEL: 'silent', ...env }),
    logger: silentLogger,
    ...opts,
    exit: (code) => {
      exits.push(code);
      exited(code);
    },
    printBanner: (lines) => banners.push(lines),
    printError: (line) => errors.push(line),
  });
  return { r, exits, errors, banners, exit };
}

const held: Server[] = [];
const privatePorts: number[] = [];
afterEach(async () => {
  for (const s of held.splice(0)) await new Promise((resolve) => s.close(resolve));
  // A private redis-server the code under test left running must not outlive the test either.
  for (const port of privatePorts.splice(0)) {
    await stopRedisAt(port);
  }
});

async function holdPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  held.push(server);
  return (server.address() as { port: number }).port;
}

describe.skipIf(!REDIS_SERVER)('start-up that fails after starting a private redis-server', () => {
  // The sandbox port fails before anything but Redis runs; PORT after the sandbox and the Redis
  // connections too, which must be closed before the private Redis goes.
  it.each(['SANDBOX_PORT', 'PORT'] as const)(
    'stops the private redis-server before exiting 1 when %s is taken',
    async (variable) => {
      const redisPort = await freePort();
      privatePorts.push(redisPort);
      const taken = await holdPort();
      const { r, exit, errors } = runner(
        {
          REDIS_URL: `redis://127.0.0.1:${redisPort}`,
          [variable]: String(taken),
          KEY_PREFIX: testPrefix('run'),
        },
        // As when REDIS_URL is unset: the orchestrator may start its own Redis at the default address.
        { redisUrlExplicit: false },
      );
      await r.start();
      expect(await exit).toBe(1);
      expect(errors).toEqual([
        `${variable} ${taken} is already in use on 127.0.0.1; set ${variable} to a free port`,
      ]);
      expect(await redisAnswers(`redis://127.0.0.1:${redisPort}`, 500)).toBe(false);
    },
  );
});

describe('a signal while workers are starting', () => {
  it('lets them finish starting, then drains them and exits 0 without the banner', async () => {
    const prefix = testPrefix('run');
    let started: RunningWorkers | undefined;
    let closedBeforeExit = false;
    const { r, exit, banners } = runner(
      { REDIS_URL, KEY_PREFIX: prefix, SHUTDOWN_TIMEOUT_MS: '5000' },
      {
        redisUrlExplicit: true,
        startWorkers: async (ctx) => {
          r.signal('SIGTERM');
          started = await startWorkers(ctx);
          const close = started.close.bind(started);
          started.close = async (ms) => {
            await close(ms);
            closedBeforeExit = true;
          };
          return started;
        },
      },
    );
    try {
      await r.start();
      expect(await exit).toBe(0);
      expect(started).toBeDefined();
      expect(closedBeforeExit).toBe(true);
      expect(banners).toEqual([]);
    } finally {
      await started?.close(0);
      await deletePrefixAt(prefix);
    }
  });
});

describe('a start-up that fails after connecting to Redis', () => {
  // main() takes the Redis commands a shutdown drops ("Connection is closed.") as expected only while
  // the runner says it is stopping; after a failed start-up they would read as errors otherwise.
  it('reads as stopping while it closes what it started', async () => {
    const prefix = testPrefix('run');
    const seen: boolean[] = [];
    const { r, exit } = runner(
      { REDIS_URL, KEY_PREFIX: prefix },
      {
        redisUrlExplicit: true,
        startWorkers: (appCtx) => {
          // start-up hands the workers the context it will close on the way out
          const ctx = appCtx as ClosableContext;
          const close = ctx.close.bind(ctx);
          ctx.close = async () => {
            seen.push(r.stopping);
            await close();
          };
          throw new Error('workers cannot start');
        },
      },
    );
    try {
      await r.start();
      expect(await exit).toBe(1);
      expect(seen).toEqual([true]);
    } finally {
      await deletePrefixAt(prefix);
    }
  });
});

describe.skipIf(!REDIS_SERVER)('a signal while the private redis-server is starting', () => {
  it('starts nothing more, stops it and exits 0 without the banner', async () => {
    const redisPort = await freePort();
    privatePorts.push(redisPort);
    const { r, exit, banners } = runner(
      { REDIS_URL: `redis://127.0.0.1:${redisPort}`, KEY_PREFIX: testPrefix('run') },
      { redisUrlExplicit: false },
    );
    // start() runs up to its first wait, looking for Redis; the signal arrives during that step.
    const starting = r.start();
    r.signal('SIGTERM');
    await starting;
    expect(await exit).toBe(0);
    expect(r.running.privateRedis).toBeDefined();
    expect(r.running.sandbox).toBeUndefined();
    expect(banners).toEqual([]);
    expect(await redisAnswers(`redis://127.0.0.1:${redisPort}`, 500)).toBe(false);
  });
});

describe.skipIf(!REDIS_SERVER)('a split role with REDIS_URL unset and no Redis answering', () => {
  it.each(['worker', 'api'] as const)(
    '%s starts no private redis-server: it says how to start one',
    async (role) => {
      const redisPort = await freePort();
      privatePorts.push(redisPort);
      const { r, exits, errors, exit } = runner(
        { REDIS_URL: `redis://127.0.0.1:${redisPort}`, KEY_PREFIX: testPrefix('run') },
        { redisUrlExplicit: false, role },
      );
      try {
        await r.start();
        expect(exits).toEqual([1]);
        expect(errors).toEqual([
          `Redis does not answer at redis://127.0.0.1:${redisPort}. Start it (e.g. \`redis-server --daemonize yes\`) or set REDIS_URL to a reachable Redis.`,
        ]);
        expect(await redisAnswers(`redis://127.0.0.1:${redisPort}`, 500)).toBe(false);
      } finally {
        if (exits.length === 0) {
          r.signal('SIGTERM');
          await exit;
        }
      }
    },
  );
});

describe('the line a signal logs', () => {
  // Only `all` and `worker` run workers: an `api` replica that said it was draining jobs sent its
  // operator looking for jobs it never had.
  it.each([
    ['api', 'shutting down: closing the HTTP server (open requests finish)'],
    ['worker', 'shutting down: draining active jobs'],
  ] as const)('%s says what its shutdown waits for', async (role, line) => {
    const prefix = testPrefix('run');
    const { logger, lines } = recordingLogger();
    const { r, exit } = runner(
      { REDIS_URL, KEY_PREFIX: prefix, API_TOKEN: 'a-test-token-of-length' },
      { redisUrlExplicit: true, role, logger },
    );
    try {
      await r.start();
      r.signal('SIGTERM');
      expect(await exit).toBe(0);
      const logged = lines.filter((l) => l.signal === 'SIGTERM');
      expect(logged.map((l) => l.msg)).toEqual([line]);
      expect(logged[0]).toMatchObject({ signal: 'SIGTERM', timeoutMs: 30_000 });
      if (role === 'api') expect(logged[0]!.msg).not.toMatch(/drain|job/);
    } finally {
      await deletePrefixAt(prefix);
    }
  });
});

describe.skipIf(!REDIS_SERVER)('a signal while Redis is down', () => {
  // BullMQ's pause waits for a blocking fetch that never returns without Redis, so the whole
  // SHUTDOWN_TIMEOUT_MS went on a drain that could not happen, then the fleet claim's renewal and
  // release waited their bounds, and the last-resort timer ended the process with 1 — 45 s at the
  // default, compose's whole stop_grace_period.
  it('closes the workers without waiting for a drain, leaves the claim to expire and exits 0', async () => {
    const redisPort = await freePort();
    const redis = spawn(REDIS_SERVER!, ['--port', String(redisPort), '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    const redisGone = new Promise((resolve) => redis.once('exit', resolve));
    try {
      await waitUntil(() => redisAnswers(`redis://127.0.0.1:${redisPort}`, 300));
      const { logger, lines } = recordingLogger('warn');
      const { r, exit } = runner(
        { REDIS_URL: `redis://127.0.0.1:${redisPort}`, KEY_PREFIX: testPrefix('run') },
        { redisUrlExplicit: true, logger },
      );
      await r.start();
      redis.kill('SIGKILL');
      await redisGone;
      await waitUntil(async () => r.running.ctx?.redis.status !== 'ready');
      const began = Date.now();
      r.signal('SIGTERM');
      expect(await exit).toBe(0);
      // Far under the 30 s deadline it used to spend in full (it takes about a second and a half).
      expect(Date.now() - began).toBeLessThan(15_000);
      const said = lines.map((l) => l.msg);
      expect(said).toContainEqual(
        expect.stringMatching(/^Redis is not answering: no job can record its end/),
      );
      expect(said).toContain('Redis is not answering: the fleet claim is not released; it expires by itself');
      expect(said).not.toContainEqual(expect.stringMatching(/shutdown deadline|took too long/));
    } finally {
      redis.kill('SIGKILL');
    }
  }, 90_000);
});

async function waitUntil(check: () => boolean | Promise<boolean>): Promise<void> {
  const until = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met within 20 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('a start-up that fails before it serves anything, on a fresh prefix', () => {
  // The claim wrote the prefix's record of its last fleet before the port was bound: the process
  // exited 1, and a corrected start under another identity (a fixed CXONE_CLIENT_ID) was refused
  // until FLEET_TAKEOVER, for a fleet that never took a request or a job.
  const env = (clientId: string, port: number | string) => ({
    REDIS_URL,
    API_TOKEN: 'a-test-token-of-length',
    CXONE_BASE_URL: 'http://127.0.0.1:9',
    CXONE_CLIENT_ID: clientId,
    CXONE_CLIENT_SECRET: 'not-shown-anywhere',
    PORT: String(port),
  });
  const recordOf = async (prefix: string) => {
    const redis = new Redis(REDIS_URL);
    try {
      return await redis.hgetall(fleetRecordKey(createKeys(prefix)));
    } finally {
      redis.disconnect();
    }
  };

  /** An `api` process of the fleet `clientId` names whose PORT is taken: it exits 1, saying so. */
  const failedStart = async (clientId: string, prefix: string, extra: Record<string, string> = {}) => {
    const failed = runner(
      { ...env(clientId, await holdPort()), KEY_PREFIX: prefix, ...extra },
      { redisUrlExplicit: true, role: 'api' },
    );
    await failed.r.start();
    expect(await failed.exit).toBe(1);
    expect(failed.errors.join('\n')).toMatch(/already in use/);
  };

  it('leaves no record of its fleet, so a corrected start under another identity is not refused', async () => {
    const prefix = testPrefix('run');
    try {
      await failedStart('typo-client', prefix);
      expect(await recordOf(prefix)).toEqual({});

      const fixed = runner(
        { ...env('right-client', 0), KEY_PREFIX: prefix },
        { redisUrlExplicit: true, role: 'api' },
      );
      await fixed.r.start();
      expect(fixed.exits).toEqual([]);
      fixed.r.signal('SIGTERM');
      expect(await fixed.exit).toBe(0);
      expect((await recordOf(prefix)).cxone).toBe('http://127.0.0.1:9');
    } finally {
      await deletePrefixAt(prefix);
    }
  });

  it('keeps the record a start of the same fleet that served wrote before it', async () => {
    const prefix = testPrefix('run');
    try {
      const served = runner(
        { ...env('a-client', 0), KEY_PREFIX: prefix },
        { redisUrlExplicit: true, role: 'api' },
      );
      await served.r.start();
      served.r.signal('SIGTERM');
      expect(await served.exit).toBe(0);
      const before = await recordOf(prefix);
      expect(before.fp).toEqual(expect.any(String));

      await failedStart('a-client', prefix);
      expect(await recordOf(prefix)).toEqual(before);
    } finally {
      await deletePrefixAt(prefix);
    }
  });

  it("puts back the record of the fleet its FLEET_TAKEOVER replaced, so that fleet's start is not refused", async () => {
    const prefix = testPrefix('run');
    try {
      const previous = runner(
        { ...env('old-client', 0), KEY_PREFIX: prefix, CXONE_BASE_URL: 'http://127.0.0.1:7' },
        { redisUrlExplicit: true, role: 'api' },
      );
      await previous.r.start();
      previous.r.signal('SIGTERM');
      expect(await previous.exit).toBe(0);
      const before = await recordOf(prefix);
      expect(before.cxone).toBe('http://127.0.0.1:7');

      // The takeover happened (the record named the new fleet) and the start failed before serving.
      await failedStart('new-client', prefix, { FLEET_TAKEOVER: before.fp!.slice(0, 12) });
      expect(await recordOf(prefix)).toEqual(before);

      const again = runner(
        { ...env('old-client', 0), KEY_PREFIX: prefix, CXONE_BASE_URL: 'http://127.0.0.1:7' },
        { redisUrlExplicit: true, role: 'api' },
      );
      await again.r.start();
      expect(again.exits).toEqual([]);
      again.r.signal('SIGTERM');
      expect(await again.exit).toBe(0);
    } finally {
      await deletePrefixAt(prefix);
    }
  });
});
