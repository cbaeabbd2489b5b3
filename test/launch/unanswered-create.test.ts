import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import { launchIdempotencyKey } from '../../src/shared/cxone/idempotency.js';
import { CXONE_ENDPOINTS } from '../../src/shared/cxone/wire.js';
import { createLaunchStore } from '../../src/shared/launch-store.js';
import { processLaunch } from '../../src/workers/launch-worker.js';
import { startStack, type Stack } from '../e2e/stack.js';
import { sandboxCampaigns } from '../support/sandbox-counters.js';
import { scriptFaults, type FaultScript } from '../support/sandbox-faults.js';
import { failingRecordCreated, lastAttemptLaunch } from './last-attempt.js';

/**
 * A launch given up while creating its campaign, its last create unanswered (a gateway's 502/504 after
 * CXone made the campaign, a timeout): the campaign CXone may hold must not be left there with no
 * launch naming it — it used to be (seen live: 10 × 503, the first applied, left a draft campaign in
 * CXone and a failed launch with no campaignId). The create is asked for again with its
 * Idempotency-Key, the campaign named on the launch and cancelled; when CXone does not answer that
 * either, the launch says a campaign may exist. Real Redis, the sandbox over HTTP with scripted faults.
 */
describe('a launch that fails on an unanswered create', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ api: false });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const script = (body: FaultScript) =>
    scriptFaults(stack.sandbox, { endpoint: CXONE_ENDPOINTS.createCampaign, ...body });
  const campaigns = () => sandboxCampaigns(stack.sandbox);

  async function failOnLastAttempt() {
    const { launchId, job } = await lastAttemptLaunch(stack.ctx);
    const launches = createLaunchStore(stack.ctx);
    await expect(
      processLaunch(
        { ctx: stack.ctx, launches, campaigns: createCampaignStore(stack.ctx), lockMs: 30_000 },
        job,
      ),
    ).rejects.toThrow();
    return { launchId, record: await launches.get(launchId) };
  }

  it('cancels the campaign CXone made for a create whose answer was lost, and names it on the launch', async () => {
    const before = (await campaigns()).length;
    await script({ failNext: 1, status: 502, applied: true });

    const { record } = await failOnLastAttempt();

    const made = (await campaigns()).slice(before);
    expect(made).toHaveLength(1);
    expect((await stack.ctx.cxone.getCampaign(made[0]!.id)).status).toBe('cancelled');
    expect(record).toMatchObject({
      status: 'failed',
      campaignId: made[0]!.id,
      cancelled: true,
      campaignStatus: 'cancelled',
    });
    expect(record?.error).toMatch(/502/);
    // The cancelled campaign's record names the launch that made it.
    expect(await createCampaignStore(stack.ctx).get(made[0]!.id)).toMatchObject({
      status: 'cancelled',
      launchId: record?.launchId,
    });
    expect(record?.cleanupError).toBeUndefined();
  });

  it('makes, names and cancels the campaign when CXone refused the create without carrying it out', async () => {
    // CXone's own 503, nothing created: the launch cannot tell it from a gateway's after the commit, and
    // CXone offers no look-up by Idempotency-Key, so the create asked again makes the campaign now —
    // one campaign for the launch, a draft that never dials, cancelled at once.
    const before = (await campaigns()).length;
    await script({ failNext: 1, status: 503 });

    const { record } = await failOnLastAttempt();

    const made = (await campaigns()).slice(before);
    expect(made).toHaveLength(1);
    expect((await stack.ctx.cxone.getCampaign(made[0]!.id)).status).toBe('cancelled');
    expect(record).toMatchObject({ status: 'failed', campaignId: made[0]!.id, cancelled: true });
    expect(record?.cleanupError).toBeUndefined();
  });

  it('cancels the campaign CXone answered for when the launch could not record it (a Redis blip)', async () => {
    const { launchId, job } = await lastAttemptLaunch(stack.ctx);
    const store = createLaunchStore(stack.ctx);
    // CXone created the campaign and answered; writing it on the launch failed once.
    const launches = failingRecordCreated(store);
    const before = (await campaigns()).length;

    await expect(
      processLaunch(
        { ctx: stack.ctx, launches, campaigns: createCampaignStore(stack.ctx), lockMs: 30_000 },
        job,
      ),
    ).rejects.toThrow();

    const made = (await campaigns()).slice(before);
    expect(made).toHaveLength(1);
    expect((await stack.ctx.cxone.getCampaign(made[0]!.id)).status).toBe('cancelled');
    expect(await store.get(launchId)).toMatchObject({
      status: 'failed',
      campaignId: made[0]!.id,
      cancelled: true,
    });
  });

  it('says a campaign may exist when CXone does not answer the create asked again either', async () => {
    await script({ failNext: 2, status: 503 });

    const { launchId, record } = await failOnLastAttempt();

    expect(record).toMatchObject({ status: 'failed' });
    expect(record?.campaignId).toBeUndefined();
    expect(record?.cleanupError).toContain('CXone may have created the campaign');
    expect(record?.cleanupError).toContain(launchIdempotencyKey(launchId));
  });
});
