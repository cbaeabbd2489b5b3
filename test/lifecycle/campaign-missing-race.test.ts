import { afterEach, describe, expect, it } from 'vitest';
import {
  clearMissingOnCxone,
  missingMarkerKey,
  noteMissingOnCxone,
} from '../../src/shared/campaign-missing.js';
import { CampaignStore } from '../../src/shared/campaign-store.js';
import { createTestContext, type TestContext } from '../compliance/redis-context.js';
import { died, dyingContext, eventWritten } from './dying-context.js';
import { campaignConfig } from './fixtures.js';

/**
 * Two looks that find CXone answering for a campaign noted missing race: the first clears the note,
 * the campaign goes missing again (a new disappearance, told and noted), and the second, acting on the
 * record it read before any of it, clears again. Before, that second clear removed the new note and
 * its claim: the record said CXone knows a campaign it had just lost, and the next look that met the
 * 404 told the same disappearance a second time (another record, another event).
 */
let t: TestContext | undefined;

afterEach(async () => {
  await t?.close();
  t = undefined;
});

async function missingEvents(t: TestContext, campaignId: string) {
  return (await t.events.recent(50, campaignId)).filter((e) => e.type === 'campaign.missing');
}

describe('a found-again acting on a record read before a newer disappearance', () => {
  it('leaves the newer note and its claim alone', async () => {
    t = await createTestContext('2026-11-29T10:00:00Z');
    await t.putCampaign('flap', campaignConfig(), 'active', 3);
    await noteMissingOnCxone(t.ctx, 'flap', 'poll');
    const store = new CampaignStore(t.ctx);
    // Both readers read the record noted missing since 10:00.
    const readByFirst = (await store.get('flap'))!;
    const readBySecond = (await store.get('flap'))!;

    expect(await clearMissingOnCxone(t.ctx, readByFirst)).toBe(true);
    t.clock.advance(60_000);
    const since = await noteMissingOnCxone(t.ctx, 'flap', 'poll');
    expect(since).toBe('2026-11-29T10:01:00.000Z');

    // The second reader's answer was sent before the campaign went again: its note is long gone.
    expect(await clearMissingOnCxone(t.ctx, readBySecond)).toBe(false);
    expect((await store.get('flap'))?.missingOnCxone).toEqual({ since });

    // The next look meeting the 404 answers from the note: the disappearance was told once.
    t.clock.advance(60_000);
    expect(await noteMissingOnCxone(t.ctx, 'flap', 'poll')).toBe(since);
    expect((await missingEvents(t, 'flap')).map((e) => (e.data as { since: string }).since).sort()).toEqual([
      '2026-11-29T10:00:00.000Z',
      since,
    ]);
  });

  it('still clears a note whose claim is gone (a note written before claims were kept)', async () => {
    t = await createTestContext('2026-11-29T10:00:00Z');
    await t.putCampaign('old', campaignConfig(), 'active', 3);
    const store = new CampaignStore(t.ctx);
    await store.patch('old', { missingOnCxone: { since: '2026-11-28T10:00:00.000Z' } });
    expect(await clearMissingOnCxone(t.ctx, (await store.get('old'))!)).toBe(true);
    expect((await store.get('old'))?.missingOnCxone).toBeUndefined();
  });
});

describe('a found-again that meets a look still telling the disappearance', () => {
  it('removes the claim; the look notes it; the next 404 answers from the note, the next read clears it', async () => {
    t = await createTestContext('2026-11-29T10:00:00Z');
    await t.putCampaign('telling', campaignConfig(), 'active', 3);
    const store = new CampaignStore(t.ctx);
    // A look met the 404: it noted that it tells it and claimed it, and has not written its note yet.
    await store.patch('telling', { missingClaimAt: '2026-11-29T10:00:00.000Z' });
    const claim = missingMarkerKey(t.ctx.keys, 'telling');
    await t.ctx.redis.set(claim, '2026-11-29T10:00:00.000Z', 'NX');

    // A read finding CXone answering meanwhile: no note cleared, the claim gone.
    expect(await clearMissingOnCxone(t.ctx, (await store.get('telling'))!)).toBe(false);
    expect(await t.ctx.redis.exists(claim)).toBe(0);
    expect((await store.get('telling'))?.missingClaimAt).toBeUndefined();

    // The look writes its note, over a claim that is gone: a state the rest already takes.
    await store.patch('telling', { missingOnCxone: { since: '2026-11-29T10:00:00.000Z' } });
    t.clock.advance(60_000);
    expect(await noteMissingOnCxone(t.ctx, 'telling', 'poll')).toBe('2026-11-29T10:00:00.000Z');
    expect(await missingEvents(t, 'telling')).toEqual([]);
    expect(await clearMissingOnCxone(t.ctx, (await store.get('telling'))!)).toBe(true);
    expect((await store.get('telling'))?.missingOnCxone).toBeUndefined();
  });

  it("meeting the look's first write, leaves no claim held with nothing saying so", async () => {
    // Before, a look noted on the record that it claims, then claimed in a second write: a read
    // finding CXone answering in between cleared the note, the claim was taken after it, and the
    // look dying before its own note left it held unmarked. The next real disappearance was then
    // named by the old time, its record and event taken for the old ones' repeats and never written.
    t = await createTestContext('2026-11-29T10:00:00Z');
    const ctx = t.ctx;
    await t.putCampaign('between', campaignConfig(), 'active', 3);
    const store = new CampaignStore(ctx);
    const recordKey = ctx.keys.campaign('between');
    let foundAgain: Promise<boolean> | undefined;
    // The look's Redis: right after its first write of the record, a read finds CXone answering.
    const redis = new Proxy(ctx.redis, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          const out = (await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args)) as unknown;
          const writesRecord = (prop === 'evalsha' || prop === 'eval') && args.includes(recordKey);
          if (writesRecord && foundAgain === undefined) {
            foundAgain = store.get('between').then((record) => clearMissingOnCxone(ctx, record!));
            await foundAgain;
          }
          return out;
        };
      },
    });
    await noteMissingOnCxone(dyingContext({ ...ctx, redis }, eventWritten), 'between', 'poll').catch(died);
    expect(await foundAgain).toBe(false);
    expect(await missingEvents(t, 'between')).toHaveLength(1);

    // CXone loses the campaign for real an hour later: told under its own time.
    t.clock.advance(3_600_000);
    expect(await noteMissingOnCxone(ctx, 'between', 'poll')).toBe('2026-11-29T11:00:00.000Z');
    expect(
      (await missingEvents(t, 'between')).map((e) => (e.data as { since: string }).since).sort(),
    ).toEqual(['2026-11-29T10:00:00.000Z', '2026-11-29T11:00:00.000Z']);
  });

  it('costs a read of a record with neither note nor claim no Redis command', async () => {
    t = await createTestContext('2026-11-29T10:00:00Z');
    await t.putCampaign('plain', campaignConfig(), 'active', 3);
    const record = (await new CampaignStore(t.ctx).get('plain'))!;
    const sent: string[] = [];
    const redis = new Proxy(t.ctx.redis, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          sent.push(String(prop));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    expect(await clearMissingOnCxone({ ...t.ctx, redis }, record)).toBe(false);
    expect(sent).toEqual([]);
  });
});
