import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApiApp } from '../../src/producers/app.js';
import type { RunningSandbox } from '../../src/sandbox/types.js';
import { createAuditTrail } from '../../src/shared/audit/trail.js';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import { placelessZoneProblem } from '../../src/shared/compliance/placeless-zones.js';
import type { ClosableContext } from '../../src/shared/context-factory.js';
import { silentLogger } from '../../src/shared/logger.js';
import { runPollCycle } from '../../src/shared/polling/poll-cycle.js';
import { changeAs, CONSOLE } from '../sandbox/helpers.js';
import { config } from './fixtures.js';
import { eventually } from './redis-context.js';
import { startWindowStack, type WindowStack } from './window-stack.js';

/*
 * A campaign without recipientStates whose zone an operator moves to a fixed offset in CXone's
 * console (Etc/GMT+5, UTC): no state rule catches it, yet every hour is then read on a clock no called
 * party keeps (a US campaign dials until 22:00 EDT all summer). The poll must treat it as the launch
 * and a PATCH do. Real parts: the sandbox over HTTP (a second client of the tenant as the console),
 * Redis, the adjust worker, the API; time is a ManualClock at Tuesday 12:00 EST, inside the
 * Mon–Fri 09:00–17:00 window on New York time and on Etc/GMT+5 alike, so only the zone can pause it.
 */
const weekdays = config(); // America/New_York, Mon–Fri 09:00–17:00, no recipientStates

let stack: WindowStack;
let sandbox: RunningSandbox;
let ctx: ClosableContext;
let app: FastifyInstance;
const auth = { authorization: 'Bearer compliance-test-token' };

beforeAll(async () => {
  stack = await startWindowStack({ startIso: '2026-03-03T17:00:00Z', withConsole: true });
  ({ sandbox, ctx } = stack);
  app = await buildApiApp(ctx);
});

afterAll(async () => {
  await app?.close();
  await stack?.close();
});

/** What someone in CXone's console does: their own client, a fresh read, a versioned PATCH. */
async function fromConsole(id: string, body: Record<string, unknown>): Promise<void> {
  const res = await changeAs(sandbox, CONSOLE, id, body);
  expect(res.status).toBe(200);
}

const statusOnCxone = async (id: string) => (await ctx.cxone.getCampaign(id)).status;

async function breaches(id: string) {
  const trail = createAuditTrail({ redis: ctx.redis, keys: ctx.keys, logger: silentLogger });
  return (await trail.list(id)).filter(
    (r) => r.action === 'compliance_action' && r.details.kind === 'outside_change_noncompliant',
  );
}

describe('a zone moved to a fixed offset in CXone, no recipient states declared', () => {
  it('pauses a dialing campaign once, is reported and refuses a resume until the zone names a place', async () => {
    const id = await stack.activeCampaign(weekdays);
    await fromConsole(id, { complianceSettings: { timeZone: 'Etc/GMT+5' } });

    expect(await runPollCycle(ctx, id)).toMatchObject({ kind: 'polled', guard: 'skipped', pacing: null });
    expect((await createCampaignStore(ctx).get(id))?.config.complianceTimeZone).toBe('Etc/GMT+5');
    await eventually(async () => ((await statusOnCxone(id)) === 'paused' ? true : undefined), 15_000);
    const [breach, ...more] = await breaches(id);
    expect(more).toEqual([]);
    expect(breach?.details).toMatchObject({
      action: 'pause',
      problems: [{ path: 'complianceTimeZone', message: placelessZoneProblem('Etc/GMT+5') }],
    });

    // Polls after the pause landed: nothing recorded or paused again for the same settings.
    await runPollCycle(ctx, id);
    await runPollCycle(ctx, id);
    expect(await breaches(id)).toHaveLength(1);

    const report = await app.inject({ method: 'GET', url: `/v1/campaigns/${id}/compliance`, headers: auth });
    expect(report.statusCode).toBe(200);
    expect(report.json().rules.settingsProblems).toEqual([
      { path: 'complianceTimeZone', message: placelessZoneProblem('Etc/GMT+5') },
    ]);

    const resume = await app.inject({
      method: 'POST',
      url: `/v1/campaigns/${id}/actions`,
      headers: auth,
      payload: { action: 'resume' },
    });
    expect(resume.statusCode).toBe(409);
    expect(resume.json().message).toContain('complianceTimeZone: Etc/GMT+5 is a fixed offset');
    expect(await statusOnCxone(id)).toBe('paused');

    // The fix: a resume whose patch names the called party's zone goes through.
    const fixed = await app.inject({
      method: 'POST',
      url: `/v1/campaigns/${id}/actions`,
      headers: auth,
      payload: { action: 'resume', patch: { complianceTimeZone: 'America/New_York' } },
    });
    expect(fixed.statusCode).toBe(202);
    await eventually(async () => ((await statusOnCxone(id)) === 'active' ? true : undefined), 15_000);
    const resource = await ctx.cxone.getCampaign(id);
    expect(resource.complianceSettings.timeZone).toBe('America/New_York');
  });

  it('notes a campaign that is not dialing once, and queues no pause', async () => {
    const id = await stack.activeCampaign(weekdays);
    await fromConsole(id, { status: 'paused' });
    await fromConsole(id, { complianceSettings: { timeZone: 'UTC' } });

    await runPollCycle(ctx, id);
    await runPollCycle(ctx, id);
    const noted = await breaches(id);
    expect(noted.map((r) => r.details)).toEqual([
      expect.objectContaining({
        action: 'none',
        problems: [{ path: 'complianceTimeZone', message: placelessZoneProblem('UTC') }],
      }),
    ]);
    // (Pacing may still lower the rate it will resume at; compliance queues nothing.)
    const commands = await ctx.queues.adjust.getJobs(['waiting', 'active', 'delayed', 'completed']);
    expect(commands.filter((job) => job.data.campaignId === id && job.data.action === 'pause')).toEqual([]);
    expect(await statusOnCxone(id)).toBe('paused');
  });
});
