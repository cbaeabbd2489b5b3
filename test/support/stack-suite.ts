import { afterAll, beforeAll } from 'vitest';
import { startStack, type Stack, type StackOptions } from '../e2e/stack.js';

/**
 * One stack (test/e2e/stack.ts startStack(opts)) for the tests of the calling file or suite, started
 * before them and closed after them. Read `stack` from the returned object inside the tests (it is
 * set by the beforeAll); `queued()` counts the launch queue's jobs not yet done (waiting, delayed,
 * active, prioritized): without a launch worker, every launch the API enqueued.
 */
export function stackForSuite(opts: StackOptions = {}): {
  readonly stack: Stack;
  queued(): Promise<number>;
} {
  const suite = {
    async queued(): Promise<number> {
      const counts = await suite.stack.ctx.queues.launch.getJobCounts(
        'waiting',
        'delayed',
        'active',
        'prioritized',
      );
      return Object.values(counts).reduce((a, b) => a + b, 0);
    },
  } as { stack: Stack; queued(): Promise<number> };
  beforeAll(async () => {
    suite.stack = await startStack(opts);
  });
  afterAll(async () => {
    await suite.stack?.close();
  });
  return suite;
}
