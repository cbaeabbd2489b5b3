import { Redis } from 'ioredis';
import { redisAnswers } from '../../src/shared/redis.js';

/** Shuts down a redis-server a test started (through the code under test) if it still answers. */
export async function stopRedisAt(port: number): Promise<void> {
  if (!(await redisAnswers(`redis://127.0.0.1:${port}`, 300))) return;
  const redis = new Redis(port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => null });
  redis.on('error', () => undefined);
  await redis.call('SHUTDOWN', 'NOSAVE').catch(() => undefined);
  redis.disconnect();
}
