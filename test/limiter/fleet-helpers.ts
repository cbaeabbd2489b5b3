import { Redis } from 'ioredis';
import { createFleetLimiter } from '../../src/shared/limiter/fleet-limiter.js';
import { LimiterUnavailableError, type FleetLimiter } from '../../src/shared/limiter/types.js';
import type { CxoneEndpoint } from '../../src/shared/cxone/wire.js';
import { silentLogger } from '../../src/shared/logger.js';
import { registry } from '../../src/shared/metrics.js';
import { REDIS_URL, testPrefix } from '../cxone/harness.js';
import { deletePrefixAt } from '../support/redis-prefix.js';
import { startTcpProxy } from '../support/tcp-proxy.js';

/**
 * Fleet limiters for one test at a time: separate instances (separate Redis connections and client
 * ids, as in separate processes) sharing a private prefix. `close` (in afterEach) closes them and
 * deletes their keys.
 */
export function limiterFleets(tag: string, perWindow: number, windowMs: number) {
  let limiters: FleetLimiter[] = [];
  let prefix = '';
  return {
    start(n: number): FleetLimiter[] {
      prefix = testPrefix(tag);
      limiters = Array.from({ length: n }, () =>
        createFleetLimiter({ redisUrl: REDIS_URL, prefix, perWindow, windowMs, logger: silentLogger }),
      );
      return limiters;
    },
    get prefix(): string {
      return prefix;
    },
    async close(): Promise<void> {
      await Promise.all(limiters.map((l) => l.close()));
      limiters = [];
      if (prefix) await deletePrefixAt(prefix);
      prefix = '';
    },
  };
}

/**
 * A fleet limiter (600 calls a minute per endpoint) under a private prefix whose Redis is reached
 * through a TCP proxy the test can cut and restore, and a direct connection to read its keys with.
 * The prefix's keys, the connection and the proxy are put on `cleanup` (run in reverse after the test);
 * closing the limiter is the test's.
 */
export async function limiterBehindProxy(
  tag: string,
  cleanup: Array<() => Promise<unknown>>,
  opts: { redisOutageMaxMs?: number } = {},
) {
  const prefix = testPrefix(tag);
  const proxy = await startTcpProxy();
  const redis = new Redis(REDIS_URL);
  cleanup.push(
    () => deletePrefixAt(prefix),
    () => redis.quit(),
    () => proxy.close(),
  );
  const limiter = createFleetLimiter({
    redisUrl: proxy.url,
    prefix,
    perWindow: 600,
    windowMs: 60_000,
    logger: silentLogger,
    ...opts,
  });
  return { prefix, proxy, redis, limiter };
}

/**
 * After an outage: schedules one control call on `endpoint` until it is made. Until the limiter's
 * connection is back a call still gives up at once (LimiterUnavailableError, anything else fails the
 * test); the call that goes through is served after whatever calls abandoned during the outage had
 * queued, so once it is made any slot they took is in the log.
 */
export async function untilServedAfterOutage(limiter: FleetLimiter, endpoint: CxoneEndpoint): Promise<void> {
  for (;;) {
    const outcome = await limiter.schedule(endpoint, 'control', async () => 'made').catch((e: unknown) => e);
    if (outcome === 'made') return;
    if (!(outcome instanceof LimiterUnavailableError)) throw outcome;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Largest number of starts inside any half-open interval of `span` ms. */
export function maxInSpan(starts: number[], span: number): number {
  const sorted = [...starts].sort((a, b) => a - b);
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < sorted.length; hi++) {
    while ((sorted[hi] as number) - (sorted[lo] as number) >= span) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

/**
 * The sum of a metric's series in the process's registry whose labels include `labels`, read with
 * prom-client's `get()` rather than by scraping text. `series` picks a histogram's part (`count`,
 * `sum`); counters have none. Metrics are per process and these tests run several limiters in one,
 * so tests compare a reading before and after what they measure.
 */
export async function metricValue(
  name: string,
  labels: Record<string, string>,
  series?: 'count' | 'sum',
): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name} in the registry`);
  const metricName = series ? `${name}_${series}` : name;
  const { values } = await metric.get();
  return (
    values
      // A histogram's values carry their series' name (`_bucket`, `_sum`, `_count`); its typings omit it.
      .filter((v) => ((v as { metricName?: string }).metricName ?? name) === metricName)
      .filter((v) => Object.entries(labels).every(([key, value]) => v.labels[key] === value))
      .reduce((sum, v) => sum + v.value, 0)
  );
}
