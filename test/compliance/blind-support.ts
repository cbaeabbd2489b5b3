import { expect } from 'vitest';
import type { BlindWatch } from '../../src/shared/compliance/blind.js';
import { complianceKeys } from '../../src/shared/compliance/state-store.js';
import type { ClosableContext } from '../../src/shared/context-factory.js';
import { runPollCycle } from '../../src/shared/polling/poll-cycle.js';
import { scriptFaults } from '../support/sandbox-faults.js';
import { config } from './fixtures.js';
import type { WindowStack } from './window-stack.js';

/*
 * What the blind-pause tests share (docs/compliance.md, Blind pause): the sandbox's stats endpoint
 * failing and back, the campaign's blind watch as stored, and a campaign the guard paused blind.
 * Time is the stack's ManualClock from Tuesday 10:00 EST, inside the weekday window.
 */
export const weekdays = config(); // America/New_York, Mon–Fri 09:00–17:00
export const STATS = 'GET /api/v2/outbound/campaigns/:id/stats';
export const START = Date.parse('2026-03-03T15:00:00Z');
export const MIN = 60_000;

/** The helpers, on the stack `get` returns once the suite's beforeAll started it. */
export function blindHelpers(get: () => WindowStack) {
  const helpers = {
    statsFail: () => scriptFaults(get().sandbox, { failNext: 1_000, status: 503, endpoint: STATS }),
    statsBack: () => fetch(`${get().sandbox.url}/__sandbox/faults`, { method: 'DELETE' }),
    statusOnCxone: async (id: string) => (await get().ctx.cxone.getCampaign(id)).status,
    watchOf: async (id: string): Promise<BlindWatch | undefined> => {
      const { ctx } = get();
      const raw = await ctx.redis.hget(complianceKeys(ctx.keys, id).state, 'blind');
      return raw ? (JSON.parse(raw) as BlindWatch) : undefined;
    },
    /** The stack's context with its stats calls made after `meanwhile` (what happened while they waited). */
    statsAfter: (meanwhile: () => Promise<void>): ClosableContext => {
      const { ctx } = get();
      return {
        ...ctx,
        cxone: {
          ...ctx.cxone,
          getStats: async (...args: Parameters<typeof ctx.cxone.getStats>) => {
            await meanwhile();
            return ctx.cxone.getStats(...args);
          },
        },
      } as ClosableContext;
    },
    failingPoll: (id: string, c?: ClosableContext) =>
      expect(runPollCycle(c ?? get().ctx, id)).rejects.toThrow(),
    /** The guard lifted its blind pause: a guard_blind_resume whose command went through, the campaign dialing. */
    async expectBlindResumed(id: string): Promise<void> {
      const stack = get();
      const [resume] = await stack.complianceRecords(id, 'guard_blind_resume');
      expect(resume).toBeDefined();
      expect((await stack.settled(String(resume?.details.commandId))).status).toBe('succeeded');
      expect(await helpers.statusOnCxone(id)).toBe('active');
    },
    /** A polled campaign (its statistics read at START), then failing polls until the guard pauses it blind. */
    async blindPaused(): Promise<{ id: string; pauseCommandId: string }> {
      const stack = get();
      stack.clock.set(START);
      const id = await stack.polledCampaign(weekdays);
      await helpers.statsFail();
      stack.clock.set(START + 2 * MIN);
      await helpers.failingPoll(id);
      stack.clock.set(START + 5 * MIN);
      await helpers.failingPoll(id);
      const pauseCommandId = (await helpers.watchOf(id))?.pause?.commandId;
      expect(pauseCommandId).toBeDefined();
      expect((await stack.settled(pauseCommandId!)).status).toBe('succeeded');
      expect(await helpers.statusOnCxone(id)).toBe('paused');
      return { id, pauseCommandId: pauseCommandId! };
    },
  };
  return helpers;
}
