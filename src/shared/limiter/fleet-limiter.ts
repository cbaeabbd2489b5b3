import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import Bottleneck from '@maselious/bottleneck';
import type { Redis } from 'ioredis';
import type { CallPriority } from '../cxone/api.js';
import type { CxoneEndpoint } from '../cxone/wire.js';
import { createKeys } from '../keys.js';
import { createRedis } from '../redis.js';
import { EndpointLimiter } from './endpoint-limiter.js';
import { isOperatorCall, OperatorMetrics } from './operator-metrics.js';
import { withLimiterScripts } from './scripts.js';
import { computeSpacing } from './spacing.js';
import {
  type FleetLimiter,
  type FleetLimiterOptions,
  LimiterClosedError,
  MAX_PENALTY_MS,
  type ScheduleOptions,
} from './types.js';

/** How long a waiting call rides out a Redis outage by default. */
export const DEFAULT_REDIS_OUTAGE_MAX_MS = 30_000;

export { MAX_PENALTY_MS };

/**
 * The fleet-wide CXone rate limiter (docs/limiter.md). One per process; every process built with the
 * same redisUrl + prefix shares the budget of each endpoint. Connections: one for our scripts, and
 * one client + one subscriber per Bottleneck lane, shared by the clustered limiters of all endpoints
 * (one lane at any realistic CXone rate; see EndpointSpacing.lanes).
 */
export function createFleetLimiter(opts: FleetLimiterOptions): FleetLimiter {
  const keys = createKeys(opts.prefix);
  const spacing = computeSpacing(opts.perWindow, opts.windowMs);
  const logger = opts.logger.child({ component: 'fleet-limiter' });
  const redis = withLimiterScripts(createRedis(opts.redisUrl, { connectionName: 'cxo-limiter' }));
  const connections: Bottleneck.IORedisConnection[] = [];
  const clientId = randomUUID().replace(/-/g, '').slice(0, 16);
  const abort = new AbortController();
  // Every waiting call listens on this signal (and removes its listener when served); hundreds of
  // waiters are normal under load, not a leak.
  setMaxListeners(0, abort.signal);
  const endpoints = new Map<CxoneEndpoint, EndpointLimiter>();

  let lastErrorLogAt = 0;
  const onRedisError = (err: Error) => {
    if (Date.now() - lastErrorLogAt < 5_000) return;
    lastErrorLogAt = Date.now();
    logger.warn({ err: err.message }, 'limiter Redis connection error (reconnecting)');
  };
  redis.on('error', onRedisError);
  // Extra lanes are opened when the first endpoint needs them, so a process that never calls CXone
  // (the API role) holds one Bottleneck connection, as before lanes existed.
  const openLanes = (count: number) => {
    while (connections.length < count) {
      const connection = new Bottleneck.IORedisConnection({
        client: createRedis(opts.redisUrl, {
          connectionName: `cxo-limiter-bottleneck${connections.length === 0 ? '' : `-${connections.length}`}`,
        }),
      });
      connection.on('error', onRedisError);
      connections.push(connection);
    }
  };
  openLanes(1);

  // Connection health for the outage bound: down from the first close/error until the next ready.
  let downSince: number | undefined;
  const markDown = () => {
    if (redis.status !== 'ready') downSince ??= Date.now();
  };
  redis.on('close', markDown);
  redis.on('reconnecting', markDown);
  redis.on('error', markDown);
  redis.on('ready', () => {
    downSince = undefined;
  });
  const redisDownForMs = () => (downSince === undefined ? 0 : Date.now() - downSince);

  function forEndpoint(endpoint: CxoneEndpoint): EndpointLimiter {
    let limiter = endpoints.get(endpoint);
    if (!limiter) {
      openLanes(spacing.lanes);
      limiter = new EndpointLimiter({
        endpoint,
        baseKey: keys.limiter(endpoint),
        spacing,
        redis,
        connections,
        clientId,
        logger,
        signal: abort.signal,
        outageMaxMs: opts.redisOutageMaxMs ?? DEFAULT_REDIS_OUTAGE_MAX_MS,
        redisDownForMs,
      });
      endpoints.set(endpoint, limiter);
    }
    return limiter;
  }

  logger.debug({ ...spacing }, 'fleet limiter ready');

  return {
    async schedule<T>(
      endpoint: CxoneEndpoint,
      priority: CallPriority,
      fn: () => Promise<T>,
      scheduleOpts?: ScheduleOptions,
    ): Promise<T> {
      if (abort.signal.aborted) {
        const err = new LimiterClosedError();
        // Refused before any endpoint limiter saw it; an operator's call is still one that got no slot.
        const maxWaitMs = scheduleOpts?.maxWaitMs ?? Infinity;
        if (isOperatorCall(spacing.leaseSlots, priority, maxWaitMs)) {
          new OperatorMetrics(endpoint).gaveUp(err);
        }
        throw err;
      }
      await forEndpoint(endpoint).acquire(priority, scheduleOpts);
      return fn();
    },

    async penalize(endpoint: CxoneEndpoint, ms: number): Promise<void> {
      const bounded = Math.min(MAX_PENALTY_MS, Math.max(1, Math.ceil(ms)));
      endpoints.get(endpoint)?.penalized(bounded);
      await redis.cxoPenalize(`${keys.limiter(endpoint)}:penalty`, bounded);
      logger.info({ endpoint, penaltyMs: bounded }, 'endpoint penalized fleet-wide after a 429');
    },

    async close(): Promise<void> {
      if (abort.signal.aborted) return;
      abort.abort();
      await Promise.allSettled([...endpoints.values()].map((l) => l.close()));
      endpoints.clear();
      // Retiring a Bottleneck instance sends its UNSUBSCRIBEs without waiting for them; closing the
      // connection under them rejects each one with nobody listening. A PING queued behind them is
      // answered once they are (bounded: with Redis down nothing is answered).
      await Promise.all(
        connections.map((c) => {
          const subscriber = (c as unknown as { subscriber?: Redis }).subscriber;
          if (subscriber?.status !== 'ready') return undefined;
          return Promise.race([subscriber.ping().catch(() => undefined), sleep(1_000)]);
        }),
      );
      await Promise.all(connections.map((c) => c.disconnect(false).catch(() => undefined)));
      // QUIT waits for Redis to answer; with Redis down it would wait forever.
      if (redis.status === 'ready') {
        await Promise.race([redis.quit().catch(() => undefined), sleep(1_000)]);
      }
      redis.disconnect();
    },
  };
}
