import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evalScript } from '../../src/shared/redis-script.js';
import { deletePrefix, REDIS_URL, testPrefix } from '../e2e/stack.js';

const prefix = testPrefix();
let redis: Redis;
const sent: string[] = [];

beforeAll(async () => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  await redis.ping();
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = ((command: { name: string }) => {
    if (command.name.startsWith('eval')) sent.push(command.name);
    return send(command as Parameters<typeof send>[0]);
  }) as typeof redis.sendCommand;
});
afterAll(async () => {
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

describe('evalScript', () => {
  it('loads an unknown script once with EVAL, then runs it by its hash', async () => {
    // A script text no Redis has seen, so the first call must take the NOSCRIPT path.
    const lua = `-- ${randomUUID()}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])`;
    const key = `${prefix}:counter`;
    sent.length = 0;
    expect(await evalScript(redis, lua, 1, key, 2)).toBe(2);
    expect(sent).toEqual(['evalsha', 'eval']);
    sent.length = 0;
    expect(await evalScript(redis, lua, 1, key, 3)).toBe(5);
    expect(sent).toEqual(['evalsha']);
  });

  it('passes script errors through instead of retrying them with EVAL', async () => {
    const lua = `-- ${randomUUID()}\nreturn redis.call('INCR', KEYS[1])`;
    const key = `${prefix}:text`;
    await redis.set(key, 'not a number');
    await expect(evalScript(redis, lua, 1, key)).rejects.toThrow(/not an integer/);
    sent.length = 0;
    await expect(evalScript(redis, lua, 1, key)).rejects.toThrow(/not an integer/);
    expect(sent).toEqual(['evalsha']);
  });
});
