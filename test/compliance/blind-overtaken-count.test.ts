import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { noteBlindPauseOvertaken } from '../../src/shared/compliance/blind-actions.js';
import { complianceKeys } from '../../src/shared/compliance/state-store.js';
import type { ClosableContext } from '../../src/shared/context-factory.js';
import { runPollCycle } from '../../src/shared/polling/poll-cycle.js';
import { blindHelpers, MIN, START } from './blind-support.js';
import { startWindowStack, type WindowStack } from './window-stack.js';

/*
 * The blind watch is read, changed and written whole by a failed poll's count, under the watch's lock
 * (docs/compliance.md, Blind pause); the lifecycle notes on it that someone else's command changed a
 * blind-paused campaign's status (`overtakenBy`). That note must survive a count running at the same
 * moment: lost, the statistics coming back lift the blind pause over the operator's own pause.
 * Real parts: the sandbox over HTTP, real Redis, the adjust and compliance workers; a ManualClock at
 * Tuesday 10:00 EST, inside the window.
 */
let stack: WindowStack;
let ctx: ClosableContext;
const { statsFail, statsBack, statusOnCxone, watchOf, failingPoll, blindPaused } = blindHelpers(() => stack);

beforeAll(async () => {
  stack = await startWindowStack({ startIso: '2026-03-03T15:00:00Z' });
  ({ ctx } = stack);
});
afterAll(async () => {
  await stack?.close();
});
afterEach(async () => {
  await statsBack();
});

describe('an operator’s pause of a blind-paused campaign, noted while a failed poll is counted', () => {
  it('is kept: the count does not write the note away, and the statistics coming back leave it paused', async () => {
    const { id } = await blindPaused();
    const hash = complianceKeys(ctx.keys, id).state;
    const operator = { actor: 'api:bob', reason: 'operator', commandId: 'pause-by-bob' };
    // The note's script is in Redis's cache already, as it is on a running fleet: sent as one command.
    await noteBlindPauseOvertaken(ctx, 'warm-the-script-cache', operator);

    // The operator's pause (found in place) is noted right after the count read the watch.
    let noting: Promise<void> | undefined;
    const redis = new Proxy(ctx.redis, {
      get(target, prop) {
        const real = Reflect.get(target, prop, target) as unknown;
        if (typeof real !== 'function') return real;
        const fn = (real as (...a: unknown[]) => unknown).bind(target);
        if (prop !== 'hget') return fn;
        return async (...args: unknown[]) => {
          const answer = await fn(...args);
          if (noting === undefined && args[0] === hash && args[1] === 'blind') {
            noting = noteBlindPauseOvertaken(ctx, id, operator);
          }
          return answer;
        };
      },
    });
    stack.clock.set(START + 7 * MIN);
    await failingPoll(id, { ...ctx, redis } as ClosableContext);
    await noting;
    expect((await watchOf(id))?.pause?.overtakenBy).toEqual(operator);
    expect((await watchOf(id))?.failedPolls).toBe(3);

    await statsBack();
    stack.clock.set(START + 9 * MIN);
    await runPollCycle(ctx, id);
    expect(await stack.complianceRecords(id, 'guard_blind_resume')).toHaveLength(0);
    const [kept] = await stack.complianceRecords(id, 'guard_blind_pause_kept');
    expect(kept?.details).toMatchObject({ kept: 'overtaken' });
    expect(await statusOnCxone(id)).toBe('paused');
    await statsFail(); // (the helpers' afterEach clears it)
  });
});
