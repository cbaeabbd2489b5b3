import type { Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CxoneApi } from '../../src/shared/cxone/api.js';
import type { EventPublisherStore } from '../../src/shared/events/publisher.js';
import { enqueueCommand } from '../../src/shared/lifecycle/enqueue.js';
import { harnessWithAdjustWorker, progressive } from './dropped-answer.js';
import type { Harness } from './harness.js';

/**
 * A console change made between a command's first read and its PATCH: the If-Match meets a 409, the
 * command re-reads and writes on the new version, and its sync moves the record past the change.
 * That re-read is a read before the command writes as its first one is: what it shows changed
 * outside is announced, or no poll ever will.
 */
let h: Harness;
let worker: Worker;
/** Run once, just before the armed campaign's next PATCH is sent (a console change meanwhile). */
const before: { armed?: string; change?: (campaignId: string) => Promise<void> } = {};

function changingFirst(inner: CxoneApi): CxoneApi {
  return {
    createCampaign: (body, opts) => inner.createCampaign(body, opts),
    getCampaign: (id, opts) => inner.getCampaign(id, opts),
    getStats: (id, opts) => inner.getStats(id, opts),
    history: (id, opts) => inner.history(id, opts),
    async updateCampaign(id, version, body, opts) {
      if (before.armed === id) {
        before.armed = undefined;
        await before.change?.(id);
      }
      return inner.updateCampaign(id, version, body, opts);
    },
  };
}

beforeAll(async () => {
  ({ h, worker } = await harnessWithAdjustWorker(changingFirst));
});

afterAll(async () => {
  await worker?.close();
  await h?.close();
});

async function outsideEvents(campaignId: string) {
  const recent = await (h.ctx.events as EventPublisherStore).recent(100, campaignId);
  return recent.filter((e) => e.data['reason'] === 'outside');
}

describe('a console change a command meets as a 409 and writes over', () => {
  it('is announced as changed outside, from the record', async () => {
    const campaign = await h.campaign('active', progressive);
    let consoleVersion = 0;
    before.armed = campaign.id;
    before.change = async (id) => {
      consoleVersion = (await h.consoleChange(id, { name: 'Renamed in the console' })).version;
    };
    const { commandId } = await enqueueCommand(h.ctx, {
      campaignId: campaign.id,
      actor: 'api:lee',
      reason: 'operator',
      action: 'pause',
    });
    expect(await h.waitForCommand(commandId)).toMatchObject({
      status: 'succeeded',
      result: { status: 'paused', rebases: 1 },
    });
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
