import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { submitLaunch } from '../../src/producers/launch-submit.js';
import { auditStoreFor } from '../../src/shared/audit/trail.js';
import { campaignConfigSchema } from '../../src/shared/campaign-schema.js';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import type { AppContext } from '../../src/shared/context.js';
import { startingCallRate } from '../../src/shared/pacing/start.js';
import { processLaunch } from '../../src/workers/launch-worker.js';
import { campaignConfig, patchOnSandbox, startStack, type Stack } from '../e2e/stack.js';
import { launchWorkerDeps } from './activation-job.js';

/**
 * A launch's run that takes over the draft an operator started in CXone, then runs again before
 * pacing's first poll (its worker died before the launch was recorded finished). What that later run
 * finds at the safe start's rate (0.1) is the orchestrator's own safe-start write only when the
 * takeover's mark says that write may have been applied, planned from the rate the takeover decided on:
 * - its write applied, its answer lost, and a GET's refresh of the record since: recorded, from the
 *   operator's rate the takeover read (not the launch's, nor the refreshed record's);
 * - its write refused (a 409: the operator lowered the rate to 0.1 meanwhile), left to the operator:
 *   never recorded as the orchestrator's, though 0.1 is the launch's rate's safe start too.
 */
describe("a launch's takeover run again before pacing's first poll", () => {
  let stack: Stack;
  /** Runs just before the next write the predicate picks; `lose` lets CXone apply it and loses its answer. */
  let hook:
    | {
        when: (body: Record<string, unknown>) => boolean;
        run: (campaignId: string) => Promise<'lose' | void>;
      }
    | undefined;
  const reset = () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });

  beforeAll(async () => {
    stack = await startStack({
      api: false,
      ctxOverrides: (base) => ({
        cxone: {
          ...base.cxone,
          updateCampaign: async (...args: Parameters<AppContext['cxone']['updateCampaign']>) => {
            const armed = hook;
            if (!armed?.when(args[2] as Record<string, unknown>)) return base.cxone.updateCampaign(...args);
            hook = undefined;
            const what = await armed.run(args[0]);
            const applied = await base.cxone.updateCampaign(...args);
            if (what === 'lose') throw reset();
            return applied;
          },
        },
      }),
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const isSafeStartWrite = (body: Record<string, unknown>) =>
    body['status'] === undefined && body['dialerSettings'] !== undefined;
  const deps = () => launchWorkerDeps(stack.ctx);
  const safeCallRate = startingCallRate(campaignConfigSchema.parse(campaignConfig()), {
    dialing: true,
  })!.callRate;

  /** The launch worker's deps, its worker dying just before it records the launch finished. */
  function dyingBeforeFinish() {
    const base = deps();
    const launches = new Proxy(base.launches, {
      get(target, prop, receiver) {
        if (prop === 'finish') return async () => Promise.reject(new Error('worker died'));
        const value = Reflect.get(target, prop, receiver) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    return { ...base, launches };
  }

  /** A launch due now whose draft the operator starts (at `operatorRate`) before its schedule write. */
  async function launchStartedOutside(operatorRate: number, then: NonNullable<typeof hook>) {
    const config = campaignConfigSchema.parse(campaignConfig({ startDateTime: new Date().toISOString() }));
    expect(config.dialerStrategy.callRate).toBe(0.5);
    const { launchId } = await submitLaunch(stack.ctx, { config, actor: 'test' });
    const job = (await stack.ctx.queues.launch.getJob(launchId)) as Job;
    hook = {
      when: (body) => body['status'] === 'scheduled',
      run: async (campaignId) => {
        const started = await patchOnSandbox(stack.sandbox, campaignId, {
          status: 'active',
          dialerSettings: { callRate: operatorRate },
        });
        expect(started.status).toBe(200);
        hook = then;
      },
    };
    return { launchId, job };
  }

  it("records the safe start its lost answer left in place, from the operator's rate, after a refresh of the record", async () => {
    const { launchId, job } = await launchStartedOutside(0.8, {
      when: isSafeStartWrite,
      run: async () => 'lose',
    });
    await expect(processLaunch(deps(), job)).rejects.toThrow('socket hang up');
    expect(hook, 'the safe-start write was applied, its answer lost').toBeUndefined();
    const id = String((await deps().launches.get(launchId))?.campaignId);
    const applied = await stack.ctx.cxone.getCampaign(id);
    expect(applied.dialerSettings.callRate).toBe(safeCallRate);
    // A read refreshes the record from CXone (the API's GET does, onlyIfKnown), as it may any time.
    await createCampaignStore(stack.ctx).syncFromCxone(applied, {}, { onlyIfKnown: true });

    await expect(processLaunch(deps(), job)).resolves.toMatchObject({ outcome: 'succeeded' });
    expect((await stack.ctx.cxone.getCampaign(id)).version, 'found in place: not written again').toBe(
      applied.version,
    );
    const trail = await auditStoreFor(stack.ctx).list(id);
    expect(trail.filter((r) => r.action === 'pacing_decision').map((r) => r.details)).toEqual([
      expect.objectContaining({
        reason: 'safe start',
        previousCallRate: 0.8,
        output: { callRate: safeCallRate },
      }),
    ]);
    const record = await createCampaignStore(stack.ctx).get(id);
    expect(record?.pacing).toMatchObject({ startAnchor: { requestedCallRate: 0.8, priorCallRate: 0.8 } });
  });

  it('records no safe start for the operator lowering the rate to it as the takeover wrote (a 409), run again', async () => {
    let operatorVersion = 0;
    const { launchId, job } = await launchStartedOutside(0.5, {
      when: isSafeStartWrite,
      run: async (campaignId) => {
        const lowered = await patchOnSandbox(stack.sandbox, campaignId, {
          dialerSettings: { callRate: safeCallRate },
        });
        expect(lowered.status).toBe(200);
        operatorVersion = Number(lowered.body.version);
      },
    });
    await expect(processLaunch(dyingBeforeFinish(), job)).rejects.toThrow('worker died');
    expect(hook, "the operator's change landed before the safe-start write").toBeUndefined();
    const id = String((await deps().launches.get(launchId))?.campaignId);

    await expect(processLaunch(deps(), job)).resolves.toMatchObject({ outcome: 'succeeded' });
    expect((await stack.ctx.cxone.getCampaign(id)).version, 'nothing written over the operator').toBe(
      operatorVersion,
    );
    const trail = await auditStoreFor(stack.ctx).list(id);
    expect(
      trail.filter((r) => r.action === 'pacing_decision').map((r) => r.details),
      'the operator lowered it, not the orchestrator',
    ).toEqual([]);
    expect(trail.find((r) => r.action === 'campaign_launched')?.details).toMatchObject({
      startedOutside: true,
    });
    const record = await createCampaignStore(stack.ctx).get(id);
    expect(record?.startedOutside).toBeDefined();
    expect(record?.pacing, 'no start anchor claimed').not.toMatchObject({ startAnchor: expect.anything() });
  });
});
