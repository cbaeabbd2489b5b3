import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/sandbox/types.js';
import { createAuditTrail } from '../../src/shared/audit/trail.js';
import { scheduleWindowEnforcement } from '../../src/shared/compliance/enforcement.js';
import { getWindowState } from '../../src/shared/compliance/state-store.js';
import type { ClosableContext } from '../../src/shared/context-factory.js';
import { getCommand } from '../../src/shared/lifecycle/enqueue.js';
import { silentLogger } from '../../src/shared/logger.js';
import { changeAs, CONSOLE } from '../sandbox/helpers.js';
import { config } from './fixtures.js';
import { eventually } from './redis-context.js';
import { startWindowStack, type WindowStack } from './window-stack.js';

/*
 * An operator pauses a campaign in CXone's console moments before its window's close, after the last
 * poll: the orchestrator's record still says active, so the close's job issues the window's pause,
 * which finds the campaign paused already. That pause is the operator's, not the window's: the next
 * open must not resume it. Real parts: the sandbox over HTTP, the adjust and compliance workers.
 */
const weekdays = config(); // America/New_York, Mon–Fri 09:00–17:00
const t = (iso: string) => Date.parse(iso);

let stack: WindowStack;
let sandbox: RunningSandbox;
let ctx: ClosableContext;

beforeAll(async () => {
  stack = await startWindowStack({
    startIso: '2026-03-06T21:30:00Z', // Friday 16:30 EST
    withConsole: true,
  });
  ({ sandbox, ctx } = stack);
});

afterAll(async () => {
  await stack?.close();
});

const statusOnCxone = async (id: string) => (await ctx.cxone.getCampaign(id)).status;

describe('a campaign paused in CXone just before its close', () => {
  it('is not resumed by the window at the next open: the pause is the operator’s', async () => {
    const id = await stack.activeCampaign(weekdays);
    await scheduleWindowEnforcement(ctx, id);

    // Friday 16:59 EST: paused in the console; no poll has seen it, the record still says active.
    stack.clock.set(t('2026-03-06T21:59:00Z'));
    expect((await changeAs(sandbox, CONSOLE, id, { status: 'paused' })).status).toBe(200);

    // The close's job issues the window's pause, which finds the campaign paused already.
    // Its command id is taken from the queue, not the window state: a quick adjust worker finds the
    // campaign paused and lets go of the claim (clearing the state's id) before a read here.
    await stack.fire(id, '2026-03-06T21:59:20Z');
    const pauses = (
      await ctx.queues.adjust.getJobs(['waiting', 'delayed', 'prioritized', 'active', 'completed'])
    )
      .map((j) => j.data as { action?: string; commandId?: string })
      .filter((d) => d.action === 'pause');
    expect(pauses).toHaveLength(1);
    const pauseCommandId = pauses[0]?.commandId;
    expect(pauseCommandId).toBeDefined();
    await eventually(async () => {
      const command = await getCommand(ctx, pauseCommandId ?? '');
      return command?.status === 'succeeded' ? true : undefined;
    }, 15_000);

    // Its re-checks and Monday's 09:00 EDT open leave the campaign paused.
    await stack.fire(id, '2026-03-06T21:59:50Z');
    expect((await getWindowState(ctx, id)).pauseCommandId).toBeUndefined();
    const atOpen = await stack.fire(id, '2026-03-09T13:00:00Z');
    expect(atOpen).toMatchObject({ kind: 'close', atMs: t('2026-03-09T21:00:00Z') });
    const resumes = (
      await ctx.queues.adjust.getJobs(['waiting', 'delayed', 'prioritized', 'active', 'completed'])
    )
      .map((j) => j.data as { action?: string })
      .filter((d) => d.action === 'resume');
    expect(resumes).toEqual([]);
    expect(await statusOnCxone(id)).toBe('paused');

    // Recorded: the window let go of a pause that was not its own.
    const trail = createAuditTrail({ redis: ctx.redis, keys: ctx.keys, logger: silentLogger });
    const released = (await trail.list(id)).filter(
      (r) => r.action === 'compliance_action' && r.details.kind === 'window_pause_released',
    );
    expect(released).toHaveLength(1);
    expect(released[0]?.details).toMatchObject({ commandId: pauseCommandId, foundPaused: true });
  });
});
