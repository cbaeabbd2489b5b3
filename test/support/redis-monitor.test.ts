import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { parseMonitorLine, startRedisMonitor, unquoteMonitorArg } from './redis-monitor.js';
import { deletePrefix, REDIS_URL, testPrefix } from './redis-prefix.js';

describe("the test suite's MONITOR client", () => {
  const redis = new Redis(REDIS_URL);
  const prefix = testPrefix('monitor');
  afterAll(async () => {
    await deletePrefix(redis, prefix);
    redis.disconnect();
  });

  it("undoes Redis's quoting of arguments", () => {
    expect(unquoteMonitorArg('a\\"b\\\\c\\n\\r\\t')).toBe('a"b\\c\n\r\t');
    expect(unquoteMonitorArg('caf\\xc3\\xa9 \\x01')).toBe('café \u0001');
    expect(parseMonitorLine('1796072639.311906 [0 127.0.0.1:34422] "hget" "k \\"x\\"" "guard"')).toEqual({
      source: '127.0.0.1:34422',
      args: ['hget', 'k "x"', 'guard'],
    });
    expect(parseMonitorLine('1796072639.311906 [3 lua] "incr" "n"')).toEqual({
      source: 'lua',
      args: ['incr', 'n'],
    });
    expect(parseMonitorLine('OK')).toBeUndefined();
  });

  it('starts while Redis is busy with other clients and reports the commands sent after it started', async () => {
    // Traffic from another client while MONITOR starts, so reports can share a read with its +OK —
    // what broke ioredis's monitor() in CI.
    const busy = new Redis(REDIS_URL);
    let hammering = true;
    const hammer = (async () => {
      while (hammering) {
        const pipeline = busy.pipeline();
        for (let i = 0; i < 50; i++) pipeline.get(`${prefix}:noise`);
        await pipeline.exec();
      }
    })();
    try {
      for (let round = 0; round < 10; round++) {
        const monitor = await startRedisMonitor(REDIS_URL);
        await redis.set(`${prefix}:marked:${round}`, 'value with "quotes"');
        await redis.ping();
        await new Promise((r) => setTimeout(r, 20));
        const seen = await monitor.stop();
        expect(seen).toContainEqual({
          source: expect.stringMatching(/^127\.0\.0\.1:\d+$/) as string,
          args: ['set', `${prefix}:marked:${round}`, 'value with "quotes"'],
        });
        expect(seen.some(({ args }) => args[1] === `${prefix}:noise`)).toBe(true);
      }
    } finally {
      hammering = false;
      await hammer;
      busy.disconnect();
    }
  });
});
