import { expect, it } from 'vitest';
import { windowJobId } from '../../src/shared/compliance/enforcement.js';
import { config } from './fixtures.js';
import { windowStackForFile } from './window-stack.js';

/*
 * A campaign's calling-window job is one BullMQ job for the campaign's whole life, moved back to
 * delayed at every transition, and BullMQ counts its stalls over that whole life: a third worker
 * crash that caught it, months after the first two, failed it for good ("job stalled more than
 * allowable limit"), and the campaign had no window enforced from then on. A run that ends forgets
 * the stalls of the runs before it (src/shared/redelay-job.ts); the activation's looks are checked
 * with real crashes in test/e2e/stalls-across-looks.test.ts. Real parts: the sandbox over HTTP, the
 * adjust and compliance workers; time is a ManualClock.
 */
const weekdays = config(); // America/New_York, Mon–Fri 09:00–17:00

const windowStack = windowStackForFile({ startIso: '2026-03-06T15:00:00Z' }); // Friday 10:00 EST

it('a window job that ran to its end no longer carries the stalls of its earlier runs', async () => {
  const stack = windowStack();
  const id = await stack.enforcedCampaign(weekdays);
  const queue = stack.ctx.queues.compliance;
  // Two earlier runs each lost to a worker crash, as BullMQ's stalled check counts them.
  await stack.ctx.redis.hset(queue.toKey(windowJobId(id)), 'stc', 2);
  expect((await queue.getJob(windowJobId(id)))?.stalledCounter).toBe(2);

  const next = await stack.fire(id, '2026-03-06T22:00:00Z'); // Friday 17:00 EST: the close
  expect(next.kind).not.toBe('close');

  // One more crash now would be the job's first, not its third.
  expect((await queue.getJob(windowJobId(id)))?.stalledCounter).toBe(0);
});
