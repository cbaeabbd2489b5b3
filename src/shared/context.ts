import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { AuditTrail } from './audit/types.js';
import type { Clock } from './clock.js';
import type { AppConfig } from './config.js';
import type { CxoneApi } from './cxone/api.js';
import type { EventPreparer, EventPublisher } from './events/types.js';
import type { Keys, QueueName } from './keys.js';
import type { Logger } from './logger.js';

/**
 * Everything a route or a worker needs, built once per process (see `createContext` in
 * context-factory.ts) and passed down explicitly; no module reaches for globals.
 */
export interface AppContext {
  config: AppConfig;
  logger: Logger;
  /** General-purpose Redis connection (not for BullMQ blocking use). */
  redis: Redis;
  keys: Keys;
  queues: Record<QueueName, Queue>;
  cxone: CxoneApi;
  audit: AuditTrail;
  events: EventPublisher & EventPreparer;
  clock: Clock;
}
