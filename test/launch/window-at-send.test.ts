import type { Job } from 'bullmq';
import { DelayedError } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { submitLaunch } from '../../src/producers/launch-submit.js';
import type { AuditTrailStore } from '../../src/shared/audit/trail.js';
import { campaignConfigSchema } from '../../src/shared/campaign-schema.js';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import type { CxoneClient } from '../../src/shared/cxone/client.js';
import { toCreateCampaignRequest } from '../../src/shared/cxone/to-wire.js';
import { activateJobId } from '../../src/shared/jobs.js';
import { createLaunchStore } from '../../src/shared/launch-store.js';
import { processActivate, processLaunch } from '../../src/workers/launch-worker.js';
import { startSendGateStack, type SendGateStack } from '../compliance/send-gate.js';
import { campaignConfig } from '../e2e/stack.js';
import { fakeActivationJob, launchWorkerDeps, succeededLaunch } from './activation-job.js';

/**
 * An activation decided inside the calling window whose PATCH gets its rate-limit permit only after
 * the window closed (or inside the last 30 s before the close): it is not sent, and the campaign waits
 * for the next open, as a launch outside its window does. The clock moves while the write waits for
 * its permit (the limiter seam), never with a sleep. Real Redis, the sandbox over HTTP.
 */
const ZONE = 'America/New_York';
/** Wednesday 2026-03-04, 60 s before the 21:00 close: a start is still allowed (≥ 30 s before it). */
const DECIDED_AT = '2026-03-04T20:59:00-05:00';
const NEXT_OPEN = Date.parse('2026-03-05T08:00:00-05:00');
const config = campaignConfigSchema.parse(
  campaignConfig({
    startDateTime: '2026-03-04T09:00:00-05:00',
    complianceTimeZone: ZONE,
    allowedCallTimes: [
      { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '08:00', end: '21:00' },
    ],
  }),
);

/** Where the clock stands when the permit is granted: past the close, and inside its last 30 s. */
const LATE = [
  ['after the close', '2026-03-04T21:00:05-05:00'],
  ['in the last 30 s before the close', '2026-03-04T20:59:45-05:00'],
] as const;

