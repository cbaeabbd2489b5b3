import type { Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventPublisherStore } from '../../src/shared/events/publisher.js';
import { enqueueCommand } from '../../src/shared/lifecycle/enqueue.js';
import { announceOutsideChange } from '../../src/shared/polling/outside-announce.js';
import {
  droppingAnswer,
  harnessWithAdjustWorker,
  progressive,
  type DroppedAnswer,
} from './dropped-answer.js';
import type { Harness } from './harness.js';

/**
 * A change made in CXone's console that a command reads (its first read, before it writes) before any
 * poll did: the command's sync of its own write then moves the record past it, and the poll finds
 * nothing to tell. The command announces it as changed outside, under the name the poll would use —
 * but not its own write, applied by an earlier run whose answer was lost: the command's saved send
 * (the version its If-Match named, the values it set) tells that one apart.
 */
let h: Harness;
let worker: Worker;
const drop: DroppedAnswer = {};

beforeAll(async () => {
  ({ h, worker } = await harnessWithAdjustWorker((inner) => droppingAnswer(inner, drop)));
});

afterAll(async () => {
  await worker?.close();
  await h?.close();
});

async function outsideEvents(campaignId: string) {
  const recent = await (h.ctx.events as EventPublisherStore).recent(100, campaignId);
  return recent.filter((e) => e.data['reason'] === 'outside');
}

describe('a console change a command reads before the next poll', () => {
  it('is announced as changed outside, once, under the name the poll would use', async () => {
    const campaign = await h.campaign('active', progressive);
    const changed = await h.consoleChange(campaign.id, { dialerSettings: { agentCapacity: 25 } });
    const { commandId } = await enqueueCommand(h.ctx, {
      campaignId: campaign.id,
      actor: 'api:lee',
      reason: 'operator',
      action: 'pause',
    });
    expect(await h.waitForCommand(commandId)).toMatchObject({ status: 'succeeded' });
    const told = await outsideEvents(campaign.id);
    expect(told.map((e) => [e.type, e.data['version'], e.data['changes']])).toEqual([
      [
        'campaign.settings.changed',
        changed.version,
        [{ field: 'dialerStrategy.agentCapacity', from: 20, to: 25 }],
      ],
    ]);
    // A poll (or a refreshing GET) that had read the same version first tells it under the same
    // name: the command's announcement is that one, not a second.
    await announceOutsideChange(h.ctx, campaign.id, campaign, changed);
    expect((await outsideEvents(campaign.id)).map((e) => e.id)).toEqual(told.map((e) => e.id));
  });

  it("does not announce the command's own write, applied by an earlier run whose answer was lost", async () => {
    const campaign = await h.campaign('active', progressive);
    drop.armed = campaign.id;
    drop.afterApplied = undefined;
    const { commandId } = await enqueueCommand(h.ctx, {
      campaignId: campaign.id,
      actor: 'api:lee',
      reason: 'operator',
      action: 'pause',
      patch: { dialerStrategy: { agentCapacity: 30 } },
      base: { 'dialerStrategy.agentCapacity': 20, status: 'active' },
    });
    const done = await h.waitForCommand(commandId);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 2, result: { status: 'paused' } });
    expect(await outsideEvents(campaign.id)).toEqual([]);
  });

  it('announces a console change it read once, though its write was applied with the answer lost', async () => {
    // The first run reads the console's change and announces it; its write lands, its answer is lost.
    // The retry reads the version after its write: compared with a record left at the version before
    // the console's change, that change is still there, and was announced again under the new version.
    const campaign = await h.campaign('active', progressive);
    const changed = await h.consoleChange(campaign.id, { name: 'Renamed in the console' });
    drop.armed = campaign.id;
    drop.afterApplied = undefined;
    const { commandId } = await enqueueCommand(h.ctx, {
      campaignId: campaign.id,
      actor: 'api:lee',
      reason: 'operator',
      action: 'pause',
      patch: { dialerStrategy: { agentCapacity: 30 } },
      base: { 'dialerStrategy.agentCapacity': 20, status: 'active' },
    });
    const done = await h.waitForCommand(commandId);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 2, result: { status: 'paused' } });
    const told = await outsideEvents(campaign.id);
    expect(told.map((e) => [e.type, e.data['version'], e.data['changes']])).toEqual([
      [
        'campaign.settings.changed',
        changed.version,
        [{ field: 'name', from: campaign.name, to: 'Renamed in the console' }],
      ],
    ]);
  });

  it('announces a console change beside the lost-answer write, without the write', async () => {
    const campaign = await h.campaign('active', progressive);
    drop.armed = campaign.id;
    let consoleVersion = 0;
    drop.afterApplied = async (id) => {
      consoleVersion = (await h.consoleChange(id, { name: 'Renamed in the console' })).version;
    };
    const { commandId } = await enqueueCommand(h.ctx, {
      campaignId: campaign.id,
      actor: 'api:lee',
      reason: 'operator',
      action: 'pause',
      patch: { dialerStrategy: { agentCapacity: 30 } },
      base: { 'dialerStrategy.agentCapacity': 20, status: 'active' },
    });
    const done = await h.waitForCommand(commandId);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 2, result: { status: 'paused' } });
    const told = await outsideEvents(campaign.id);
    expect(told.map((e) => [e.type, e.data['version'], e.data['changes']])).toEqual([
      [
        'campaign.settings.changed',
        consoleVersion,
        [{ field: 'name', from: campaign.name, to: 'Renamed in the console' }],
      ],
    ]);
  });
});
