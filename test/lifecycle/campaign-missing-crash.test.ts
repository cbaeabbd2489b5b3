import { afterEach, describe, expect, it } from 'vitest';
import {
  clearMissingOnCxone,
  noteCleanupFoundMissing,
  noteMissingOnCxone,
} from '../../src/shared/campaign-missing.js';
import { CampaignStore } from '../../src/shared/campaign-store.js';
import { createTestContext, type TestContext } from '../compliance/redis-context.js';
import { died, dyingContext, eventWritten } from './dying-context.js';
import { campaignConfig } from './fixtures.js';

/**
 * A look that meets CXone's 404 claims the disappearance, then records and announces it. A process
 * that died after its claim (or after its event) left a retry to find the claim taken: before, it
 * answered the claim's time and told nothing, so `campaign.missing` was never published.
 */
let t: TestContext | undefined;

afterEach(async () => {
  await t?.close();
  t = undefined;
});

/** The claim: a cleanup's own `SET … NX`, or a look's record write that takes it with its note. */
const claimSet = (command: string, args: unknown[]) =>
  (command === 'set' && args.includes('NX')) ||
  ((command === 'evalsha' || command === 'eval') && args.some((a) => String(a).includes('missing-on-cxone')));

async function missingEvents(t: TestContext, campaignId: string) {
  return (await t.events.recent(50, campaignId)).filter((e) => e.type === 'campaign.missing');
}

async function missingRecords(t: TestContext, campaignId: string) {
  return (await t.audit.list(campaignId)).filter((r) => r.action === 'campaign_missing');
}

describe('campaign.missing after a crash', () => {
  for (const [at, dieAfter] of [
    ['its claim', claimSet],
    ['its event', eventWritten],
  ] as const) {
    it(`a poll that died after ${at} has its retry record and announce the disappearance, once`, async () => {
      t = await createTestContext('2026-11-29T10:00:00Z');
      await t.putCampaign('gone', campaignConfig(), 'active', 3);
      await noteMissingOnCxone(dyingContext(t.ctx, dieAfter), 'gone', 'poll').catch(died);

      t.clock.advance(60_000);
      const since = await noteMissingOnCxone(t.ctx, 'gone', 'poll');
      expect(since).toBe('2026-11-29T10:00:00.000Z');
      const events = await missingEvents(t, 'gone');
      expect(events.map((e) => e.data)).toEqual([
        { lastStatus: 'active', lastVersion: 3, seenBy: 'poll', since },
      ]);
      expect(await missingRecords(t, 'gone')).toHaveLength(1);
      expect((await new CampaignStore(t.ctx).get('gone'))?.missingOnCxone).toEqual({ since });

      // A read meeting the 404 later answers from the record's note, telling nothing again.
      await noteMissingOnCxone(t.ctx, 'gone', 'api', 'api:ops');
      expect((await missingEvents(t, 'gone')).map((e) => e.id)).toEqual([events[0]!.id]);
      expect(await missingRecords(t, 'gone')).toHaveLength(1);
    });
  }

  it("a failed launch's cleanup that died after its claim has its retry announce it, once", async () => {
    t = await createTestContext('2026-11-29T10:00:00Z');
    await noteCleanupFoundMissing(dyingContext(t.ctx, claimSet), 'c-never-recorded', 'lch_1').catch(died);
    await noteCleanupFoundMissing(t.ctx, 'c-never-recorded', 'lch_1');
    await noteCleanupFoundMissing(t.ctx, 'c-never-recorded', 'lch_1');
    const events = await missingEvents(t, 'c-never-recorded');
    expect(events.map((e) => e.data)).toEqual([
      { seenBy: 'cleanup', launchId: 'lch_1', since: '2026-11-29T10:00:00.000Z' },
    ]);
    expect(await missingRecords(t, 'c-never-recorded')).toHaveLength(1);
  });

  it('a poll and a read meeting the 404 together publish one event', async () => {
    t = await createTestContext('2026-11-29T10:00:00Z');
    await t.putCampaign('both', campaignConfig(), 'paused', 2);
    const [a, b] = await Promise.all([
      noteMissingOnCxone(t.ctx, 'both', 'poll'),
      noteMissingOnCxone(t.ctx, 'both', 'api', 'api:ops'),
    ]);
    expect(a).toBe(b);
    expect(await missingEvents(t, 'both')).toHaveLength(1);
    expect(await missingRecords(t, 'both')).toHaveLength(1);
  });

  it('a found-again that died after its first write leaves a later disappearance told under its own time', async () => {
    // Before, the record's note was cleared by one write and the claim by a second: a death between
    // them left the claim, and the next real disappearance was named by the old time, so its record
    // and event were taken for the old ones' repeats and neither was written.
    t = await createTestContext('2026-11-29T10:00:00Z');
    await t.putCampaign('back', campaignConfig(), 'active', 3);
    await noteMissingOnCxone(t.ctx, 'back', 'poll');
    const record = await new CampaignStore(t.ctx).get('back');
    const firstWrite = (command: string) => command === 'evalsha' || command === 'eval' || command === 'del';
    await clearMissingOnCxone(dyingContext(t.ctx, firstWrite), record!).catch(died);
    expect((await new CampaignStore(t.ctx).get('back'))?.missingOnCxone).toBeUndefined();

    t.clock.advance(3_600_000);
    const since = await noteMissingOnCxone(t.ctx, 'back', 'poll');
    expect(since).toBe('2026-11-29T11:00:00.000Z');
    expect((await missingEvents(t, 'back')).map((e) => (e.data as { since: string }).since).sort()).toEqual([
      '2026-11-29T10:00:00.000Z',
      since,
    ]);
    expect(await missingRecords(t, 'back')).toHaveLength(2);
  });
});
