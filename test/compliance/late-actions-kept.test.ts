import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildComplianceReport } from '../../src/shared/compliance/report.js';
import {
  ACTION_LOG_MAX,
  appendAction,
  complianceKeys,
  LATE_ACTIONS_MAX,
  listActions,
  type ComplianceActionEntry,
} from '../../src/shared/compliance/state-store.js';
import { config } from './fixtures.js';
import { createTestContext, type TestContext } from './redis-context.js';

/*
 * The compliance log keeps a campaign's last ACTION_LOG_MAX actions. A late calling-window pause is
 * what makes the report say a campaign was not adherent, so it must outlive the log's trim: a
 * campaign that dialed past its close in its first week is not adherent after a month of polls.
 */
const ID = 'cmp-late-kept';

let tc: TestContext;
beforeEach(async () => {
  tc = await createTestContext('2026-03-03T15:00:00Z');
});
afterEach(async () => tc.close());

const at = (minute: number) => new Date(Date.parse('2026-03-03T15:00:00Z') + minute * 60_000).toISOString();
const latePause: ComplianceActionEntry = {
  at: at(0),
  kind: 'window_pause',
  details: { lateByMs: 5 * 60_000, closeAt: at(-5) },
  dedupeKey: `window:${ID}:close:1`,
};
const lateLanding: ComplianceActionEntry = {
  at: at(1),
  kind: 'window_pause_landed',
  details: { lateByMs: 90_000, commandId: 'cmd_1' },
};
const onTimePause = (i: number): ComplianceActionEntry => ({
  at: at(10 + i),
  kind: 'window_pause',
  details: { lateByMs: 0 },
  dedupeKey: `window:${ID}:close:${i + 2}`,
});
const throttle = (i: number): ComplianceActionEntry => ({
  at: at(10 + i),
  kind: 'guard_throttle',
  details: { rate: 0.026, i },
});

function report(actions: ComplianceActionEntry[]) {
  return buildComplianceReport({
    campaignId: ID,
    status: 'active',
    config: config(),
    window: {},
    actions,
    lastStats: {
      version: 3,
      status: 'active',
      totalCalls: 100,
      answeredCalls: 50,
      abandonedCalls: 0,
      complianceViolations: 0,
      agentUtilization: 0.8,
    },
    nowMs: tc.clock.now(),
  });
}

describe('late window actions and the capped compliance log', () => {
  it('keeps a late pause and a late landing in the report after the log has dropped them', async () => {
    await appendAction(tc.ctx, ID, latePause);
    await appendAction(tc.ctx, ID, lateLanding);
    for (let i = 0; i < ACTION_LOG_MAX; i++) {
      await appendAction(tc.ctx, ID, i % 2 ? throttle(i) : onTimePause(i));
    }
    // The log itself has let them go…
    const log = await tc.ctx.redis.lrange(complianceKeys(tc.ctx.keys, ID).log, 0, -1);
    expect(log).toHaveLength(ACTION_LOG_MAX);
    expect(log.some((raw) => raw.includes('"lateByMs":300000'))).toBe(false);

    // …the actions the report reads have not, oldest first, each once.
    const actions = await listActions(tc.ctx, ID);
    expect(actions).toHaveLength(ACTION_LOG_MAX + 2);
    expect(actions.slice(0, 3)).toEqual([latePause, lateLanding, onTimePause(0)]);
    const enforcement = report(actions).window;
    expect(enforcement.enforcement).toMatchObject({ latePauses: 1, pausesLandedLate: 1 });
    expect(enforcement.adherent).toBe(false);
  });

  it('lists a late action still in the log once', async () => {
    await appendAction(tc.ctx, ID, onTimePause(0));
    await appendAction(tc.ctx, ID, latePause);
    await appendAction(tc.ctx, ID, throttle(1));
    expect(await listActions(tc.ctx, ID)).toEqual([onTimePause(0), latePause, throttle(1)]);
    expect(report(await listActions(tc.ctx, ID)).window.adherent).toBe(false);
  });

  it('keeps no copy of an on-time pause, a re-issued pause or other actions', async () => {
    await appendAction(tc.ctx, ID, onTimePause(0));
    await appendAction(tc.ctx, ID, { ...latePause, details: { ...latePause.details, reissued: true } });
    await appendAction(tc.ctx, ID, throttle(1));
    expect(await tc.ctx.redis.hget(complianceKeys(tc.ctx.keys, ID).state, 'late')).toBeNull();
    expect(report(await listActions(tc.ctx, ID)).window.adherent).toBe(true);
  });

  it('bounds the kept copies', async () => {
    for (let i = 0; i < LATE_ACTIONS_MAX + 3; i++) {
      await appendAction(tc.ctx, ID, { ...latePause, at: at(i), dedupeKey: `window:${ID}:close:${i}` });
    }
    const kept = JSON.parse(
      (await tc.ctx.redis.hget(complianceKeys(tc.ctx.keys, ID).state, 'late')) ?? '[]',
    ) as string[];
    expect(kept).toHaveLength(LATE_ACTIONS_MAX);
    // The oldest go first; each copy is the log entry's own text.
    expect(JSON.parse(kept[0]!)).toMatchObject({ at: at(3) });
    expect(kept.at(-1)).toBe(
      JSON.stringify({
        ...latePause,
        at: at(LATE_ACTIONS_MAX + 2),
        dedupeKey: `window:${ID}:close:${LATE_ACTIONS_MAX + 2}`,
      }),
    );
  });
});
