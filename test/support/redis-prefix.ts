import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { deletePrivatePrefix, deletePrivatePrefixAt } from '../../src/shared/private-prefix.js';

/** The Redis every test uses: REDIS_URL, or the local one. */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** The test run's name, set by the global setup (test/support/leak-guard.ts) for its workers. */
export const TEST_RUN_ENV = 'CXO_TEST_RUN';

/** How every prefix testPrefix makes during one run begins. */
export function testRunPrefixStart(run: string): string {
  return `{cxo-test-${run}-`;
}

/**
 * A private, hash-tagged key prefix for one test: `{cxo-test-<run>-<tag>-<random>}`. The run's name
 * lets the global teardown find what this run left behind, and only that; without one (a process
 * started outside vitest) the prefix is `{cxo-test-<tag>-<random>}`.
 */
export function testPrefix(tag?: string): string {
  const run = process.env[TEST_RUN_ENV];
  return `${run ? testRunPrefixStart(run) : '{cxo-test-'}${tag ? `${tag}-` : ''}${randomUUID().slice(0, 8)}}`;
}

/**
 * Deletes every key under a test prefix, Bottleneck's `b_{…}` keys included (SCAN; never FLUSHDB or
 * FLUSHALL: the database is shared with every other test file and with the developer's own data).
 * Refuses anything but a private `{cxo-…}` prefix: an empty one would match every key in the database.
 */
export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  await deletePrivatePrefix(redis, prefix);
}

/** deletePrefix over a connection of its own, for a harness that keeps none open to the end. */
export async function deletePrefixAt(prefix: string): Promise<void> {
  await deletePrivatePrefixAt(REDIS_URL, prefix);
}
