import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApiApp } from '../../src/producers/app.js';
import { createAuditTrail } from '../../src/shared/audit/trail.js';
import type { ManualClock } from '../../src/shared/clock.js';
import {
  scheduleWindowEnforcement,
  windowJobId,
  windowJobOf,
} from '../../src/shared/compliance/enforcement.js';
import { getWindowState } from '../../src/shared/compliance/state-store.js';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import type { ClosableContext } from '../../src/shared/context-factory.js';
import { enqueueCommand, getCommand } from '../../src/shared/lifecycle/enqueue.js';
import { isFinished } from '../../src/shared/lifecycle/commands.js';
import { silentLogger } from '../../src/shared/logger.js';
import { config } from './fixtures.js';
import { eventually } from './redis-context.js';
import { startWindowStack, type WindowStack } from './window-stack.js';

/*
 * The whole chain on real parts: the CXone sandbox over HTTP, the real context (limiter, client,
 * audit, events), the lifecycle's adjust worker and the compliance worker. A campaign active on the
 * sandbox is paused on CXone at its window's close and resumed at the next open; an operator's resume
 * in between is refused by the API with the reason. Blackout dates on the same parts: a PATCH adding
 * one is stored in the orchestrator's record only (CXone never sees it), re-plans enforcement, keeps
 * the campaign paused through the date, refuses a resume on it naming the date, and shows in the
 * compliance report; a malformed list is refused naming each entry and queues nothing. A campaign to
 * Rhode Island recipients stays paused over the state's holiday. Time is a ManualClock; the window job
 * is promoted instead of waiting for its delay.
 */
const weekdays = config(); // America/New_York, Mon–Fri 09:00–17:00
const t = (iso: string) => Date.parse(iso);

let stack: WindowStack;
let ctx: ClosableContext;
let clock: ManualClock;
let api: FastifyInstance;

beforeAll(async () => {
  stack = await startWindowStack({ startIso: '2026-03-06T21:30:00Z' }); // Friday 16:30 EST
  ({ ctx, clock } = stack);
  api = await buildApiApp(ctx);
});

afterAll(async () => {
  await api?.close();
  await stack?.close();
});

const activeCampaign = () => stack.activeCampaign(weekdays);
const fire = (id: string, iso: string) => stack.fire(id, iso);

const statusOnCxone = async (id: string) => (await ctx.cxone.getCampaign(id)).status;
const auth = { authorization: 'Bearer compliance-test-token' };

const operatorResume = (id: string) =>
  api.inject({
    method: 'POST',
    url: `/v1/campaigns/${id}/actions`,
    headers: auth,
    payload: { action: 'resume' },
  });

/** An active campaign the close's job paused a minute ahead of the 17:00 close (its lead), Friday. */
async function pausedAheadOfClose(): Promise<string> {
  clock.set(t('2026-03-06T21:30:00Z')); // Friday 16:30 EST
  const id = await activeCampaign();
  await scheduleWindowEnforcement(ctx, id);
  await fire(id, '2026-03-06T21:59:00Z');
  await eventually(async () => ((await statusOnCxone(id)) === 'paused' ? true : undefined), 15_000);
  expect((await getWindowState(ctx, id)).closingAt).toBe(t('2026-03-06T22:00:00Z'));
  return id;
}

