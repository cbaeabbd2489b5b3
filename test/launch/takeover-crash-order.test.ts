import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { submitLaunch } from '../../src/producers/launch-submit.js';
import { auditStoreFor } from '../../src/shared/audit/trail.js';
import { campaignConfigSchema } from '../../src/shared/campaign-schema.js';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import type { AppContext } from '../../src/shared/context.js';
import { toCreateCampaignRequest } from '../../src/shared/cxone/to-wire.js';
import { startingCallRate } from '../../src/shared/pacing/start.js';
import { recordStartedOutside } from '../../src/shared/started-outside.js';
import { runningFoundOnRead } from '../../src/workers/launch-plan.js';
import { processActivate, processLaunch } from '../../src/workers/launch-worker.js';
import { campaignConfig, patchOnSandbox, startStack, type Stack } from '../e2e/stack.js';
import { fakeActivationJob, launchWorkerDeps } from './activation-job.js';

/**
 * A takeover (a campaign an operator started in CXone's console, found by a launch's run or by its
 * delayed activation) dying between two writes: its safe-start write and the record's sync. Both
 * paths must decide alike on what an earlier run left, and the next run must finish what it began —
 * write the safe start, or record the one CXone applied with its answer lost — never take the
 * campaign for the launch's own start, nor write twice. The workers' own functions over real Redis,
 * the sandbox over HTTP; CXone's answers are lost, and the console's changes land, at chosen writes.
 */
