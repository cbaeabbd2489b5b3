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
 * A takeover marks the record before its safe-start write, so a later run that finds the mark with no
 * safe start recorded looks for that write in place (its answer lost). A write CXone refused (a 409:
 * the operator changed the campaign between the takeover's read and its write) was never applied: a
 * redelivery of the job (its worker died before the job was marked done) must not find the operator's
 * own change at the safe start's rate and record it as the orchestrator's safe start — a
 * `pacing_decision` "0.5 → 0.1" the orchestrator never made, and a start anchor for pacing. (With
 * 085e2b9's mark alone it did, on the activation job's path: the record kept the rate the takeover
 * read, and the operator's 0.1 was that rate's safe start. The 409's re-read, synced, is what tells.)
 */
describe('a takeover whose safe-start write was refused, redelivered', () => {
  let stack: Stack;
  /** Runs just before the next safe-start write is sent. */
  let beforeSafeStart: ((campaignId: string) => Promise<void>) | undefined;
  /** The next read of the campaign fails (the worker dies there). */
  let dieOnNextRead = false;

  beforeAll(async () => {
    stack = await startStack({
      api: false,
      ctxOverrides: (base) => ({
        cxone: {
          ...base.cxone,
          getCampaign: async (...args: Parameters<AppContext['cxone']['getCampaign']>) => {
            if (dieOnNextRead) {
              dieOnNextRead = false;
              throw new Error('worker died');
            }
            return base.cxone.getCampaign(...args);
          },
          updateCampaign: async (...args: Parameters<AppContext['cxone']['updateCampaign']>) => {
            const body = args[2] as Record<string, unknown>;
            const armed = beforeSafeStart;
            if (armed && body['status'] === undefined && body['dialerSettings'] !== undefined) {
              beforeSafeStart = undefined;
              await armed(args[0]);
            }
            return base.cxone.updateCampaign(...args);
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

  it.each([
    ['before its start (a look)', 2 * 86_400_000],
    ['at its start', 0],
  ])(
    'records no safe start for the operator lowering the rate a takeover %s met as a 409',
    async (_, startInMs) => {
      const launchId = `launch-refused-${startInMs}`;
      const start = new Date(Date.now() + startInMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
      const config = campaignConfigSchema.parse(campaignConfig({ startDateTime: start }));
      expect(config.dialerStrategy.callRate).toBeGreaterThan(safeCallRate);
      const created = await stack.ctx.cxone.createCampaign(toCreateCampaignRequest(config));
      const scheduled = await stack.ctx.cxone.updateCampaign(created.id, created.version, {
        status: 'scheduled',
      });
      const id = created.id;
      await createCampaignStore(stack.ctx).syncFromCxone(scheduled, { config, launchId });
      // The operator activates it before the orchestrator, and lowers its rate to the safe start's just
      // as the takeover's write leaves: that write meets a 409, nothing of it applied.
      expect((await patchOnSandbox(stack.sandbox, id, { status: 'active' })).status).toBe(200);
      let operatorVersion = 0;
      beforeSafeStart = async (campaignId) => {
        const lowered = await patchOnSandbox(stack.sandbox, campaignId, {
          dialerSettings: { callRate: safeCallRate },
        });
        expect(lowered.status).toBe(200);
        operatorVersion = Number(lowered.body.version);
      };
      const { job } = fakeActivationJob(id, launchId);
      await expect(processActivate(deps(), job, 'token')).resolves.toMatchObject({ outcome: 'succeeded' });
      expect(beforeSafeStart, "the operator's change landed before the safe-start write").toBeUndefined();

      // The worker died before BullMQ marked the job done: it runs again on what the first run left.
      await expect(processActivate(deps(), job, 'token')).resolves.toMatchObject({ outcome: 'succeeded' });

      const onCxone = await stack.ctx.cxone.getCampaign(id);
      expect(onCxone.version, 'nothing written over the operator').toBe(operatorVersion);
      const trail = await auditStoreFor(stack.ctx).list(id);
      expect(
        trail.filter((r) => r.action === 'pacing_decision').map((r) => r.details),
        'the operator lowered it, not the orchestrator',
      ).toEqual([]);
      const record = await createCampaignStore(stack.ctx).get(id);
      expect(record?.startedOutside).toBeDefined();
      expect(record?.pacing, 'no start anchor claimed').not.toMatchObject({ startAnchor: expect.anything() });
    },
  );

  it("records no safe start for the operator's 0.1 when the run died between the 409 and its re-read", async () => {
    const launchId = 'launch-refused-died';
    const config = campaignConfigSchema.parse(campaignConfig());
    const created = await stack.ctx.cxone.createCampaign(toCreateCampaignRequest(config));
    const scheduled = await stack.ctx.cxone.updateCampaign(created.id, created.version, {
      status: 'scheduled',
    });
    const id = created.id;
    await createCampaignStore(stack.ctx).syncFromCxone(scheduled, { config, launchId });
    expect((await patchOnSandbox(stack.sandbox, id, { status: 'active' })).status).toBe(200);
    let operatorVersion = 0;
    beforeSafeStart = async (campaignId) => {
      const lowered = await patchOnSandbox(stack.sandbox, campaignId, {
        dialerSettings: { callRate: safeCallRate },
      });
      operatorVersion = Number(lowered.body.version);
      // The 409's re-read is where this run dies: the record still shows the rate the takeover read.
      dieOnNextRead = true;
    };
    const { job } = fakeActivationJob(id, launchId);
    await expect(processActivate(deps(), job, 'token')).rejects.toThrow('worker died');
    expect(dieOnNextRead, 'the run died on the re-read').toBe(false);

    await expect(processActivate(deps(), job, 'token')).resolves.toMatchObject({ outcome: 'succeeded' });
    expect((await stack.ctx.cxone.getCampaign(id)).version, 'nothing written over the operator').toBe(
      operatorVersion,
    );
    const trail = await auditStoreFor(stack.ctx).list(id);
    expect(trail.filter((r) => r.action === 'pacing_decision').map((r) => r.details)).toEqual([]);
    const record = await createCampaignStore(stack.ctx).get(id);
    expect(record?.startedOutside).toMatchObject({ safeStart: 'left' });
    expect(record?.pacing, 'no start anchor claimed').not.toMatchObject({ startAnchor: expect.anything() });
  });
});
