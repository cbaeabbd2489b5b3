import { expect, it } from 'vitest';
import { windowJobId, windowJobOf } from '../../src/shared/compliance/enforcement.js';
import { config } from './fixtures.js';
import { eventually } from './redis-context.js';
import { windowStackForFile } from './window-stack.js';

/*
 * A calling-window job BullMQ gives up on for its stall limit (its runs kept killing or hanging
 * their workers) is failed when next taken, without running: no run plans the next transition. Left
 * so, an active campaign had no close ahead of its window's end (it dialed on until a poll found it
 * outside its hours) and one the window had paused was never resumed. The compliance worker plans
 * it again from the campaign's config. Real parts: the sandbox over HTTP, Redis, the adjust and
 * compliance workers; time is a ManualClock.
 */
const weekdays = config(); // America/New_York, Mon–Fri 09:00–17:00

const windowStack = windowStackForFile({ startIso: '2026-03-06T15:00:00Z' }); // Friday 10:00 EST

it('a window job failed for its stall limit is planned again at the campaign’s next transition', async () => {
  const stack = windowStack();
  const id = await stack.enforcedCampaign(weekdays);
  const queue = stack.ctx.queues.compliance;
  const planned = await queue.getJob(windowJobId(id));
  expect(planned && windowJobOf(planned)).toMatchObject({ kind: 'close' });
  // As BullMQ's stalled check leaves a job after its third stall: to be failed, unrun, when next taken.
  await stack.ctx.redis.hset(
    queue.toKey(windowJobId(id)),
    'stc',
    3,
    'defa',
    'job stalled more than allowable limit',
  );
  await planned!.promote();

  const again = await eventually(async () => {
    const job = await queue.getJob(windowJobId(id));
    return job && (await job.getState()) === 'delayed' && job.stalledCounter === 0 ? job : undefined;
  });
  expect(windowJobOf(again)).toEqual(windowJobOf(planned!));
  expect(again.failedReason).toBeUndefined();
  // Nothing ran: the campaign still dials, inside its hours.
  expect((await stack.ctx.cxone.getCampaign(id)).status).toBe('active');
});
