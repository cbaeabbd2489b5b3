import type { Redis } from 'ioredis';
import { createAuditTrail } from '../../src/shared/audit/trail.js';
import type { AppContext } from '../../src/shared/context.js';
import { createEventPublisher } from '../../src/shared/events/publisher.js';
import { silentLogger } from '../../src/shared/logger.js';

export class ProcessDied extends Error {}

/** The dying run's end: its death (a write it no longer made that threw), or an answer (logged ones). */
export function died(err: unknown): void {
  if (!(err instanceof ProcessDied)) throw err;
}

/**
 * The context as a process sees it that dies once `dieAfter` matches a Redis command it sent: that
 * command is applied, nothing after it is (every later command, on the trail's and the publisher's
 * connection too, fails as the dead process's would never have been sent).
 */
export function dyingContext(
  ctx: AppContext,
  dieAfter: (command: string, args: unknown[]) => boolean,
): AppContext {
  let dead = false;
  const redis = new Proxy(ctx.redis, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        if (dead) throw new ProcessDied(`process died before ${String(prop)}`);
        const out = (await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args)) as unknown;
        if (dieAfter(String(prop), args)) dead = true;
        return out;
      };
    },
  }) as Redis;
  const audit = createAuditTrail({ redis, keys: ctx.keys, logger: silentLogger, clock: ctx.clock });
  const events = createEventPublisher({
    redis,
    keys: ctx.keys,
    logger: silentLogger,
    webhookQueue: ctx.queues.webhook,
    enabled: false,
    clock: ctx.clock,
  });
  return { ...ctx, redis, audit, events };
}

/** After the disappearance's `campaign.missing` is published (its record went before it). */
export const eventWritten = (command: string, args: unknown[]): boolean =>
  (command === 'evalsha' || command === 'eval') && args.includes('campaign.missing');
