import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/sandbox/types.js';
import { createAuditTrail } from '../../src/shared/audit/trail.js';
import type { ManualClock } from '../../src/shared/clock.js';
import {
  scheduleWindowEnforcement,
  windowJobId,
  windowJobOf,
  type WindowJob,
} from '../../src/shared/compliance/enforcement.js';
import { getWindowState } from '../../src/shared/compliance/state-store.js';
import type { ClosableContext } from '../../src/shared/context-factory.js';
import { getCommand } from '../../src/shared/lifecycle/enqueue.js';
import { silentLogger } from '../../src/shared/logger.js';
import { runPollCycle } from '../../src/shared/polling/poll-cycle.js';
import { changeAs, CONSOLE } from '../sandbox/helpers.js';
import { config } from './fixtures.js';
import { eventually } from './redis-context.js';
import { startWindowStack, type WindowStack } from './window-stack.js';

/*
 * TCPA: a campaign paused by its window's close and then resumed directly in CXone (its console, by
 * a second client of the same tenant) while the window is still closed must be paused again by the
 * next statistics poll — not left dialing until the window job's next planned firing at the open.
 * Real parts throughout: the sandbox over HTTP, the real context, the adjust and compliance workers;
 * time is a ManualClock and window jobs are promoted instead of waited for.
 */
const weekdays = config(); // America/New_York, Mon–Fri 09:00–17:00
const t = (iso: string) => Date.parse(iso);

let stack: WindowStack;
let sandbox: RunningSandbox;
let ctx: ClosableContext;
let clock: ManualClock;

beforeAll(async () => {
  stack = await startWindowStack({
    startIso: '2026-03-06T21:30:00Z', // Friday 16:30 EST
    withConsole: true,
  });
  ({ sandbox, ctx, clock } = stack);
});

afterAll(async () => {
  await stack?.close();
});

const activeCampaign = () => stack.activeCampaign(weekdays);
const fire = (id: string, iso: string) => stack.fire(id, iso);

async function windowPlan(id: string): Promise<WindowJob | undefined> {
  const job = await ctx.queues.compliance.getJob(windowJobId(id));
  return job ? windowJobOf(job) : undefined;
}

/** What someone in CXone's console does: their own client, a fresh read, a versioned PATCH. */
async function resumeFromConsole(id: string): Promise<number> {
  const res = await changeAs(sandbox, CONSOLE, id, { status: 'active' });
  expect(res.status).toBe(200);
  return res.body.version as number;
}

const statusOnCxone = async (id: string) => (await ctx.cxone.getCampaign(id)).status;

describe('a campaign resumed in CXone outside its calling window', () => {
  it('is paused again by the next poll, not left dialing until the next open', async () => {
    const id = await activeCampaign();
    await scheduleWindowEnforcement(ctx, id);

    // Friday 17:00 EST: the window closes and enforcement pauses the campaign on CXone.
    const afterClose = await fire(id, '2026-03-06T22:00:00Z');
    expect(afterClose.kind).toBe('verify');
    await eventually(async () => ((await statusOnCxone(id)) === 'paused' ? true : undefined), 15_000);
    const { pauseCommandId } = await getWindowState(ctx, id);
    await eventually(async () => {
      const command = await getCommand(ctx, pauseCommandId ?? '');
      return command?.status === 'succeeded' ? true : undefined;
    }, 15_000);
    // The lifecycle's re-plan after our own pause kept the pending re-check.
    expect(await windowPlan(id)).toMatchObject({ kind: 'verify', atMs: afterClose.atMs });

    // The re-check sees the pause holding and plans the next open: Monday 09:00 EDT.
    expect(await fire(id, '2026-03-06T22:00:30Z')).toMatchObject({
      kind: 'open',
      atMs: t('2026-03-09T13:00:00Z'),
    });

    // Friday 18:30 EST: someone resumes it in CXone's console. Nothing of ours is due before Monday.
    clock.set(t('2026-03-06T23:30:00Z'));
    const resumedVersion = await resumeFromConsole(id);
    expect(await statusOnCxone(id)).toBe('active');

    const outcome = await runPollCycle(ctx, id);
    await eventually(async () => ((await statusOnCxone(id)) === 'paused' ? true : undefined), 15_000);
    expect(outcome).toMatchObject({ kind: 'polled', status: 'active', outsideWindow: true });
    const resource = await ctx.cxone.getCampaign(id);
    expect(resource.version).toBeGreaterThan(resumedVersion);

    const trail = createAuditTrail({ redis: ctx.redis, keys: ctx.keys, logger: silentLogger });
    const pauses = (await trail.list(id)).filter(
      (r) => r.action === 'compliance_action' && r.details.kind === 'window_pause',
    );
    expect(pauses).toHaveLength(2);
    expect(pauses[1]?.details).toMatchObject({
      localTime: '2026-03-06T18:30:00-05:00',
      lateByMs: 0,
      nextOpen: '2026-03-09T09:00:00-04:00',
    });
  });
});
