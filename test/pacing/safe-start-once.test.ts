import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { recordSafeStart } from '../../src/shared/pacing/safe-start.js';
import { startingCallRate } from '../../src/shared/pacing/start.js';
import { config } from '../compliance/fixtures.js';
import { createTestContext, type TestContext } from '../compliance/redis-context.js';

/*
 * A safe start's `pacing_decision` is appended once per campaign (its dedupe key), and its
 * `campaign.pacing.adjusted` goes by an id derived from the same key: one event for the one start,
 * however the activation's runs were cut short. Real Redis.
 */
const ID = 'safe-start-once-1';

let tc: TestContext;
beforeEach(async () => {
  tc = await createTestContext('2026-03-03T15:00:00Z');
});
afterEach(async () => tc.close());

function start() {
  const predictive = config({
    dialerStrategy: { strategy: 'predictive', agentCapacity: 20, callRate: 3, answerRate: 0.3 },
    pacing: { strategy: 'abandonment-target' },
  } as never);
  const safe = startingCallRate(predictive);
  expect(safe).not.toBeNull();
  return { campaignId: ID, start: safe!, cxoneVersion: 5, actor: 'worker:launch', launchId: 'l-1' };
}

const adjusted = async () =>
  (await tc.events.recent(50, ID)).filter((e) => e.type === 'campaign.pacing.adjusted');

describe('recordSafeStart', () => {
  it('publishes, on the redelivery, the event of a start whose run died between its record and its event', async () => {
    const events = tc.ctx.events;
    tc.ctx.events = { publish: () => Promise.reject(new Error('worker died')) } as unknown as typeof events;
    await recordSafeStart(tc.ctx, start());
    tc.ctx.events = events;
    await recordSafeStart(tc.ctx, start());
    await recordSafeStart(tc.ctx, start());

    expect(await adjusted()).toHaveLength(1);
    expect((await tc.audit.list(ID)).filter((r) => r.action === 'pacing_decision')).toHaveLength(1);
  });

  it('publishes nothing new on a redelivery whose trail write failed', async () => {
    await recordSafeStart(tc.ctx, start());
    const audit = tc.ctx.audit;
    tc.ctx.audit = {
      append: () => Promise.reject(new Error('redis down')),
      appendWithOutcome: () => Promise.reject(new Error('redis down')),
    } as unknown as typeof audit;
    await recordSafeStart(tc.ctx, start());
    tc.ctx.audit = audit;

    expect(await adjusted()).toHaveLength(1);
  });
});
