import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { submitLaunch } from '../../src/producers/launch-submit.js';
import type { AuditTrailStore } from '../../src/shared/audit/trail.js';
import { campaignConfigSchema } from '../../src/shared/campaign-schema.js';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import type { CxoneClient } from '../../src/shared/cxone/client.js';
import { toCreateCampaignRequest } from '../../src/shared/cxone/to-wire.js';
import { createLaunchStore } from '../../src/shared/launch-store.js';
import { enqueueCommand } from '../../src/shared/lifecycle/enqueue.js';
import { processActivate, processLaunch } from '../../src/workers/launch-worker.js';
import { startWindowStack, type WindowStack } from '../compliance/window-stack.js';
import { campaignConfig } from '../e2e/stack.js';
import { scriptFaults } from '../support/sandbox-faults.js';
import { fakeActivationJob, launchWorkerDeps, succeededLaunch } from './activation-job.js';

/**
 * CXone granting the fleet's OAuth client every scope but the statistics one: every statistics poll
 * would be a 403, the abandonment guard blind. No campaign is started then — neither a launch's
 * immediate activation nor a scheduled campaign's at its start — and the refusal names the scope and
 * what to do; pauses, which need only the write scope, still go through. Real Redis, the sandbox over
 * HTTP withholding the scope from every token it issues.
 */
const STATS = 'outbound:campaigns:stats:read';
/** Wednesday noon in New York: inside the campaign's calling window, so a launch activates at once. */
const NOON = '2026-03-04T12:00:00-05:00';
const config = campaignConfigSchema.parse(
  campaignConfig({
    startDateTime: '2026-03-04T09:00:00-05:00',
    complianceTimeZone: 'America/New_York',
    allowedCallTimes: [
      { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '08:00', end: '21:00' },
    ],
  }),
);

describe('an activation while the token lacks the statistics scope', () => {
  let stack: WindowStack;
  beforeAll(async () => {
    stack = await startWindowStack({ startIso: NOON });
    // Before the context's first token: every token it is issued lacks the scope.
    await scriptFaults(stack.sandbox, { withholdScopes: [STATS] });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const status = (id: string) =>
    (stack.sandbox.getCampaignState(id) as { resource: { status: string } }).resource.status;
  const trail = (id: string) => (stack.ctx.audit as AuditTrailStore).list(id);

  it('a launch due now is not activated: it fails naming the scope, its campaign cancelled', async () => {
    const { launchId } = await submitLaunch(stack.ctx, { config, actor: 'api:test' });
    const job = (await stack.ctx.queues.launch.getJob(launchId)) as Job;

    await expect(processLaunch(launchWorkerDeps(stack.ctx), job)).rejects.toThrow(STATS);

    // The provider knew before the activation left: this is the case under test, not a 403.
    expect((stack.ctx.cxone as CxoneClient).tokens.scopeShortfall()?.missingScopes).toEqual([STATS]);
    const launch = await createLaunchStore(stack.ctx).get(launchId);
    expect(launch).toMatchObject({ status: 'failed' });
    expect(launch?.error).toContain(
      `not activated: CXone did not grant this OAuth client the scope ${STATS}`,
    );
    expect(launch?.error).toContain('in CXone admin');
    const campaignId = launch?.campaignId as string;
    // Never active: the failed launch's cleanup cancelled the campaign it had scheduled.
    expect(status(campaignId)).toBe('cancelled');
    expect((await createCampaignStore(stack.ctx).get(campaignId))?.activationSent).toBeUndefined();
    const actions = (await trail(campaignId)).map((r) => r.action);
    expect(actions).not.toContain('campaign_launched');
    const failed = (await trail(campaignId)).find((r) => r.action === 'launch_failed');
    expect(JSON.stringify(failed?.details)).toContain(STATS);
  });

  it("a scheduled campaign's activation at its start is not sent: it stays scheduled, the launch names the scope", async () => {
    const created = await stack.ctx.cxone.createCampaign(toCreateCampaignRequest(config));
    const scheduled = await stack.ctx.cxone.updateCampaign(created.id, created.version, {
      status: 'scheduled',
    });
    const launchId = await succeededLaunch(stack.ctx, created.id);
    await createCampaignStore(stack.ctx).syncFromCxone(scheduled, { config, launchId });

    const { job } = fakeActivationJob(created.id, launchId);
    await expect(processActivate(launchWorkerDeps(stack.ctx), job, 'token')).rejects.toThrow(STATS);

    expect(status(created.id)).toBe('scheduled');
    expect((await createLaunchStore(stack.ctx).get(launchId))?.activationError).toContain(STATS);
    const records = await trail(created.id);
    expect(records.map((r) => r.action)).not.toContain('campaign_launched');
    expect(JSON.stringify(records.find((r) => r.action === 'launch_failed')?.details)).toContain(STATS);
  });

  it('a pause of a dialing campaign still goes through', async () => {
    const id = await stack.activeCampaign(config);
    const { commandId } = await enqueueCommand(stack.ctx, {
      campaignId: id,
      actor: 'api:ops',
      reason: 'operator',
      action: 'pause',
    });
    expect((await stack.settled(commandId)).status).toBe('succeeded');
    expect(status(id)).toBe('paused');
  });
});
