import { Redis, type RedisOptions } from 'ioredis';

/**
 * Connections for BullMQ workers must use `maxRetriesPerRequest: null` (blocking commands); the same
 * setting is harmless elsewhere and makes every connection ride out a Redis restart by reconnecting.
 */
export function createRedis(url: string, extra: RedisOptions = {}): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(200 * times, 2000),
    reconnectOnError: (err) => /READONLY|LOADING/.test(err.message),
    ...extra,
  });
}

/** Pings Redis once with a short deadline; resolves false instead of hanging when nobody answers. */
export async function redisAnswers(url: string, timeoutMs = 1500): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: timeoutMs,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}
