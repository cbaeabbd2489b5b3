import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { recordDeploymentOverrides } from '../../src/shared/compliance/overrides.js';
import { config } from './fixtures.js';
import { createTestContext, withLogBlip, type TestContext } from './redis-context.js';

/* An override the deployment allowed is audited once per campaign and rule, and not lost to a blip. */
const ID = 'cmp-override-1';
const noDnc = config({ compliance: { regime: 'TCPA', doNotCallCheck: false } });

let tc: TestContext;
beforeEach(async () => {
  tc = await createTestContext('2026-03-03T15:00:00Z', { ALLOW_DNC_DISABLED: 'true' });
});
afterEach(async () => tc.close());

async function overrides() {
  return (await tc.audit.list(ID)).filter((r) => r.action === 'compliance_override');
}

describe('recordDeploymentOverrides', () => {
  it('audits an override once, however often it is called', async () => {
    expect(await recordDeploymentOverrides(tc.ctx, { campaignId: ID, config: noDnc })).toBe(1);
    expect(await recordDeploymentOverrides(tc.ctx, { campaignId: ID, config: noDnc })).toBe(0);
    expect(await overrides()).toEqual([
      expect.objectContaining({ details: expect.objectContaining({ rule: 'do-not-call-check-disabled' }) }),
    ]);
  });

  it('audits it on the next call when recording it failed', async () => {
    await expect(
      recordDeploymentOverrides(withLogBlip(tc.ctx), { campaignId: ID, config: noDnc }),
    ).rejects.toThrow('redis blip');
    expect(await recordDeploymentOverrides(tc.ctx, { campaignId: ID, config: noDnc })).toBe(1);
    expect(await overrides()).toHaveLength(1);
  });
});
