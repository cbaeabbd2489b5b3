import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { findOnPath, startPrivateRedis, type PrivateRedis } from '../../src/process/private-redis.js';
import { CXONE_ENDPOINTS } from '../../src/shared/cxone/wire.js';
import { createFleetLimiter } from '../../src/shared/limiter/fleet-limiter.js';
import { LimiterUnavailableError, type FleetLimiter } from '../../src/shared/limiter/types.js';
import { silentLogger } from '../../src/shared/logger.js';
import { waitFor } from '../e2e/stack.js';
import { freePort } from '../support/free-port.js';
import { testPrefix } from '../support/redis-prefix.js';

const EP = CXONE_ENDPOINTS.getStats;

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanup.reverse()) await fn();
  cleanup = [];
});

/**
 * An endpoint's limiter first used while Redis answers but refuses writes (a primary a failover
 * demoted to replica: READONLY). Bottleneck keeps the refusal of its start-up script as its `ready`
 * for good, so every later permit failed with it — after Redis took writes again, until the process
 * was restarted: the endpoint's CXone calls failed for ever (the token endpoint's: every call).
 * A private redis-server, since the shared one must not be made a replica.
 */
describe('limiter first used while Redis refuses writes', () => {
  it('gives permits once Redis takes writes again', async () => {
    const binary = findOnPath('redis-server');
    if (!binary) throw new Error('redis-server is not on the PATH');
    const redis: PrivateRedis = await startPrivateRedis(binary, await freePort());
    cleanup.push(() => redis.stop());
    const admin = new Redis({ port: redis.port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
    cleanup.push(async () => void admin.disconnect());
    await admin.call('REPLICAOF', '127.0.0.1', String(await freePort()));

    const limiter: FleetLimiter = createFleetLimiter({
      redisUrl: `redis://127.0.0.1:${redis.port}`,
      prefix: testPrefix('refused-start'),
      perWindow: 20,
      windowMs: 1_000,
      logger: silentLogger,
      redisOutageMaxMs: 1_000,
    });
    cleanup.push(() => limiter.close());
    const refused = await limiter.schedule(EP, 'control', async () => 'ran').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(LimiterUnavailableError);

    await admin.call('REPLICAOF', 'NO', 'ONE');
    let last: unknown;
    await waitFor(
      'a permit once Redis takes writes',
      async () => {
        last = await limiter.schedule(EP, 'control', async () => 'ran').catch((e: unknown) => e);
        return last === 'ran';
      },
      10_000,
    ).catch(() => {
      throw new Error(`no permit: ${String(last)}`);
    });
  }, 30_000);
});
