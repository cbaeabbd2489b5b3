import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { historyJobId } from '../../src/shared/audit/history-sync.js';
import type { AuditTrailStore } from '../../src/shared/audit/trail.js';
import type { EventPublisherStore } from '../../src/shared/events/publisher.js';
import type { CampaignConfig } from '../../src/shared/campaign-config.js';
import { campaignConfigSchema } from '../../src/shared/campaign-schema.js';
import { CampaignStore } from '../../src/shared/campaign-store.js';
import { toCreateCampaignRequest } from '../../src/shared/cxone/to-wire.js';
import { watchLeftRunning } from '../../src/shared/started-outside.js';
import { campaignConfig, patchOnSandbox, startStack, type Stack } from '../e2e/stack.js';

/**
 * watchLeftRunning on its own, against real Redis and the sandbox: which config a record-less
 * campaign is stored with (the launch's, else its own launch's campaign_created record, else CXone's
 * alone), the start-outside mark on a record that already has one or whose sync was stale, and
 * the import of CXone's account of who started it.
 */
describe('watchLeftRunning', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ api: false });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const configFor = (states: string[]): CampaignConfig =>
    campaignConfigSchema.parse(
      campaignConfig({
        complianceTimeZone: 'America/New_York',
        allowedCallTimes: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '20:00' }],
        recipientStates: states as never,
      }),
    );

  /** A campaign created and then activated by an operator in CXone's console; its resource now. */
  const startedInConsole = async (config: CampaignConfig) => {
    const made = await stack.ctx.cxone.createCampaign(toCreateCampaignRequest(config));
    expect((await patchOnSandbox(stack.sandbox, made.id, { status: 'active' })).status).toBe(200);
    return stack.ctx.cxone.getCampaign(made.id);
  };

  /** The launch's campaign_created record, as its run writes it. */
  const createdRecord = (campaignId: string, launchId: string, config: CampaignConfig) =>
    stack.ctx.audit.append({
      campaignId,
      action: 'campaign_created',
      actor: 'worker:launch',
      details: { launchId, config },
      dedupeKey: `campaign_created:${launchId}`,
    });

  it("stores a record-less campaign on the launch's config, its recipient states kept as declared, and imports who started it", async () => {
    const current = await startedInConsole(configFor(['FL']));
    // A trail that says otherwise: the config in hand wins.
    await createdRecord(current.id, 'L-1', configFor(['GA']));
    const watch = await watchLeftRunning(stack.ctx, {
      launchId: 'L-1',
      current,
      record: null,
      config: configFor(['FL']),
      why: 'test',
    });
    expect(watch).toEqual({ watched: true });
    const record = await new CampaignStore(stack.ctx).get(current.id);
    expect(record?.config.recipientStates).toEqual(['FL']);
    expect(record?.declaredStates).toEqual(['FL']);
    expect(record?.startedOutside).toMatchObject({ from: 'draft' });
    expect(await stack.ctx.queues.audit.getJob(historyJobId(current.id, current.version))).toBeTruthy();
  });

  it("takes the config from the trail only from its own launch's campaign_created record", async () => {
    const current = await startedInConsole(configFor(['GA']));
    await createdRecord(current.id, 'L-other', configFor(['GA']));
    await watchLeftRunning(stack.ctx, { launchId: 'L-mine', current, record: null, why: 'test' });
    const record = await new CampaignStore(stack.ctx).get(current.id);
    // CXone's settings alone: no recipient state of another launch's.
    expect(record?.config.recipientStates ?? []).toEqual([]);

    const own = await startedInConsole(configFor(['GA']));
    await createdRecord(own.id, 'L-own', configFor(['GA']));
    await watchLeftRunning(stack.ctx, { launchId: 'L-own', current: own, record: null, why: 'test' });
    expect((await new CampaignStore(stack.ctx).get(own.id))?.config.recipientStates).toEqual(['GA']);
  });

  it('keeps the first mark of a start outside, and marks a record whose sync was stale', async () => {
    const campaigns = new CampaignStore(stack.ctx);
    const config = configFor(['FL']);
    // Already marked by an earlier path: the mark stays as it was.
    const marked = await startedInConsole(config);
    const first = { at: '2026-01-01T00:00:00.000Z', from: 'scheduled' as const };
    await campaigns.syncFromCxone(marked, { config, startedOutside: first });
    await watchLeftRunning(stack.ctx, {
      current: marked,
      record: await campaigns.get(marked.id),
      why: 'test',
    });
    expect((await campaigns.get(marked.id))?.startedOutside).toEqual(first);

    // The record holds a newer version than the one read (a read since): the mark is written all the same.
    const older = await startedInConsole(config);
    const newer = await stack.ctx.cxone.updateCampaign(older.id, older.version, {
      dialerSettings: { callRate: 0.2 },
    });
    await campaigns.syncFromCxone(newer, { config });
    const record = await campaigns.get(older.id);
    expect(record?.startedOutside).toBeUndefined();
    await watchLeftRunning(stack.ctx, { current: older, record, why: 'test' });
    expect((await campaigns.get(older.id))?.startedOutside).toMatchObject({ from: 'scheduled' });
  });

  it('announces the start outside on the next watch when the one that marked the record failed before announcing it', async () => {
    const campaigns = new CampaignStore(stack.ctx);
    const config = configFor(['FL']);
    const current = await startedInConsole(config);
    await campaigns.syncFromCxone(
      await stack.ctx.cxone.getCampaign(current.id).then((c) => ({ ...c, status: 'scheduled' as const })),
      { config, launchId: 'L-blip' },
    );
    // The first watch marks the record, then Redis refuses the poll scheduler's write (a failover): the
    // watch fails, as a worker dying there would leave it.
    const poll = Object.assign(Object.create(stack.ctx.queues.poll) as typeof stack.ctx.queues.poll, {
      upsertJobScheduler: async () => {
        throw new Error("READONLY You can't write against a read only replica.");
      },
    });
    const blip = { ...stack.ctx, queues: { ...stack.ctx.queues, poll } };
    const first = await watchLeftRunning(blip, {
      launchId: 'L-blip',
      current,
      record: await campaigns.get(current.id),
      why: 'test',
    });
    expect(first).toMatchObject({ watched: false });
    // The next watch (the stop the cleanup queued, a retry) reads the record as the first left it.
    const again = await watchLeftRunning(stack.ctx, {
      launchId: 'L-blip',
      current,
      record: await campaigns.get(current.id),
      why: 'test',
    });
    expect(again).toEqual({ watched: true });
    const trail = await (stack.ctx.audit as AuditTrailStore).list(current.id);
    expect(trail.filter((r) => r.action === 'state_changed').map((r) => r.details)).toEqual([
      expect.objectContaining({ from: 'scheduled', to: 'active', changedIn: 'cxone' }),
    ]);
    const events = await (stack.ctx.events as EventPublisherStore).recent(100, current.id);
    expect(events.filter((e) => e.type === 'campaign.state.changed')).toHaveLength(1);
    expect(await stack.ctx.queues.audit.getJob(historyJobId(current.id, current.version))).toBeTruthy();
  });
});
