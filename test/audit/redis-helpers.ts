import { Redis } from 'ioredis';
import { deletePrefix, testPrefix, REDIS_URL } from '../support/redis-prefix.js';

export { REDIS_URL };

export { testPrefix };

export function connect(): Redis {
  return new Redis(REDIS_URL, { maxRetriesPerRequest: null });
}

export { deletePrefix };

/** The environment `npm run audit -- trim` runs with in these tests: one day's retention, silent. */
export function trimCliEnv(keyPrefix: string) {
  return { REDIS_URL, KEY_PREFIX: keyPrefix, LOG_LEVEL: 'silent' as const, AUDIT_RETENTION_DAYS: '1' };
}