describe('calling-window enforcement against the sandbox', () => {
  it('pauses on CXone at the close, refuses a manual resume, resumes on CXone at the open', async () => {
    const id = await activeCampaign();
    await scheduleWindowEnforcement(ctx, id);
    expect((await ctx.queues.compliance.getJob(windowJobId(id)))?.data).toMatchObject({
      kind: 'close',
      atMs: t('2026-03-06T22:00:00Z'),
    });

    await fire(id, '2026-03-06T22:00:00Z');
    await eventually(async () => ((await statusOnCxone(id)) === 'paused' ? true : undefined), 15_000);

    // Saturday: an operator's resume is refused with the reason, nothing changes on CXone.
    clock.set(t('2026-03-07T15:00:00Z'));
    const refused = await operatorResume(id);
    expect(refused.statusCode).toBe(409);
    expect(refused.body).toMatch(/outside the campaign's calling windows/);
    expect(refused.body).toMatch(/2026-03-09T09:00:00-04:00/);
    expect(await statusOnCxone(id)).toBe('paused');

    // Once the pause landed, the lifecycle re-planned enforcement but kept the pending 30 s re-check;
    // the re-check finds the pause holding and plans the open, Monday 09:00 EDT (after the
    // spring-forward weekend).
    const { pauseCommandId } = await getWindowState(ctx, id);
    await eventually(async () => {
      const command = await getCommand(ctx, pauseCommandId ?? '');
      return command?.status === 'succeeded' ? true : undefined;
    }, 15_000);
    const job = await ctx.queues.compliance.getJob(windowJobId(id));
    expect(job && windowJobOf(job)).toMatchObject({ kind: 'verify' });
    const open = await fire(id, '2026-03-07T15:00:00Z');
    expect(open).toMatchObject({ kind: 'open', atMs: t('2026-03-09T13:00:00Z') });

    await fire(id, '2026-03-09T13:00:00Z');
    await eventually(async () => ((await statusOnCxone(id)) === 'active' ? true : undefined), 15_000);

    const trail = createAuditTrail({ redis: ctx.redis, keys: ctx.keys, logger: silentLogger });
    const kinds = (await trail.list(id))
      .filter((r) => r.action === 'compliance_action')
      .map((r) => r.details.kind);
    // The operator's refused resume is on record between them. Fired at the close itself (as a close
    // planned before leads existed is, or one whose job ran late), the pause is still judged against
    // that close when it is seen through: the campaign dialed until it landed.
    expect(kinds).toEqual(['window_pause', 'refused_resume', 'window_pause_landed', 'window_resume']);
  });

  it("refuses an operator's resume between a pause ahead of the close and the close", async () => {
    const id = await pausedAheadOfClose();

    // Still inside the hours, but resuming now would dial until the window paused it again.
    clock.set(t('2026-03-06T21:59:30Z'));
    const refused = await operatorResume(id);
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({ error: 'compliance_refused' });
    expect(refused.body).toMatch(/closes at 2026-03-06T17:00:00-05:00/);
    expect(refused.body).toMatch(/2026-03-09T09:00:00-04:00/);
    expect(await statusOnCxone(id)).toBe('paused');
  });

  it('refuses, as it applies it, a queued resume that reaches the worker between the pause ahead of the close and the close', async () => {
    const id = await pausedAheadOfClose();

    // Queued past the API (a resume accepted in the moment before the pause, say): the adjust worker
    // checks it again against the close the window paused ahead of.
    clock.set(t('2026-03-06T21:59:30Z'));
    const { commandId } = await enqueueCommand(ctx, {
      campaignId: id,
      actor: 'api:operator',
      reason: 'operator',
      action: 'resume',
    });
    const done = await eventually(async () => {
      const command = await getCommand(ctx, commandId);
      return command && isFinished(command.status) ? command : undefined;
    }, 15_000);
    expect(done.status).not.toBe('succeeded');
    expect(JSON.stringify(done)).toMatch(/closes at 2026-03-06T17:00:00-05:00/);
    expect(await statusOnCxone(id)).toBe('paused');
    const trail = createAuditTrail({ redis: ctx.redis, keys: ctx.keys, logger: silentLogger });
    const kinds = (await trail.list(id))
      .filter((r) => r.action === 'compliance_action')
      .map((r) => r.details.kind);
    expect(kinds).toContain('refused_resume');
  });
});

const adjustJobs = async () =>
  Object.values(
    await ctx.queues.adjust.getJobCounts('waiting', 'delayed', 'active', 'completed', 'failed'),
  ).reduce((a, b) => a + b, 0);

describe('blackout dates against the sandbox', () => {
  it('a PATCH adding Monday moves the planned open to Tuesday, and a resume on Monday is refused', async () => {
    clock.set(t('2026-03-06T21:30:00Z'));
    const id = await stack.enforcedCampaign(weekdays);
    await stack.pausedByTheClose(id, '2026-03-06T22:00:00Z');
    // Saturday: the window's re-check plans Monday's open.
    expect(await stack.fire(id, '2026-03-07T15:00:00Z')).toMatchObject({
      kind: 'open',
      atMs: t('2026-03-09T13:00:00Z'),
    });
    const cxoneBefore = await ctx.cxone.getCampaign(id);

    const patched = await api.inject({
      method: 'PATCH',
      url: `/v1/campaigns/${id}`,
      headers: auth,
      payload: { blackoutDates: ['2026-03-09'] },
    });
    expect(patched.statusCode).toBe(202);
    const done = await stack.settled((patched.json() as { commandId: string }).commandId);
    expect(done.status).toBe('succeeded');
    expect((await createCampaignStore(ctx).get(id))?.config.blackoutDates).toEqual(['2026-03-09']);
    // The orchestrator's own field: nothing was written to CXone.
    const cxoneAfter = await ctx.cxone.getCampaign(id);
    expect(cxoneAfter.version).toBe(cxoneBefore.version);
    expect(JSON.stringify(cxoneAfter)).not.toContain('2026-03-09');

    // The change re-planned window enforcement: the open moved to Tuesday 09:00 EDT.
    const planned = await eventually(async () => {
      const job = await ctx.queues.compliance.getJob(windowJobId(id));
      const plan = job ? windowJobOf(job) : undefined;
      return plan?.atMs === t('2026-03-10T13:00:00Z') ? plan : undefined;
    }, 15_000);
    expect(planned).toMatchObject({ kind: 'open' });

    // Monday 11:00 EDT: the law and the windows allow the hour, the blackout date does not.
    clock.set(t('2026-03-09T15:00:00Z'));
    const resume = await operatorResume(id);
    expect(resume.statusCode).toBe(409);
    expect(resume.body).toMatch(/2026-03-09 is one of its blackoutDates/);
    expect(resume.body).toMatch(/2026-03-10T09:00:00-04:00/);
    expect(await statusOnCxone(id)).toBe('paused');

    const report = await api.inject({ method: 'GET', url: `/v1/campaigns/${id}/compliance`, headers: auth });
    expect(report.statusCode).toBe(200);
    expect(report.json()).toMatchObject({
      rules: { blackoutDates: ['2026-03-09'] },
      window: { open: false, nextOpen: '2026-03-10T09:00:00-04:00' },
    });

    // Tuesday's open resumes it on CXone.
    await stack.fire(id, '2026-03-10T13:00:00Z');
    await eventually(async () => ((await statusOnCxone(id)) === 'active' ? true : undefined), 15_000);
  });

  it('a malformed list is refused naming each entry, and nothing is queued', async () => {
    clock.set(t('2026-03-06T21:30:00Z'));
    const id = await stack.activeCampaign(weekdays);
    const before = await adjustJobs();
    const refused = await api.inject({
      method: 'PATCH',
      url: `/v1/campaigns/${id}`,
      headers: auth,
      payload: { blackoutDates: ['2026-03-09', 'next monday', '2026-03-09'] },
    });
    expect(refused.statusCode).toBe(400);
    expect((refused.json() as { issues: Array<{ path: string; message: string }> }).issues).toEqual([
      { path: 'blackoutDates.1', message: 'must be a calendar date as YYYY-MM-DD, e.g. 2026-12-25' },
      { path: 'blackoutDates.2', message: 'repeats 2026-03-09: list each date once' },
    ]);
    expect(await adjustJobs()).toBe(before);
    expect((await createCampaignStore(ctx).get(id))?.config.blackoutDates).toBeUndefined();
  });
});

describe("Rhode Island's holidays against the sandbox", () => {
  it('keeps a campaign to RI recipients paused over Rhode Island Independence Day (Monday 4 May)', async () => {
    clock.set(t('2026-05-01T20:30:00Z')); // Friday 16:30 EDT
    const id = await stack.enforcedCampaign(config({ recipientStates: ['RI'] }));
    await stack.pausedByTheClose(id, '2026-05-01T21:00:00Z');
    expect(await stack.fire(id, '2026-05-02T15:00:00Z')).toMatchObject({
      kind: 'open',
      atMs: t('2026-05-05T13:00:00Z'),
    });
    clock.set(t('2026-05-04T15:00:00Z'));
    const refused = await operatorResume(id);
    expect(refused.statusCode).toBe(409);
    expect(refused.body).toMatch(/Rhode Island \(RI\) allows no calls on state or federal holidays/);
    expect(refused.body).toMatch(/2026-05-04 is Rhode Island Independence Day/);
    expect(await statusOnCxone(id)).toBe('paused');
  });
});
