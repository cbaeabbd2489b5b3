import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditStoreFor } from '../../src/shared/audit/trail.js';
import { campaignConfigSchema } from '../../src/shared/campaign-schema.js';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import type { AppContext } from '../../src/shared/context.js';
import { toCreateCampaignRequest } from '../../src/shared/cxone/to-wire.js';
import { startingCallRate } from '../../src/shared/pacing/start.js';
import { processActivate } from '../../src/workers/launch-worker.js';
import { campaignConfig, patchOnSandbox, startStack, type Stack } from '../e2e/stack.js';
import { fakeActivationJob, launchWorkerDeps } from './activation-job.js';

/**
 * The activation job's takeover whose safe-start write CXone applied with its answer lost, the record
 * refreshed from CXone by a read (GET /v1/campaigns/{id}) before the job's next run: that run must
 * still record the safe start it finds in place. Planned from the record's rate, it found 0.1 with
 * nothing to lower and recorded no safe start and no anchor; the takeover's mark names the rate it
 * decided on (takenOverFrom), which the refresh leaves alone.
 */
describe("an activation job's takeover, its safe-start answer lost, the record refreshed since", () => {
  let stack: Stack;
  let loseNextSafeStart = false;
  const reset = () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });

  beforeAll(async () => {
    stack = await startStack({
      api: false,
      ctxOverrides: (base) => ({
        cxone: {
          ...base.cxone,
          updateCampaign: async (...args: Parameters<AppContext['cxone']['updateCampaign']>) => {
            const body = args[2] as Record<string, unknown>;
            const lose =
              loseNextSafeStart && body['status'] === undefined && body['dialerSettings'] !== undefined;
            const applied = await base.cxone.updateCampaign(...args);
            if (lose) {
              loseNextSafeStart = false;
              throw reset();
            }
            return applied;
          },
        },
      }),
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const deps = () => launchWorkerDeps(stack.ctx);
  const safeCallRate = startingCallRate(campaignConfigSchema.parse(campaignConfig()), {
    dialing: true,
  })!.callRate;

  it('records the safe start found in place on its next run', async () => {
    const launchId = 'launch-refreshed';
    const config = campaignConfigSchema.parse(campaignConfig());
    const created = await stack.ctx.cxone.createCampaign(toCreateCampaignRequest(config));
    const scheduled = await stack.ctx.cxone.updateCampaign(created.id, created.version, {
      status: 'scheduled',
    });
    const id = created.id;
    const store = createCampaignStore(stack.ctx);
    await store.syncFromCxone(scheduled, { config, launchId });
    await patchOnSandbox(stack.sandbox, id, { status: 'active' });
    loseNextSafeStart = true;
    const { job } = fakeActivationJob(id, launchId);
    await expect(processActivate(deps(), job, 'token')).rejects.toThrow('socket hang up');
    const applied = await stack.ctx.cxone.getCampaign(id);
    expect(applied.dialerSettings.callRate).toBe(safeCallRate);

    // A read refreshes the record from CXone (the API's GET does, onlyIfKnown), as it may any time.
    await store.syncFromCxone(applied, {}, { onlyIfKnown: true });

    await expect(processActivate(deps(), job, 'token')).resolves.toMatchObject({ outcome: 'succeeded' });
    const trail = await auditStoreFor(stack.ctx).list(id);
    expect(trail.filter((r) => r.action === 'pacing_decision').map((r) => r.details)).toEqual([
      expect.objectContaining({
        reason: 'safe start',
        previousCallRate: 0.5,
        output: { callRate: safeCallRate },
      }),
    ]);
    expect((await store.get(id))?.pacing).toMatchObject({ startAnchor: { requestedCallRate: 0.5 } });
  });
});