describe('an activation whose permit comes too late for its calling window', () => {
  let stack: SendGateStack;
  beforeAll(async () => {
    stack = await startSendGateStack(DECIDED_AT);
  });
  afterAll(async () => {
    await stack?.close();
  });

  const status = (id: string) =>
    (stack.sandbox.getCampaignState(id) as { resource: { status: string } }).resource.status;

  it.each(LATE)(
    'a launch due now is not activated when the permit comes %s: it ends scheduled for the next open',
    async (_when, grantedAt) => {
      stack.clock.set(Date.parse(DECIDED_AT));
      const { launchId } = await submitLaunch(stack.ctx, { config, actor: 'api:test' });
      const job = (await stack.ctx.queues.launch.getJob(launchId)) as Job;
      // The first PATCH schedules the campaign; the second, the activation, waits past its moment.
      stack.beforeWritePermit(2, () => stack.clock.set(Date.parse(grantedAt)));

      const result = await processLaunch(launchWorkerDeps(stack.ctx), job);

      expect(result).toMatchObject({
        outcome: 'succeeded',
        campaignStatus: 'scheduled',
        activateAt: new Date(NEXT_OPEN).toISOString(),
      });
      const campaignId = (result as { campaignId: string }).campaignId;
      expect(status(campaignId)).toBe('scheduled');
      // No activating write went out, so none is noted: an operator's activation before the next open
      // is not taken for the launch's own (a failure of the launch then leaves it running, watched).
      expect((await createCampaignStore(stack.ctx).get(campaignId))?.activationSent).toBeUndefined();
      expect(await createLaunchStore(stack.ctx).get(launchId)).toMatchObject({
        status: 'succeeded',
        campaignStatus: 'scheduled',
        activateAt: new Date(NEXT_OPEN).toISOString(),
      });
      const activation = await stack.ctx.queues.launch.getJob(activateJobId(campaignId));
      expect(activation).toBeDefined();
      const trail = await (stack.ctx.audit as AuditTrailStore).list(campaignId);
      expect(trail.map((r) => r.action)).not.toContain('campaign_launched');
      expect(trail.find((r) => r.action === 'state_changed')?.details).toMatchObject({
        to: 'scheduled',
        activateAt: new Date(NEXT_OPEN).toISOString(),
        movedToCallingWindow: true,
      });
      await activation?.remove();
    },
  );

  it.each(LATE)(
    "a scheduled campaign's activation is not sent when the permit comes %s: the job moves to the next open",
    async (_when, grantedAt) => {
      stack.clock.set(Date.parse(DECIDED_AT));
      const created = await stack.ctx.cxone.createCampaign(toCreateCampaignRequest(config));
      const scheduled = await stack.ctx.cxone.updateCampaign(created.id, created.version, {
        status: 'scheduled',
      });
      const launchId = await succeededLaunch(stack.ctx, created.id);
      await createCampaignStore(stack.ctx).syncFromCxone(scheduled, { config, launchId });
      stack.beforeWritePermit(1, () => stack.clock.set(Date.parse(grantedAt)));

      const { job, delayedTo } = fakeActivationJob(created.id, launchId);
      await expect(processActivate(launchWorkerDeps(stack.ctx), job, 'token')).rejects.toBeInstanceOf(
        DelayedError,
      );

      expect(status(created.id)).toBe('scheduled');
      expect(delayedTo).toHaveLength(1);
      expect(delayedTo[0]).toBeGreaterThan(Date.parse(grantedAt));
      expect(delayedTo[0]).toBeLessThanOrEqual(NEXT_OPEN);
      expect(await createLaunchStore(stack.ctx).get(launchId)).toMatchObject({
        activateAt: new Date(NEXT_OPEN).toISOString(),
      });
      const trail = await (stack.ctx.audit as AuditTrailStore).list(created.id);
      expect(trail.map((r) => r.action)).not.toContain('campaign_launched');
    },
  );

  it("a scheduled campaign's activation that met a 401 and whose second permit comes too late is not noted as sent", async () => {
    // The write leaves with a token CXone refuses (401: revoked, or expired early — nothing applied);
    // the client fetches a fresh one and asks for a permit again, which comes after the close. The
    // write is not sent a second time, so its note must be taken back: an operator's activation before
    // the next open is not the orchestrator's.
    stack.clock.set(Date.parse(DECIDED_AT));
    const created = await stack.ctx.cxone.createCampaign(toCreateCampaignRequest(config));
    const scheduled = await stack.ctx.cxone.updateCampaign(created.id, created.version, {
      status: 'scheduled',
    });
    const launchId = await succeededLaunch(stack.ctx, created.id);
    await createCampaignStore(stack.ctx).syncFromCxone(scheduled, { config, launchId });
    const tokens = (stack.ctx.cxone as CxoneClient).tokens;
    const sendable = tokens.sendable.bind(tokens);
    let refused = 0;
    stack.beforeWritePermit(1, () => {
      // The first try's token: one CXone no longer accepts.
      tokens.sendable = () => {
        tokens.sendable = sendable;
        refused += 1;
        return 'revoked-token';
      };
      stack.beforeWritePermit(1, () => stack.clock.set(Date.parse(LATE[0][1])));
    });

    const { job, delayedTo } = fakeActivationJob(created.id, launchId);
    await expect(processActivate(launchWorkerDeps(stack.ctx), job, 'token')).rejects.toBeInstanceOf(
      DelayedError,
    );

    expect(refused, 'the first try was sent with the refused token').toBe(1);
    expect(status(created.id)).toBe('scheduled');
    expect(delayedTo).toHaveLength(1);
    expect((await createCampaignStore(stack.ctx).get(created.id))?.activationSent).toBeUndefined();
  });

  it('a launch whose permit comes in time is activated (the check lets a start inside its window go)', async () => {
    stack.clock.set(Date.parse(DECIDED_AT));
    const { launchId } = await submitLaunch(stack.ctx, { config, actor: 'api:test' });
    const job = (await stack.ctx.queues.launch.getJob(launchId)) as Job;
    stack.beforeWritePermit(2, () => stack.clock.set(Date.parse('2026-03-04T20:59:29-05:00')));

    const result = await processLaunch(launchWorkerDeps(stack.ctx), job);

    expect(result).toMatchObject({ outcome: 'succeeded', campaignStatus: 'active' });
    expect(status((result as { campaignId: string }).campaignId)).toBe('active');
  });
});
