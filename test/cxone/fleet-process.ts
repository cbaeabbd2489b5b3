import { AsyncLocalStorage } from 'node:async_hooks';
import type { Redis } from 'ioredis';
import { afterEach } from 'vitest';
import { startSandbox, type RunningSandbox, type SandboxOptions } from '../../src/sandbox/server.js';
import { createCxoneClient, type CxoneClient } from '../../src/shared/cxone/client.js';
import {
  createSharedCredentialsRefusal,
  type SharedCredentialsRefusal,
} from '../../src/shared/cxone/credentials-refusal.js';
import { createKeys } from '../../src/shared/keys.js';
import { createFleetLimiter } from '../../src/shared/limiter/fleet-limiter.js';
import { silentLogger } from '../../src/shared/logger.js';
import { createRedis } from '../../src/shared/redis.js';
import type { recordingLogger } from '../support/log-capture.js';
import { deletePrefixAt, REDIS_URL } from '../support/redis-prefix.js';

/**
 * Several processes of one fleet sharing CXone's credentials record (credentials-refusal.ts), for the
 * tests of that record: each "process" its own token provider, limiter and Redis connection on one
 * KEY_PREFIX, against a sandbox over real HTTP. Everything started is closed after each test.
 */

export const closers: Array<() => Promise<void>> = [];

/**
 * Closes what each test of the calling file started, after it. Called at the top of every file that
 * uses these processes: a hook registered here at import would be registered once per process, for
 * the first file of those sharing it (vitest's `isolate: false`), and the next file's would be left
 * running with their keys.
 */
export function closeFleetProcessesAfterEach(): void {
  afterEach(async () => {
    while (closers.length > 0) await closers.pop()!();
  });
}

/** The closers of the test running `ownClosers`' body, where the file-wide ones would be shared. */
const scoped = new AsyncLocalStorage<Array<() => Promise<void>>>();

/**
 * Closes `close` after the test: at the end of the `ownClosers` body it runs in, or after each test
 * (closeFleetProcessesAfterEach).
 */
export function closeAfter(close: () => Promise<void>): void {
  (scoped.getStore() ?? closers).push(close);
}

/**
 * A test body whose sandboxes and processes are closed when it ends rather than by the afterEach
 * of closeFleetProcessesAfterEach, which would also close what concurrent tests (`it.concurrent`) still use.
 */
export function ownClosers(body: () => Promise<void>): () => Promise<void> {
  return async () => {
    const own: Array<() => Promise<void>> = [];
    try {
      await scoped.run(own, body);
    } finally {
      while (own.length > 0) await own.pop()!();
    }
  };
}

export async function sandbox(opts: SandboxOptions = {}): Promise<RunningSandbox> {
  const running = await startSandbox({ port: 0, logger: silentLogger, ...opts });
  closeAfter(() => running.close());
  return running;
}

/**
 * One process of the fleet: its own limiter, Redis connection and CXone client on `prefix`.
 * `redisUrl` is where its shared record lives (the limiter always uses the test Redis).
 */
export function processOf(
  running: RunningSandbox,
  prefix: string,
  clientSecret: string,
  opts: {
    baseWaitMs?: number;
    redisUrl?: string;
    logger?: ReturnType<typeof recordingLogger>['logger'];
    wrap?: (shared: SharedCredentialsRefusal) => SharedCredentialsRefusal;
  } = {},
): { client: CxoneClient; redis: Redis } {
  const limiter = createFleetLimiter({
    redisUrl: REDIS_URL,
    prefix,
    perWindow: 1_000,
    windowMs: 10_000,
    logger: silentLogger,
  });
  const redis = createRedis(opts.redisUrl ?? REDIS_URL, { connectionName: 'cxo-test-credref' });
  redis.on('error', () => undefined);
  const client = createCxoneClient({
    baseUrl: running.url,
    clientId: 'sandbox-client',
    clientSecret,
    timeoutMs: 5_000,
    limiter,
    logger: opts.logger ?? silentLogger,
    sharedRefusal: (opts.wrap ?? ((shared) => shared))(
      createSharedCredentialsRefusal({ redis, keys: createKeys(prefix), logger: silentLogger }),
    ),
    ...(opts.baseWaitMs ? { refusedWait: { baseMs: opts.baseWaitMs, maxMs: 8 * opts.baseWaitMs } } : {}),
  });
  closeAfter(async () => {
    await client.close();
    await limiter.close();
    redis.disconnect();
    await deletePrefixAt(prefix);
  });
  return { client, redis };
}
