import type { Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditInput } from '../../src/shared/audit/types.js';
import type { AppContext } from '../../src/shared/context.js';
import { createLaunchStore } from '../../src/shared/launch-store.js';
import { createLaunchWorker } from '../../src/workers/launch-worker.js';
import { FAST_LOCKS, startStack, type Stack } from '../e2e/stack.js';
import { lastAttemptLaunch } from './last-attempt.js';

/**
 * A launch job BullMQ gives up on (its stall limit) just before the worker closes: the worker's
 * `failed` handler records the launch as failed, and close() waits for it, so the record is whole
 * when close() resolves and nothing is written after.
 */
describe('closing the launch worker', () => {
  let stack: Stack;
  let worker: Worker | undefined;
  beforeAll(async () => {
    stack = await startStack({ api: false });
  });
  afterAll(async () => {
    await worker?.close(true);
    await stack?.close();
  });

  it('waits for the outcome of a launch job BullMQ gave up on, and writes nothing after', async () => {
    const { launchId } = await lastAttemptLaunch(stack.ctx);
    // What BullMQ 6 leaves on a job past its stall limit: a deferred failure, applied by the next
    // worker that takes the job without running the processor.
    await stack.redis.hset(
      stack.ctx.queues.launch.toKey(launchId),
      'defa',
      'job stalled more than allowable limit',
    );

    // The seam: the handler's audit record waits until BullMQ's own close() is done; its last
    // write, the launch's failed event, says when the handler is.
    let entered!: () => void;
    const handlerEntered = new Promise<void>((resolve) => (entered = resolve));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const audit = Object.create(stack.ctx.audit) as AppContext['audit'] & {
      appendWithOutcome(input: AuditInput): Promise<unknown>;
    };
    const realAudit = stack.ctx.audit as typeof audit;
    audit.appendWithOutcome = async (input: AuditInput) => {
      if (input.action === 'launch_failed') {
        entered();
        await gate;
      }
      return realAudit.appendWithOutcome(input);
    };
    let published = false;
    const events = Object.create(stack.ctx.events) as AppContext['events'];
    events.publish = async (...args: Parameters<AppContext['events']['publish']>) => {
      const out = await stack.ctx.events.publish(...args);
      if (args[0] === 'campaign.launch.failed') published = true;
      return out;
    };
    // The failure's event is written by the script that records the outcome (launch-store.ts finish).
    events.prepare = (...args: Parameters<AppContext['events']['prepare']>) => {
      const event = stack.ctx.events.prepare(...args);
      return {
        ...event,
        afterWrite: async () => {
          await event.afterWrite();
          if (args[0] === 'campaign.launch.failed') published = true;
        },
      };
    };
    const ctx: AppContext = { ...stack.ctx, audit, events };

    worker = createLaunchWorker(ctx, FAST_LOCKS);
    worker.once('closed', () => release());
    await handlerEntered;
    expect(await stack.ctx.queues.launch.getJob(launchId).then((j) => j?.getState())).toBe('failed');

    await worker.close();
    expect(published).toBe(true);
    // Whatever reaches Redis through the worker's connection from now on was written after close().
    const redis = stack.ctx.redis as unknown as { sendCommand: (...args: unknown[]) => unknown };
    const sentAfterClose: string[] = [];
    const sendCommand = redis.sendCommand.bind(redis);
    redis.sendCommand = (...args: unknown[]) => {
      sentAfterClose.push((args[0] as { name: string }).name);
      return sendCommand(...args);
    };
    try {
      const launch = await createLaunchStore({ ...stack.ctx, redis: stack.redis }).get(launchId);
      expect(launch).toMatchObject({ status: 'failed' });
      expect(launch?.error).toMatch(/given up: job stalled more than allowable limit/);
      expect(sentAfterClose).toEqual([]);
    } finally {
      redis.sendCommand = sendCommand;
    }
  });
});
