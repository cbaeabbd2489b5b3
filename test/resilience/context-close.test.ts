import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/shared/config.js';
import { createContext } from '../../src/shared/context-factory.js';
import { silentLogger } from '../../src/shared/logger.js';
import { freePort } from '../support/free-port.js';

let redis: ChildProcess | undefined;

afterEach(async () => {
  if (!redis || redis.exitCode !== null || redis.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => redis!.once('exit', () => resolve()));
  redis.kill('SIGCONT');
  redis.kill('SIGKILL');
  await exited;
});

/**
 * A Redis that accepts connections but never answers (hung, or cut off by a partition) must not hold
 * the process's shutdown: before, closing the context waited on QUIT and the queues forever and the
 * process ended by the last-resort exit, with code 1, 25 s after the signal. Its own redis-server,
 * stopped with SIGSTOP; the shared one is never touched.
 */
describe('closing the context while Redis hangs', () => {
  it('finishes within its bounds instead of waiting on Redis', async () => {
    const port = await freePort();
    redis = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => 50 });
    probe.on('error', () => undefined);
    for (let i = 0; i < 100; i++) {
      if (
        (await probe
          .connect()
          .then(
            () => probe.ping(),
            () => null,
          )
          .catch(() => null)) === 'PONG'
      )
        break;
      await sleep(50);
    }
    probe.disconnect();

    const ctx = await createContext(
      loadConfig({
        REDIS_URL: `redis://127.0.0.1:${port}`,
        KEY_PREFIX: '{cxo-close-test}',
        API_TOKEN: 'close-test-token',
        CXONE_BASE_URL: 'http://127.0.0.1:9',
        CXONE_CLIENT_ID: 'client',
        CXONE_CLIENT_SECRET: 'secret',
      }),
      silentLogger,
    );
    await ctx.queues.launch.add('noop', {}, { delay: 60_000 });
    redis.kill('SIGSTOP');

    const started = Date.now();
    await ctx.close();
    // Four parts, each bounded at 3 s; a hang would time the test out instead.
    expect(Date.now() - started).toBeLessThan(14_000);
  }, 30_000);
});
