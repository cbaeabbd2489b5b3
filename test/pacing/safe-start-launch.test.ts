import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditTrailStore } from '../../src/shared/audit/trail.js';
import type { CampaignConfigInput } from '../../src/shared/campaign-config.js';
import type { AppContext } from '../../src/shared/context.js';
import { CXONE_ENDPOINTS, type HistoryRecord } from '../../src/shared/cxone/wire.js';
import {
  api,
  campaignConfig,
  patchOnSandbox,
  startStack,
  waitFor,
  waitForLaunch,
  type Stack,
} from '../e2e/stack.js';
import { pacingDecisions } from '../../src/shared/metrics.js';

/**
 * The safe start end to end: API → BullMQ → launch worker → sandbox over real HTTP, real Redis under
 * the test's own prefix. An aggressive predictive campaign must go active at the safe start rate in
 * the same versioned write as the activation, with a pacing_decision audit record and an event.
 */
describe('safe start at activation', () => {
  let stack: Stack;
  const published: Array<{ type: string; campaignId: string; data: Record<string, unknown> }> = [];
  /** Set by a test to act just before the launch worker's activation write reaches CXone. */
  let beforeActivation: ((campaignId: string) => Promise<void>) | null = null;

  beforeAll(async () => {
    stack = await startStack({
      launchWorker: true,
      ctxOverrides: (ctx: AppContext) => ({
        events: {
          ...ctx.events,
          publish: (type, campaignId, data) => {
            published.push({ type, campaignId, data });
            return ctx.events.publish(type, campaignId, data);
          },
        },
        cxone: {
          createCampaign: (...a) => ctx.cxone.createCampaign(...a),
          getCampaign: (...a) => ctx.cxone.getCampaign(...a),
          getStats: (...a) => ctx.cxone.getStats(...a),
          history: (...a) => ctx.cxone.history(...a),
          updateCampaign: async (id, version, body, opts) => {
            if (body.status === 'active' && beforeActivation) {
              const hook = beforeActivation;
              beforeActivation = null;
              await hook(id);
            }
            return ctx.cxone.updateCampaign(id, version, body, opts);
          },
        },
      }),
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const audit = () => stack.ctx.audit as AuditTrailStore;

  async function launch(overrides: Partial<CampaignConfigInput>): Promise<string> {
    const reply = await api(stack, 'POST', '/v1/campaigns', { body: campaignConfig(overrides) });
    expect(reply.status).toBe(202);
    const done = await waitForLaunch(stack, String(reply.body.launchId));
    expect(done).toMatchObject({ status: 'succeeded', campaignStatus: 'active' });
    return String(done.campaignId);
  }

  async function history(campaignId: string): Promise<HistoryRecord[]> {
    const records: HistoryRecord[] = [];
    for await (const page of stack.ctx.cxone.history(campaignId)) records.push(...page.records);
    return records;
  }

  const dialer = (callRate: number, answerRate: number) => ({
    strategy: 'predictive' as const,
    agentCapacity: 25,
    callRate,
    answerRate,
  });

  it('activates an aggressive predictive campaign at the safe start rate, in one versioned write', async () => {
    const downs = async () =>
      (await pacingDecisions.get()).values.find(
        (v) => v.labels.strategy === 'abandonment-target' && v.labels.direction === 'down',
      )?.value ?? 0;
    const downsBefore = await downs();
    const campaignId = await launch({ name: 'Aggressive', dialerStrategy: dialer(0.9, 0.35) });
    // Counted with the controller's decisions (cxo_pacing_decisions_total).
    expect(await downs()).toBe(downsBefore + 1);

    // CXone: the write that made it active also set the start rate; it never ran at 0.9 while active.
    const records = await history(campaignId);
    const activation = records.find((r) => r.changes.status?.to === 'active');
    expect(activation?.changes['dialerSettings.callRate']).toEqual({ from: 0.9, to: 0.1 });
    expect(records.filter((r) => r.version > (activation?.version ?? 0))).toEqual([]);
    const onCxone = await stack.ctx.cxone.getCampaign(campaignId);
    expect(onCxone).toMatchObject({ status: 'active', version: activation?.version });
    expect(onCxone.dialerSettings.callRate).toBe(0.1);

    // The audit trail: the decision with its inputs, at the activation's version.
    const trail = await audit().list(campaignId);
    expect(trail.map((r) => r.action)).toEqual(['campaign_created', 'campaign_launched', 'pacing_decision']);
    const decision = trail.find((r) => r.action === 'pacing_decision');
    expect(decision).toMatchObject({
      actor: 'worker:launch',
      cxoneVersion: activation?.version,
      details: {
        reason: 'safe start',
        inputs: {
          requestedCallRate: 0.9,
          answerRate: 0.35,
          assumedAnswerRate: 0.6,
          startCallRate: 0.1,
          declaredStartCallRate: 0.23,
        },
        output: { callRate: 0.1 },
        previousCallRate: 0.9,
        direction: 'down',
      },
    });

    // The event.
    const event = published.find((e) => e.type === 'campaign.pacing.adjusted' && e.campaignId === campaignId);
    expect(event?.data).toMatchObject({ reason: 'safe start', output: { callRate: 0.1 } });

    // The API shows CXone's rate and the decision; the controller starts from there.
    const view = await api(stack, 'GET', `/v1/campaigns/${campaignId}`);
    expect(view.body).toMatchObject({
      status: 'active',
      version: activation?.version,
      config: { dialerStrategy: { callRate: 0.1, answerRate: 0.35 } },
      pacing: {
        strategy: 'abandonment-target',
        state: null,
        lastDecision: { reason: 'safe start', previousCallRate: 0.9, callRate: 0.1 },
        // What the controller's first poll re-anchors on, once the statistics show the real rate.
        startAnchor: {
          requestedCallRate: 0.9,
          startCallRate: 0.1,
          declaredAnswerRate: 0.35,
          agents: 25,
          maxAnswersPerIdleAgent: 0.5,
        },
      },
    });
  });

  it('leaves threshold pacing and a request already under the safe start as requested', async () => {
    const threshold = await launch({
      name: 'Threshold',
      dialerStrategy: dialer(0.9, 0.35),
      pacing: { strategy: 'threshold' },
    });
    // The safe start is one line per idle agent (0.1): only a request at that floor is left as it is.
    const modest = await launch({ name: 'Modest', dialerStrategy: dialer(0.1, 0.35) });
    for (const campaignId of [threshold, modest]) {
      const requested = campaignId === threshold ? 0.9 : 0.1;
      expect((await stack.ctx.cxone.getCampaign(campaignId)).dialerSettings.callRate).toBe(requested);
      const actions = (await audit().list(campaignId)).map((r) => r.action);
      expect(actions).not.toContain('pacing_decision');
      expect(
        published.some((e) => e.type === 'campaign.pacing.adjusted' && e.campaignId === campaignId),
      ).toBe(false);
    }
  });

  it('records the safe start of an activation CXone applied but whose answer was lost (a 502 after the write)', async () => {
    // The activating PATCH (status active + the start's callRate) is carried out, then answered 502:
    // the job's retry finds the campaign active at the start. It used to take that for an activation
    // of nobody's: no pacing_decision, no event, no anchor (pacing never re-anchored up to 0.9).
    beforeActivation = async () => {
      const res = await fetch(`${stack.sandbox.url}/__sandbox/faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          failNext: 1,
          status: 502,
          applied: true,
          endpoint: CXONE_ENDPOINTS.updateCampaign,
        }),
      });
      expect(res.status).toBe(200);
    };
    const reply = await api(stack, 'POST', '/v1/campaigns', {
      body: campaignConfig({ name: 'Answer lost', dialerStrategy: dialer(0.9, 0.35) }),
    });
    const done = await waitForLaunch(stack, String(reply.body.launchId), undefined, 30_000);
    expect(done).toMatchObject({ status: 'succeeded', campaignStatus: 'active' });
    expect(beforeActivation).toBeNull();
    const campaignId = String(done.campaignId);

    // One activation on CXone, the one that carried the start; nothing written after it.
    const records = await history(campaignId);
    const activations = records.filter((r) => r.changes.status?.to === 'active');
    expect(activations).toHaveLength(1);
    expect(activations[0]?.changes['dialerSettings.callRate']).toEqual({ from: 0.9, to: 0.1 });
    expect(records.filter((r) => r.version > activations[0]!.version)).toEqual([]);

    const trail = await audit().list(campaignId);
    expect(trail.map((r) => r.action)).toEqual(['campaign_created', 'campaign_launched', 'pacing_decision']);
    expect(trail.find((r) => r.action === 'pacing_decision')).toMatchObject({
      actor: 'worker:launch',
      cxoneVersion: activations[0]?.version,
      details: {
        reason: 'safe start',
        inputs: { requestedCallRate: 0.9, startCallRate: 0.1 },
        output: { callRate: 0.1 },
        previousCallRate: 0.9,
      },
    });
    const events = published.filter(
      (e) => e.type === 'campaign.pacing.adjusted' && e.campaignId === campaignId,
    );
    expect(events).toHaveLength(1);
    expect(events[0]?.data).toMatchObject({ reason: 'safe start', output: { callRate: 0.1 } });

    const view = await api(stack, 'GET', `/v1/campaigns/${campaignId}`);
    expect(view.body).toMatchObject({
      status: 'active',
      config: { dialerStrategy: { callRate: 0.1 } },
      pacing: {
        state: null,
        lastDecision: { reason: 'safe start', previousCallRate: 0.9, callRate: 0.1 },
        startAnchor: { requestedCallRate: 0.9, startCallRate: 0.1, agents: 25, priorCallRate: 0.1 },
      },
    });
  });

  it('decides again after a version conflict: an operator who lowered the rate meanwhile wins', async () => {
    // Between the worker's read and its activation write, someone lowers callRate on CXone to 0.1,
    // the safe start itself: the 409 retry re-reads, and there is nothing left to lower.
    beforeActivation = async (id) => {
      const patched = await patchOnSandbox(stack.sandbox, id, { dialerSettings: { callRate: 0.1 } });
      expect(patched.status).toBe(200);
    };
    const campaignId = await launch({ name: 'Raced', dialerStrategy: dialer(0.9, 0.35) });
    expect(beforeActivation).toBeNull();
    const onCxone = await stack.ctx.cxone.getCampaign(campaignId);
    expect(onCxone).toMatchObject({ status: 'active' });
    expect(onCxone.dialerSettings.callRate).toBe(0.1);
    const actions = await waitFor('the launch audit', async () => {
      const list = (await audit().list(campaignId)).map((r) => r.action);
      return list.includes('campaign_launched') ? list : undefined;
    });
    expect(actions).not.toContain('pacing_decision');
    const view = await api(stack, 'GET', `/v1/campaigns/${campaignId}`);
    expect((view.body.config as { dialerStrategy: { callRate: number } }).dialerStrategy.callRate).toBe(0.1);
  });
});
