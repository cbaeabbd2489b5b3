import { Redis } from 'ioredis';
import { deletePrefix, testPrefix } from '../support/redis-prefix.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export { testPrefix };

export function connect(): Redis {
  return new Redis(REDIS_URL, { maxRetriesPerRequest: null });
}

export { deletePrefix };
