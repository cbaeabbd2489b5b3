import { DelayedError } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditTrailStore } from '../../src/shared/audit/trail.js';
import { campaignConfigSchema } from '../../src/shared/campaign-schema.js';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import { toCreateCampaignRequest } from '../../src/shared/cxone/to-wire.js';
import { processActivate } from '../../src/workers/launch-worker.js';
import { campaignConfig, patchOnSandbox, startStack, type Stack } from '../e2e/stack.js';
import { fakeActivationJob, launchWorkerDeps } from './activation-job.js';

/**
 * A scheduled campaign whose settings were changed in CXone's console before its start, so that they
 * break a compliance rule (Florida recipients, zone moved to Los Angeles): its activation does not
 * dial; it notes the breach and looks again later. Real Redis, the sandbox over HTTP.
 */
describe('the delayed activation of a campaign changed in CXone', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ api: false });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('is held, not activated, while the settings break a rule', async () => {
    const config = campaignConfigSchema.parse(
      campaignConfig({
        complianceTimeZone: 'America/New_York',
        recipientStates: ['FL'],
        allowedCallTimes: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '20:00' }],
      }),
    );
    const created = await stack.ctx.cxone.createCampaign(toCreateCampaignRequest(config));
    const scheduled = await stack.ctx.cxone.updateCampaign(created.id, created.version, {
      status: 'scheduled',
    });
    const campaigns = createCampaignStore(stack.ctx);
    await campaigns.syncFromCxone(scheduled, { config, launchId: 'launch-hold' });
    expect(
      (
        await patchOnSandbox(stack.sandbox, created.id, {
          complianceSettings: { timeZone: 'America/Los_Angeles' },
        })
      ).status,
    ).toBe(200);

    const { job, delayedTo } = fakeActivationJob(created.id, 'launch-hold');
    const deps = launchWorkerDeps(stack.ctx);
    const started = Date.now();
    await expect(processActivate(deps, job, 'token')).rejects.toBeInstanceOf(DelayedError);

    expect((await stack.ctx.cxone.getCampaign(created.id)).status).toBe('scheduled');
    expect(delayedTo).toHaveLength(1);
    expect(delayedTo[0]! - started).toBeGreaterThanOrEqual(4 * 60_000);
    const trail = await (stack.ctx.audit as AuditTrailStore).list(created.id);
    expect(trail.map((r) => [r.action, r.details['kind'], r.details['action']])).toEqual([
      ['compliance_action', 'outside_change_noncompliant', 'none'],
    ]);
  });

  it('is held when the console moves its zone to a fixed offset, no recipient states declared', async () => {
    const config = campaignConfigSchema.parse(campaignConfig());
    const created = await stack.ctx.cxone.createCampaign(toCreateCampaignRequest(config));
    const scheduled = await stack.ctx.cxone.updateCampaign(created.id, created.version, {
      status: 'scheduled',
    });
    await createCampaignStore(stack.ctx).syncFromCxone(scheduled, { config, launchId: 'launch-etc' });
    // The fixed offset on which it is noon now: inside the 08:00–21:00 window, so only the zone's
    // rule can hold the activation.
    const hours = 12 - new Date().getUTCHours();
    const zone = hours === 0 ? 'Etc/GMT' : `Etc/GMT${hours > 0 ? '-' : '+'}${Math.abs(hours)}`;
    expect(
      (await patchOnSandbox(stack.sandbox, created.id, { complianceSettings: { timeZone: zone } })).status,
    ).toBe(200);

    const { job, delayedTo } = fakeActivationJob(created.id, 'launch-etc');
    const started = Date.now();
    await expect(processActivate(launchWorkerDeps(stack.ctx), job, 'token')).rejects.toBeInstanceOf(
      DelayedError,
    );

    expect((await stack.ctx.cxone.getCampaign(created.id)).status).toBe('scheduled');
    expect(delayedTo[0]! - started).toBeGreaterThanOrEqual(4 * 60_000);
    const trail = await (stack.ctx.audit as AuditTrailStore).list(created.id);
    expect(trail.map((r) => [r.details['kind'], r.details['action'], r.details['problems']])).toEqual([
      ['outside_change_noncompliant', 'none', [expect.objectContaining({ path: 'complianceTimeZone' })]],
    ]);
  });
});