describe('a takeover that dies between its safe-start write and its sync', () => {
  let stack: Stack;
  /**
   * Runs just before the next write the predicate picks is sent: `drop` loses it on the way (nothing
   * applied), `lose` lets CXone apply it and loses the answer; anything else sends it as it is.
   */
  let hook:
    | {
        when: (body: Record<string, unknown>) => boolean;
        run: (campaignId: string) => Promise<'drop' | 'lose' | void>;
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
            if (what === 'drop') throw reset();
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
  const trailOf = (id: string) => auditStoreFor(stack.ctx).list(id);
  const deps = () => launchWorkerDeps(stack.ctx);
  const safeCallRate = startingCallRate(campaignConfigSchema.parse(campaignConfig()), {
    dialing: true,
  })!.callRate;

  /** A campaign its launch scheduled (record synced with the launch's config), due now. */
  async function scheduledCampaign(launchId: string, overrides: Parameters<typeof campaignConfig>[0] = {}) {
    const config = campaignConfigSchema.parse(campaignConfig(overrides));
    const created = await stack.ctx.cxone.createCampaign(toCreateCampaignRequest(config));
    const scheduled = await stack.ctx.cxone.updateCampaign(created.id, created.version, {
      status: 'scheduled',
    });
    await createCampaignStore(stack.ctx).syncFromCxone(scheduled, { config, launchId });
    return { id: created.id, config };
  }

  /** The safe start is written and recorded once, as the run that took the campaign over would have. */
  async function expectSafeStartRecorded(id: string, launchId: string) {
    const onCxone = await stack.ctx.cxone.getCampaign(id);
    expect(onCxone).toMatchObject({ status: 'active', dialerSettings: { callRate: safeCallRate } });
    const trail = await trailOf(id);
    expect(trail.filter((r) => r.action === 'state_changed')).toHaveLength(1);
    expect(trail.filter((r) => r.action === 'pacing_decision').map((r) => r.details)).toEqual([
      expect.objectContaining({
        reason: 'safe start',
        previousCallRate: 0.5,
        output: { callRate: safeCallRate },
      }),
    ]);
    expect(trail.find((r) => r.action === 'campaign_launched')?.details).toMatchObject({
      launchId,
      startedOutside: true,
    });
    const record = await createCampaignStore(stack.ctx).get(id);
    expect(record?.startedOutside).toBeDefined();
    expect(record?.pacing).toMatchObject({
      startAnchor: { requestedCallRate: 0.5, startCallRate: safeCallRate, priorCallRate: 0.5 },
    });
    return onCxone;
  }

  it('the launch and the activation job carry on alike a takeover marked on the record with no safe start recorded', async () => {
    // The launch's run: the operator starts the draft before its schedule write; the takeover marks
    // the record (its sync) and its safe-start write is lost on the way; the job goes back for a retry.
    const config = campaignConfigSchema.parse(campaignConfig({ startDateTime: new Date().toISOString() }));
    const { launchId } = await submitLaunch(stack.ctx, { config, actor: 'test' });
    const job = (await stack.ctx.queues.launch.getJob(launchId)) as Job;
    hook = {
      when: (body) => body['status'] === 'scheduled',
      run: async (campaignId) => {
        expect((await patchOnSandbox(stack.sandbox, campaignId, { status: 'active' })).status).toBe(200);
        hook = { when: isSafeStartWrite, run: async () => 'drop' };
      },
    };
    await expect(processLaunch(deps(), job)).rejects.toThrow('socket hang up');
    expect(hook, 'the safe-start write was dropped').toBeUndefined();
    const launched = String((await deps().launches.get(launchId))?.campaignId);

    // The activation job's: the same state, as a takeover at the start whose write was lost leaves it.
    const other = await scheduledCampaign('launch-agree');
    await patchOnSandbox(stack.sandbox, other.id, { status: 'active' });
    const current = await stack.ctx.cxone.getCampaign(other.id);
    await recordStartedOutside(stack.ctx, current, {
      launchId: 'launch-agree',
      from: 'scheduled',
      reason: 'activated outside the orchestrator before its start',
    });
    await createCampaignStore(stack.ctx).syncFromCxone(current, {
      launchId: 'launch-agree',
      startedOutside: { at: new Date().toISOString(), from: 'scheduled' },
    });

    // One rule reads both records alike: a takeover to carry on, from the rate it was found dialing at.
    const records = await Promise.all(
      [launched, other.id].map((id) => createCampaignStore(stack.ctx).get(id)),
    );
    for (const record of records) {
      expect(record).toMatchObject({ status: 'active', startedOutside: expect.anything() });
      expect(record?.pacing).toBeUndefined();
      expect(runningFoundOnRead('active', record, 0.5)).toEqual({
        kind: 'takeoverUnfinished',
        plannedFrom: 0.5,
      });
    }

    // And both paths' next runs act on it alike: the safe start written, recorded, launched as a takeover.
    await expect(processLaunch(deps(), job)).resolves.toMatchObject({ outcome: 'succeeded' });
    await expect(
      processActivate(deps(), fakeActivationJob(other.id, 'launch-agree').job, 'token'),
    ).resolves.toMatchObject({ outcome: 'succeeded', campaignStatus: 'active' });
    await expectSafeStartRecorded(launched, launchId);
    await expectSafeStartRecorded(other.id, 'launch-agree');
  });

  it.each([
    ['before its start (a look)', 2 * 86_400_000],
    ['at its start', 0],
  ])(
    'the activation job records, on its next run, the safe start of a takeover %s whose write CXone applied with its answer lost',
    async (_, startInMs) => {
      const launchId = `launch-lost-${startInMs}`;
      const start = new Date(Date.now() + startInMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
      const { id } = await scheduledCampaign(launchId, { startDateTime: start });
      await patchOnSandbox(stack.sandbox, id, { status: 'active' });
      hook = { when: isSafeStartWrite, run: async () => 'lose' };
      // The answer is lost; the worker goes no further (this run fails, as a crash before its sync would).
      await expect(processActivate(deps(), fakeActivationJob(id, launchId).job, 'token')).rejects.toThrow(
        'socket hang up',
      );
      expect(hook, 'the safe-start write was applied, its answer lost').toBeUndefined();
      const applied = await stack.ctx.cxone.getCampaign(id);
      expect(applied.dialerSettings.callRate).toBe(safeCallRate);

      await expect(
        processActivate(deps(), fakeActivationJob(id, launchId).job, 'token'),
      ).resolves.toMatchObject({ outcome: 'succeeded', campaignStatus: 'active' });
      const onCxone = await expectSafeStartRecorded(id, launchId);
      // Found in place: not written again.
      expect(onCxone.version).toBe(applied.version);
    },
  );

  it("records, on the next run, the safe start of a takeover of an operator's activation that beat the job's own, whose write CXone applied with its answer lost", async () => {
    const launchId = 'launch-beaten-lost';
    const { id } = await scheduledCampaign(launchId);
    // The operator activates it as the job's own activation leaves: that write meets a 409, the re-read
    // finds it active, and the run takes it over; its safe-start write is applied, its answer lost.
    hook = {
      when: (body) => body['status'] === 'active',
      run: async (campaignId) => {
        expect((await patchOnSandbox(stack.sandbox, campaignId, { status: 'active' })).status).toBe(200);
        hook = { when: isSafeStartWrite, run: async () => 'lose' };
      },
    };
    await expect(processActivate(deps(), fakeActivationJob(id, launchId).job, 'token')).rejects.toThrow(
      'socket hang up',
    );
    expect(hook, 'the safe-start write was applied, its answer lost').toBeUndefined();
    const applied = await stack.ctx.cxone.getCampaign(id);
    expect(applied.dialerSettings.callRate).toBe(safeCallRate);

    await expect(
      processActivate(deps(), fakeActivationJob(id, launchId).job, 'token'),
    ).resolves.toMatchObject({
      outcome: 'succeeded',
      campaignStatus: 'active',
    });
    const onCxone = await expectSafeStartRecorded(id, launchId);
    expect(onCxone.version).toBe(applied.version);
  });

  /**
   * A launch whose draft the operator starts before its schedule write, and whose settings the operator
   * changes again (`callRate`) between the takeover's read and its safe-start write: that write meets a
   * 409. Returns the finished launch's campaign and the CXone writes the takeover sent.
   */
  async function takeoverBeatenBy(callRate: number) {
    const config = campaignConfigSchema.parse(campaignConfig({ startDateTime: new Date().toISOString() }));
    const { launchId } = await submitLaunch(stack.ctx, { config, actor: 'test' });
    const job = (await stack.ctx.queues.launch.getJob(launchId)) as Job;
    const safeStartWrites: number[] = [];
    hook = {
      when: (body) => body['status'] === 'scheduled',
      run: async (campaignId) => {
        expect((await patchOnSandbox(stack.sandbox, campaignId, { status: 'active' })).status).toBe(200);
        hook = {
          when: isSafeStartWrite,
          run: async (id) => {
            const changed = await patchOnSandbox(stack.sandbox, id, { dialerSettings: { callRate } });
            expect(changed.status).toBe(200);
            safeStartWrites.push(Number(changed.body.version));
          },
        };
      },
    };
    await expect(processLaunch(deps(), job)).resolves.toMatchObject({ outcome: 'succeeded' });
    expect(hook, "the operator's change landed before the safe-start write").toBeUndefined();
    const campaignId = String((await deps().launches.get(launchId))?.campaignId);
    return { launchId, campaignId, operatorVersion: safeStartWrites[0]! };
  }

  it("applies the safe start on the operator's newer version when their change since the takeover's read (a 409) still dials above it", async () => {
    const { campaignId, operatorVersion } = await takeoverBeatenBy(0.9);

    // Re-read, decided again on what the operator left: 0.9 is above the safe start, so it is lowered —
    // on the operator's version (If-Match), and recorded from the rate it was dialing at.
    const onCxone = await stack.ctx.cxone.getCampaign(campaignId);
    expect(onCxone).toMatchObject({ status: 'active', dialerSettings: { callRate: safeCallRate } });
    expect(onCxone.version).toBe(operatorVersion + 1);
    const decisions = (await trailOf(campaignId)).filter((r) => r.action === 'pacing_decision');
    expect(decisions.map((r) => r.details)).toEqual([
      expect.objectContaining({
        reason: 'safe start',
        previousCallRate: 0.9,
        output: { callRate: safeCallRate },
      }),
    ]);
    const record = await createCampaignStore(stack.ctx).get(campaignId);
    expect(record?.pacing).toMatchObject({ startAnchor: { requestedCallRate: 0.9, priorCallRate: 0.9 } });
    expect(record?.config.dialerStrategy.callRate).toBe(safeCallRate);
  });

  it("leaves the operator's newer rate when it is already at or below the safe start: nothing written, no safe start claimed", async () => {
    const { campaignId, operatorVersion } = await takeoverBeatenBy(safeCallRate);

    const onCxone = await stack.ctx.cxone.getCampaign(campaignId);
    expect(onCxone).toMatchObject({ status: 'active', dialerSettings: { callRate: safeCallRate } });
    expect(onCxone.version, 'nothing written over the operator').toBe(operatorVersion);
    const trail = await trailOf(campaignId);
    expect(trail.filter((r) => r.action === 'pacing_decision')).toEqual([]);
    expect(trail.find((r) => r.action === 'campaign_launched')?.details).toMatchObject({
      startedOutside: true,
    });
    // The record shows what CXone holds now (the operator's version), not the rate the takeover read.
    const record = await createCampaignStore(stack.ctx).get(campaignId);
    expect(record).toMatchObject({ version: operatorVersion, startedOutside: expect.anything() });
    expect(record?.config.dialerStrategy.callRate).toBe(safeCallRate);
  });
});
