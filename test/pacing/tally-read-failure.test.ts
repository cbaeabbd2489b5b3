import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CampaignStore } from '../../src/shared/campaign-store.js';
import type { AppContext } from '../../src/shared/context.js';
import { deferralKey } from '../../src/shared/pacing/deferrals.js';
import { TALLY_FAILURE_WARN_INTERVAL_MS } from '../../src/shared/pacing/deferrals.js';
import { pacingTurn } from '../../src/shared/pacing/turn.js';
import { startHarness, type Harness } from '../lifecycle/harness.js';
import { recordingLogger, type LogLine } from '../support/log-capture.js';

/**
 * The deferral episode is read in the turn's round trip with the record and the command order, but it
 * only feeds the info line of an episode's end: a failure of that one read (here a real WRONGTYPE, the
 * episode's key holding a string, under the harness's private prefix) is logged at warn and read as no
 * open episode; the turn runs its step as it would have.
 */
describe('pacing turn whose deferral episode cannot be read', () => {
  let h: Harness;
  let lines: LogLine[];
  let ctx: AppContext;

  beforeAll(async () => {
    h = await startHarness();
    const recorded = recordingLogger('debug');
    lines = recorded.lines;
    ctx = { ...h.ctx, logger: recorded.logger } as AppContext;
  });

  afterAll(async () => {
    await h?.close();
  });

  it('runs the step, warns once, and reads no episode', async () => {
    const campaign = await h.campaign('active');
    const key = deferralKey(h.ctx, campaign.id);
    await h.ctx.redis.set(key, 'not a hash');
    const seen = (await new CampaignStore(h.ctx).get(campaign.id))!;

    let stepped = 0;
    const outcome = await pacingTurn(ctx, seen, async (record) => {
      stepped++;
      expect(record.campaignId).toBe(campaign.id);
      return 'paced' as const;
    });

    expect(outcome).toBe('paced');
    expect(stepped).toBe(1);
    const mine = lines.filter((l) => l.campaignId === campaign.id);
    const warned = mine.filter((l) => l.level === 40);
    expect(warned).toEqual([
      expect.objectContaining({
        msg: expect.stringMatching(/deferral episode could not be read/),
        err: expect.objectContaining({ message: expect.stringMatching(/WRONGTYPE/) }),
      }),
    ]);
    // No open episode was read, so none is ended (nothing deleted, no end line).
    expect(mine.filter((l) => /episode/.test(l.msg) && l.level === 30)).toEqual([]);
    expect(await h.ctx.redis.type(key)).toBe('string');
  });

  it('still defers, as ever, a turn on a campaign written since the poll read it', async () => {
    const campaign = await h.campaign('active');
    await h.ctx.redis.set(deferralKey(h.ctx, campaign.id), 'not a hash');
    const seen = (await new CampaignStore(h.ctx).get(campaign.id))!;
    // A command wrote the campaign after the poll read it: deferred, not failed.
    await h.ctx.cxone.updateCampaign(campaign.id, campaign.version, { name: 'Renamed by a command' });
    await new CampaignStore(h.ctx).syncFromCxone(await h.ctx.cxone.getCampaign(campaign.id));
    const outcome = await pacingTurn(ctx, seen, async () => 'paced' as const);
    expect(outcome).toMatchObject({ kind: 'deferred', reason: expect.stringMatching(/written/) });
  });

  it('warns once per campaign and error within an interval, however often the read fails', async () => {
    // The key stays unreadable (nothing deletes it): without a throttle every poll of the campaign,
    // every 15 s by default, would log the same line with its stack.
    const campaign = await h.campaign('active');
    await h.ctx.redis.set(deferralKey(h.ctx, campaign.id), 'not a hash');
    const warnings = () =>
      lines.filter(
        (l) => l.campaignId === campaign.id && l.level === 40 && /episode could not be read/.test(l.msg),
      );
    const turn = async () => {
      const seen = (await new CampaignStore(h.ctx).get(campaign.id))!;
      expect(await pacingTurn(ctx, seen, async () => 'paced' as const)).toBe('paced');
    };
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    try {
      for (let i = 0; i < 4; i++) await turn();
      expect(warnings()).toHaveLength(1);
      expect(warnings()[0]).not.toHaveProperty('suppressed');
      vi.setSystemTime(Date.now() + TALLY_FAILURE_WARN_INTERVAL_MS);
      await turn();
      expect(warnings()).toHaveLength(2);
      expect(warnings()[1]).toMatchObject({ suppressed: 3 });
    } finally {
      vi.useRealTimers();
    }
  });
});
