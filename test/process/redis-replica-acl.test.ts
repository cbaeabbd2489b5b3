import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProcessRunner } from '../../src/process/run.js';
import { findOnPath, startPrivateRedis, type PrivateRedis } from '../../src/process/private-redis.js';
import { loadConfig } from '../../src/shared/config.js';
import { silentLogger } from '../../src/shared/logger.js';
import { checkRedis } from '../../src/shared/redis.js';
import { freePort } from '../support/free-port.js';

const REDIS_SERVER = findOnPath('redis-server');
const PREFIX = '{cxo-replica-acl}';

/**
 * REDIS_URL naming a replica, for a user whose ACL denies `@dangerous` — a common hardening, and what
 * managed services do — which ROLE and CONFIG belong to. The start-up check asked only those: denied,
 * it knew nothing, so a read-only replica passed (the fleet's first write then stopped the process
 * with a READONLY stack trace), and a writable one read as read-only and was refused. A private
 * redis-server, since the shared one must not be made a replica.
 */
describe.skipIf(!REDIS_SERVER)('the start-up check on a replica, ROLE and CONFIG denied by ACL', () => {
  let redis: PrivateRedis;
  let admin: Redis;
  let url: string;

  beforeAll(async () => {
    redis = await startPrivateRedis(REDIS_SERVER as string, await freePort());
    admin = new Redis({ port: redis.port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
    await admin.call('ACL', 'SETUSER', 'app', 'on', '>app-pw', '~*', '&*', '+@all', '-@dangerous');
    // ROLE allowed, CONFIG not (CONFIG alone is also often denied).
    await admin.call('ACL', 'SETUSER', 'ops', 'on', '>ops-pw', '~*', '&*', '+@all', '-config');
    url = `redis://app:app-pw@127.0.0.1:${redis.port}`;
    // A primary that does not exist: the server turns replica (read-only) and stays so.
    await admin.call('REPLICAOF', '127.0.0.1', String(await freePort()));
  });

  afterAll(async () => {
    admin?.disconnect();
    await redis?.stop();
  });

  it('the user may not ask ROLE (the premise)', async () => {
    const user = new Redis(url, { maxRetriesPerRequest: 1, enableReadyCheck: false });
    try {
      await expect(user.call('ROLE')).rejects.toThrow(/^NOPERM /);
    } finally {
      user.disconnect();
    }
  });

  it('stops start-up with one line naming the read-only replica, before anything is written', async () => {
    const errors: string[] = [];
    let exited!: (code: number) => void;
    const exit = new Promise<number>((resolve) => (exited = resolve));
    const runner = createProcessRunner({
      role: 'worker',
      config: loadConfig({ REDIS_URL: url, KEY_PREFIX: PREFIX, LOG_LEVEL: 'silent', METRICS_PORT: '0' }),
      logger: silentLogger,
      redisUrlExplicit: true,
      exit: (code) => exited(code),
      printBanner: () => undefined,
      printError: (line) => errors.push(line),
    });
    await runner.start();
    expect(await exit).toBe(1);
    expect(errors).toHaveLength(1);
    // One sentence: "Redis at <url> is a read-only replica …", not "Redis at <url> it is …".
    expect(errors[0]).toMatch(
      /^Redis at redis:\/\/app:\*\*\*@127\.0\.0\.1:\d+ is a read-only replica \(it answers writes READONLY\): .*Point REDIS_URL at the primary\.$/,
    );
    expect(await admin.keys(`${PREFIX}*`)).toEqual([]);
  });

  it('passes a writable replica (replica-read-only no) for a user denied CONFIG: it takes the writes', async () => {
    // ROLE said `slave` and CONFIG GET replica-read-only, denied, was taken for `yes`.
    await admin.config('SET', 'replica-read-only', 'no');
    try {
      const opsUrl = `redis://ops:ops-pw@127.0.0.1:${redis.port}`;
      expect(await checkRedis(opsUrl, 1500, { keyPrefix: PREFIX })).toEqual({ ok: true });
      expect(await admin.keys(`${PREFIX}*`)).toEqual([]);
    } finally {
      await admin.config('SET', 'replica-read-only', 'yes');
    }
  });
});
