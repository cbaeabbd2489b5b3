import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { findOnPath } from '../../src/process/private-redis.js';
import { redisAnswers } from '../../src/shared/redis.js';
import { freePort } from './free-port.js';
import { proxiedRedisUrl, startTcpProxy, type TcpProxy } from './tcp-proxy.js';

describe("the test suite's Redis TCP proxy", () => {
  it("keeps the Redis URL's user, password and database, on the proxy's own address", () => {
    expect(proxiedRedisUrl('redis://:s3cret@redis.internal:6380/2', 41234)).toBe(
      'redis://:s3cret@127.0.0.1:41234/2',
    );
    expect(proxiedRedisUrl('redis://ci:pw@10.0.0.5', 5000)).toBe('redis://ci:pw@127.0.0.1:5000');
    expect(proxiedRedisUrl('redis://127.0.0.1:6379', 5001)).toBe('redis://127.0.0.1:5001');
  });

  // The README says `npm test` needs only a reachable REDIS_URL: one that wants a password must work
  // through the proxy too (it connected without it: NOAUTH on every command of the outage tests).
  const binary = findOnPath('redis-server', process.env.PATH);
  let server: ChildProcess | undefined;
  let proxy: TcpProxy | undefined;
  let client: Redis | undefined;
  afterAll(async () => {
    client?.disconnect();
    await proxy?.close();
    if (server && server.exitCode === null) {
      server.kill('SIGKILL');
      await once(server, 'exit');
    }
  });

  it.skipIf(!binary)('reaches a Redis that wants a password, in the URL database', async () => {
    const port = await freePort();
    server = spawn(
      binary!,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--requirepass',
        'pw-1',
      ],
      { stdio: 'ignore' },
    );
    const direct = `redis://:pw-1@127.0.0.1:${port}/3`;
    for (let i = 0; i < 50 && !(await redisAnswers(direct, 200)); i++)
      await new Promise((r) => setTimeout(r, 100));
    proxy = await startTcpProxy(direct);
    client = new Redis(proxy.url, { maxRetriesPerRequest: 1, lazyConnect: true });
    await client.connect();
    expect(await client.ping()).toBe('PONG');
    expect(await client.client('INFO')).toMatch(/\bdb=3\b/);
  });
});
