import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { keysStartingWith } from '../../src/shared/private-prefix.js';
import { redactUrl } from '../../src/shared/redact-url.js';
import { checkRedis } from '../../src/shared/redis.js';
import { REDIS_URL, TEST_RUN_ENV, testRunPrefixStart } from './redis-prefix.js';

/**
 * Pure: what a run is told when Redis does not answer. Without it a newcomer's `npm test` (README: it
 * needs only a reachable REDIS_URL) showed only hundreds of integration failures — hook timeouts,
 * readiness mismatches — none of which named Redis; it is said before the tests and again last.
 */
export function redisMissingNotice(url: string, reason: string): string {
  return (
    `The tests cannot use Redis at ${redactUrl(url)} (${reason}): the integration tests will fail. ` +
    'Start one (e.g. `redis-server --daemonize yes`) or set REDIS_URL to a Redis that answers it.'
  );
}

/**
 * Vitest global setup: names this run (testPrefix puts the name in every prefix it makes, in the
 * test workers and in the processes they spawn, which inherit the environment), and once every test
 * file has finished, fails the run if any key under one of its prefixes is left in Redis. Only this
 * run's keys are looked at: other runs, and other people's tests, may share the database and be
 * halfway through theirs. What is found is listed, then deleted, so a failing run leaves nothing
 * behind either.
 */
export default async function setup(): Promise<() => Promise<void>> {
  // Each vitest project runs this set-up; the projects of one run share its name, so every teardown
  // looks at the keys of all of them (what one deletes, the next does not find again).
  const run = process.env[TEST_RUN_ENV] ?? randomUUID().slice(0, 8);
  process.env[TEST_RUN_ENV] = run;
  const check = await checkRedis(REDIS_URL);
  // ioredis's own word for a refused connection is "Connection is closed.", which says nothing here.
  const notice = check.ok
    ? undefined
    : redisMissingNotice(
        REDIS_URL,
        check.problem === 'unreachable' ? 'nothing answers there' : check.message,
      );
  if (notice) console.error(notice);
  return async () => {
    if (notice) console.error(notice);
    const redis = new Redis(REDIS_URL, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      connectTimeout: 1_500,
      retryStrategy: () => null,
      enableOfflineQueue: false,
    });
    redis.on('error', () => undefined);
    try {
      try {
        await redis.connect();
      } catch {
        // Without Redis the integration tests failed already; a run of unit tests alone wrote nothing.
        return;
      }
      const start = testRunPrefixStart(run);
      const keys = [
        ...(await keysStartingWith(redis, start)),
        ...(await keysStartingWith(redis, `b_${start}`)),
      ].sort();
      if (keys.length === 0) return;
      const listed = await Promise.all(
        keys
          .slice(0, 50)
          .map(async (key) => `  ${key} (${await redis.type(key)}, ttl ${await redis.ttl(key)} s)`),
      );
      for (let i = 0; i < keys.length; i += 500) await redis.unlink(...keys.slice(i, i + 500));
      // Vitest logs an error thrown by a global teardown but still exits 0; the exit code is set here.
      process.exitCode = 1;
      console.error(
        [
          `${keys.length} Redis key(s) outlived the tests that wrote them (now deleted):`,
          ...listed,
          ...(keys.length > listed.length ? [`  … and ${keys.length - listed.length} more`] : []),
          'A harness closed its Redis connection too late (after deleting its keys, with a worker or a',
          'delivery still running) or never deleted them. Find the test by the key names; testPrefix tags help.',
        ].join('\n'),
      );
    } finally {
      redis.disconnect();
    }
  };
}
