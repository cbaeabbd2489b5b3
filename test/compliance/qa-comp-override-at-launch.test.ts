import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditTrailStore } from '../../src/shared/audit/trail.js';
import { api, campaignConfig, startStack, waitForLaunch, zoneAtNight, type Stack } from '../e2e/stack.js';

/**
 * A do-not-call check turned off where the deployment allows it (ALLOW_DNC_DISABLED=true) is audited
 * as a `compliance_override` when the campaign is launched (docs/compliance.md, Deployment policy),
 * not only once window enforcement first plans it: a campaign launched outside its hours is scheduled
 * for the next open, and its trail had no override until it was activated, hours or days later (and
 * none at all when it was cancelled before). Real Redis, the API and the launch worker, the sandbox
 * over HTTP.
 */
describe('an override the deployment allows', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ launchWorker: true, env: { ALLOW_DNC_DISABLED: 'true' } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('is in the trail once the launch succeeded, while the campaign is still scheduled', async () => {
    const config = campaignConfig({
      complianceTimeZone: zoneAtNight(),
      compliance: { regime: 'TCPA', doNotCallCheck: false },
    });
    const submitted = await api(stack, 'POST', '/v1/campaigns', { body: config });
    expect(submitted.status).toBe(202);
    const launch = await waitForLaunch(stack, String(submitted.body.launchId));
    expect(launch).toMatchObject({ status: 'succeeded', campaignStatus: 'scheduled' });
    const campaignId = String(launch.campaignId);

    const trail = await (stack.ctx.audit as AuditTrailStore).list(campaignId);
    const overrides = trail.filter((r) => r.action === 'compliance_override');
    expect(overrides).toHaveLength(1);
    expect(overrides[0]!.details).toMatchObject({
      kind: 'override',
      rule: 'do-not-call-check-disabled',
      allowedBy: 'ALLOW_DNC_DISABLED',
    });
    // The report lists it too.
    const report = await api(stack, 'GET', `/v1/campaigns/${campaignId}/compliance`);
    expect(report.status).toBe(200);
    expect(report.body.doNotCall).toMatchObject({ checked: false, overrides: [{ kind: 'override' }] });
  });
});
