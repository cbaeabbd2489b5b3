import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { historyJobId } from '../../src/shared/audit/history-sync.js';
import { auditStoreFor } from '../../src/shared/audit/trail.js';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import { windowJobId } from '../../src/shared/compliance/enforcement.js';
import type { AppContext } from '../../src/shared/context.js';
import { pollSchedulerId } from '../../src/shared/polling/schedulers.js';
import {
  api,
  campaignConfig,
  patchOnSandbox,
  sandboxStatus,
  startStack,
  waitForLaunch,
  zoneAtNight,
  type Stack,
} from '../e2e/stack.js';
import { recording, type Recorded } from './recording.js';

/**
 * CXone lets an operator start a draft from its console (draft → active). A launch creates its
 * campaign as a draft and schedules it next; an operator who starts the draft in between — while the
 * schedule write waits for the fleet's budget, say — makes that write meet a 409 and the re-read find
 * the campaign running. The launch must take it over as it takes over a campaign activated before its
 * start (early-activation.test.ts), not fail and cancel the operator's campaign. The launch worker
 * and the API over real Redis, the sandbox over HTTP; the console's change lands just before the
 * schedule write is sent.
 */
describe('a launch whose draft an operator started before the launch scheduled it', () => {
  const recorded: Recorded = { audit: [], events: [] };
  let stack: Stack;
  /** Runs once, just before the launch's schedule write is sent (after it was decided). */
  let beforeSchedule: ((campaignId: string) => Promise<void>) | undefined;
  /** Set: the next safe-start write (a callRate alone) is lost on the way, as a connection reset. */
  let dropSafeStart = false;
  /**
   * Set: the next safe-start write is applied on CXone, its answer lost (a timeout after the commit);
   * 'refreshed': and a read (the API's GET) syncs the record from CXone before the retry.
   */
  let loseSafeStartAnswer: boolean | 'refreshed' = false;

  beforeAll(async () => {
    stack = await startStack({
      launchWorker: true,
      ctxOverrides: recording(recorded, (cxone) => ({
        updateCampaign: async (...args: Parameters<AppContext['cxone']['updateCampaign']>) => {
          if (dropSafeStart && args[2].status === undefined && args[2].dialerSettings) {
            dropSafeStart = false;
            throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
          }
          if (loseSafeStartAnswer && args[2].status === undefined && args[2].dialerSettings) {
            const refreshed = loseSafeStartAnswer === 'refreshed';
            loseSafeStartAnswer = false;
            const applied = await cxone.updateCampaign(...args);
            if (refreshed) await createCampaignStore(stack.ctx).syncFromCxone(applied);
            throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
          }
          const hook = args[2].status === 'scheduled' ? beforeSchedule : undefined;
          if (hook) {
            beforeSchedule = undefined;
            await hook(args[0]);
          }
          return cxone.updateCampaign(...args);
        },
      })),
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  /** Launches a campaign due now whose draft the console changes as `console` says; the finished launch. */
  async function launchStartedInConsole(
    console: Array<Record<string, unknown>>,
    overrides: Parameters<typeof campaignConfig>[0] = {},
  ) {
    beforeSchedule = async (campaignId) => {
      for (const body of console)
        expect((await patchOnSandbox(stack.sandbox, campaignId, body)).status).toBe(200);
    };
    const reply = await api(stack, 'POST', '/v1/campaigns', {
      body: campaignConfig({ startDateTime: new Date().toISOString(), ...overrides }),
    });
    expect(reply.status).toBe(202);
    const launch = await waitForLaunch(stack, String(reply.body.launchId));
    expect(beforeSchedule, 'the console changed the draft before the schedule write').toBeUndefined();
    return { launch, launchId: String(reply.body.launchId), campaignId: String(launch.campaignId) };
  }

  it('succeeds and takes the running campaign over: not cancelled, audited, announced, paced from the safe start, watched', async () => {
    const { launch, launchId, campaignId } = await launchStartedInConsole([{ status: 'active' }]);

    expect(launch).toMatchObject({ status: 'succeeded', campaignStatus: 'active' });
    expect(launch).not.toHaveProperty('error');
    expect(sandboxStatus(stack.sandbox, campaignId)).toBe('active');
    // It was dialing at the requested 0.5 with no statistic seen: brought down to the safe start.
    const onCxone = await stack.ctx.cxone.getCampaign(campaignId);
    expect(onCxone.dialerSettings.callRate).toBeLessThan(0.5);
    expect(launch.cxoneVersion).toBe(onCxone.version);

    const trail = await auditStoreFor(stack.ctx).list(campaignId);
    expect(trail.map((r) => r.action)).toEqual([
      'campaign_created',
      'state_changed',
      'campaign_launched',
      'pacing_decision',
    ]);
    expect(trail[1]!.details).toMatchObject({
      launchId,
      from: 'draft',
      to: 'active',
      changedIn: 'cxone',
    });
    expect(trail[2]!.details).toMatchObject({ launchId, status: 'active', startedOutside: true });
    expect(trail[3]!.details).toMatchObject({
      reason: 'safe start',
      previousCallRate: 0.5,
      output: { callRate: onCxone.dialerSettings.callRate },
    });
    expect(
      recorded.events
        .filter((e) => e.type === 'campaign.state.changed' && e.data.from === 'draft')
        .map((e) => e.data),
    ).toEqual([
      { from: 'draft', to: 'active', version: expect.any(Number), reason: 'activated-outside-before-start' },
    ]);
    expect(recorded.events.filter((e) => e.type === 'campaign.launch.failed')).toEqual([]);
    expect(
      recorded.events.filter((e) => e.type === 'campaign.launch.succeeded' && e.data.launchId === launchId),
    ).toEqual([expect.objectContaining({ data: expect.objectContaining({ status: 'active' }) })]);

    // Watched: polled, kept to its calling windows, its record synced; CXone's account of who
    // started it is imported into the trail.
    expect(await stack.ctx.queues.poll.getJobScheduler(pollSchedulerId(campaignId))).toBeDefined();
    expect(await stack.ctx.queues.compliance.getJob(windowJobId(campaignId))).toBeDefined();
    const record = await createCampaignStore(stack.ctx).get(campaignId);
    expect(record).toMatchObject({ status: 'active', launchId });
    expect(record!.config.dialerStrategy.callRate).toBe(onCxone.dialerSettings.callRate);
    const started = trail[1]!.cxoneVersion!;
    expect((await stack.ctx.queues.audit.getJob(historyJobId(campaignId, started)))?.data).toEqual({
      campaignId,
      version: started,
    });
  });

  it('finishes the takeover on the run after one that died at its safe-start write: safe start, launched as started outside', async () => {
    // The first run marked the record started outside (its sync), then its safe-start write was lost
    // on the way (nothing applied) and the job went back for a retry. That run found the record marked,
    // took the campaign for the launch's own activation with its answer lost, left it dialing at the
    // operator's 0.5 with no statistic seen and recorded campaign_launched as the orchestrator's start.
    dropSafeStart = true;
    const eventsBefore = recorded.events.length;
    const { launch, launchId, campaignId } = await launchStartedInConsole([{ status: 'active' }]);

    expect(dropSafeStart, 'the first safe-start write was dropped').toBe(false);
    expect(launch).toMatchObject({ status: 'succeeded', campaignStatus: 'active' });
    const onCxone = await stack.ctx.cxone.getCampaign(campaignId);
    expect(onCxone.dialerSettings.callRate).toBeLessThan(0.5);
    const trail = await auditStoreFor(stack.ctx).list(campaignId);
    expect(trail.map((r) => r.action)).toEqual([
      'campaign_created',
      'state_changed',
      'campaign_launched',
      'pacing_decision',
    ]);
    expect(trail[2]!.details).toMatchObject({ launchId, status: 'active', startedOutside: true });
    expect(trail[3]!.details).toMatchObject({ reason: 'safe start', previousCallRate: 0.5 });
    // Announced once, by the run that took it over.
    expect(
      recorded.events
        .slice(eventsBefore)
        .filter((e) => e.type === 'campaign.state.changed' && e.data.from === 'draft'),
    ).toHaveLength(1);
  });

  it.each([
    ['', true],
    [', a read refreshing the record from CXone before the retry', 'refreshed'],
  ] as const)(
    "records the takeover's safe start on the run after one whose safe-start write was applied with its answer lost%s",
    async (_, how) => {
      // The first run marked the record started outside, and its safe-start write reached CXone but its
      // answer was lost. The retry finds the campaign at the safe start already: no write is due, but the
      // start must still be recorded (its pacing_decision, the record's anchor), as a launch's own
      // activation found in place is — left out, pacing had no anchor and the trail no safe start.
      loseSafeStartAnswer = how;
      const { launch, launchId, campaignId } = await launchStartedInConsole([{ status: 'active' }]);

      expect(loseSafeStartAnswer, 'the first safe-start answer was lost').toBe(false);
      expect(launch).toMatchObject({ status: 'succeeded', campaignStatus: 'active' });
      const onCxone = await stack.ctx.cxone.getCampaign(campaignId);
      expect(onCxone.dialerSettings.callRate).toBeLessThan(0.5);
      const trail = await auditStoreFor(stack.ctx).list(campaignId);
      expect(trail.map((r) => r.action)).toEqual([
        'campaign_created',
        'state_changed',
        'campaign_launched',
        'pacing_decision',
      ]);
      expect(trail[2]!.details).toMatchObject({ launchId, status: 'active', startedOutside: true });
      expect(trail[3]!.details).toMatchObject({
        reason: 'safe start',
        previousCallRate: 0.5,
        output: { callRate: onCxone.dialerSettings.callRate },
      });
      const record = await createCampaignStore(stack.ctx).get(campaignId);
      expect(record!.pacing).toMatchObject({
        startAnchor: { requestedCallRate: 0.5, priorCallRate: 0.5 },
      });
    },
  );

  it('succeeds and leaves a draft the operator started and paused paused, not cancelled', async () => {
    const { launch, launchId, campaignId } = await launchStartedInConsole([
      { status: 'active' },
      { status: 'paused' },
    ]);

    expect(launch).toMatchObject({ status: 'succeeded', campaignStatus: 'paused' });
    expect(sandboxStatus(stack.sandbox, campaignId)).toBe('paused');
    const trail = await auditStoreFor(stack.ctx).list(campaignId);
    expect(trail.map((r) => [r.action, r.details.to])).toEqual([
      ['campaign_created', undefined],
      ['state_changed', 'paused'],
      ['campaign_launched', undefined],
    ]);
    expect(trail[1]!.details).toMatchObject({ launchId, from: 'draft', changedIn: 'cxone' });
    expect(await stack.ctx.queues.poll.getJobScheduler(pollSchedulerId(campaignId))).toBeDefined();
    expect(await stack.ctx.queues.compliance.getJob(windowJobId(campaignId))).toBeDefined();
    expect(recorded.events.filter((e) => e.type === 'campaign.launch.failed')).toEqual([]);
  });

  it('keeps a draft the operator started outside its calling window to it: its window close is due at once', async () => {
    // Started at night in the campaign's zone: the launch would have planned its start for the next
    // open, but it is dialing now. The takeover must not leave it dialing until some later close.
    const before = Date.now();
    const { launch, campaignId } = await launchStartedInConsole([{ status: 'active' }], {
      complianceTimeZone: zoneAtNight(),
    });

    expect(launch).toMatchObject({ status: 'succeeded', campaignStatus: 'active' });
    const trail = await auditStoreFor(stack.ctx).list(campaignId);
    const takeover = trail.find((r) => r.details.from === 'draft');
    // The start it would have had: the next open, in the future.
    expect(Date.parse(String(takeover?.details.plannedStart))).toBeGreaterThan(Date.now());
    // Window enforcement pauses it now: its close is planned for the moment of the takeover, not later.
    const job = await stack.ctx.queues.compliance.getJob(windowJobId(campaignId));
    expect(job?.data).toMatchObject({ kind: 'close' });
    expect((job?.data as { atMs: number }).atMs).toBeGreaterThanOrEqual(before);
    expect((job?.data as { atMs: number }).atMs).toBeLessThanOrEqual(Date.now());
  });
});
