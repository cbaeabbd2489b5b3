import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { complianceEventOnce, recordComplianceAction } from '../../src/shared/compliance/record.js';
import { buildComplianceReport } from '../../src/shared/compliance/report.js';
import { complianceKeys, listActions } from '../../src/shared/compliance/state-store.js';
import { recentEventsKey } from '../../src/shared/events/publisher.js';
import { complianceActions } from '../../src/shared/metrics.js';
import { config } from './fixtures.js';
import { createTestContext, type TestContext } from './redis-context.js';

/*
 * One compliance action, one count: a replay of an action the trail already holds (its dedupe key
 * found) is neither counted in cxo_compliance_actions_total nor logged again.
 */
const ID = 'cmp-record-1';

let tc: TestContext;
let lines: Record<string, unknown>[];
beforeEach(async () => {
  tc = await createTestContext('2026-03-03T15:00:00Z');
  lines = [];
  tc.ctx.logger = pino(
    { level: 'info' },
    { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
});
afterEach(async () => tc.close());

async function counted(kind: string): Promise<number> {
  const metric = await complianceActions.get();
  return metric.values.find((v) => v.labels.kind === kind)?.value ?? 0;
}

const logged = (kind: string) => lines.filter((l) => l.msg === `compliance: ${kind}`).length;

describe('recordComplianceAction', () => {
  it('counts and logs an action replayed with the same dedupe key once', async () => {
    const before = await counted('period_closed');
    const action = {
      campaignId: ID,
      kind: 'period_closed' as const,
      details: { rule: 'abandonment-period', period: { index: 0 } },
      dedupeKey: `compliance:period:${ID}:TCPA:0`,
    };
    await recordComplianceAction(tc.ctx, action);
    await recordComplianceAction(tc.ctx, action);

    expect((await tc.audit.list(ID)).filter((r) => r.action === 'compliance_action')).toHaveLength(1);
    expect((await counted('period_closed')) - before).toBe(1);
    expect(logged('period_closed')).toBe(1);
    // The report's own log still holds what it held before.
    expect(await listActions(tc.ctx, ID)).toHaveLength(2);
  });

  it('shows an action replayed with the same dedupe key once in the report, as the trail has it', async () => {
    const lift = {
      campaignId: ID,
      kind: 'guard_pause_lifted' as const,
      actor: 'api:alice',
      details: { requestedBy: 'api:alice', commandId: 'cmd_resume', period: 0 },
      dedupeKey: `guard-pause-lifted:${ID}:cmd_resume`,
    };
    await recordComplianceAction(tc.ctx, lift);
    // The hook's job retried after a later step failed: the same lift again.
    tc.clock.advance(5_000);
    await recordComplianceAction(tc.ctx, lift);
    // Actions without a key are each their own.
    const throttle = { campaignId: ID, kind: 'guard_throttle' as const, details: { rate: 0.026 } };
    await recordComplianceAction(tc.ctx, throttle);
    await recordComplianceAction(tc.ctx, throttle);

    const report = buildComplianceReport({
      campaignId: ID,
      status: 'active',
      config: config(),
      window: {},
      actions: await listActions(tc.ctx, ID),
      nowMs: tc.clock.now(),
    });
    expect(report.guardActions).toEqual([
      { at: '2026-03-03T15:00:00.000Z', kind: 'guard_pause_lifted', details: lift.details },
      { at: '2026-03-03T15:00:05.000Z', kind: 'guard_throttle', details: throttle.details },
      { at: '2026-03-03T15:00:05.000Z', kind: 'guard_throttle', details: throttle.details },
    ]);
  });

  it('publishes the event of an action replayed with the same dedupe key once', async () => {
    const breach = {
      campaignId: ID,
      kind: 'outside_change_noncompliant' as const,
      details: { version: 4, action: 'pause' },
      cxoneVersion: 4,
      dedupeKey: `outside-change:${ID}:active:4`,
      event: 'campaign.compliance.paused' as const,
    };
    await recordComplianceAction(tc.ctx, breach);
    // The next poll after the pause failed to queue records the breach again.
    await recordComplianceAction(tc.ctx, breach);

    const events = await tc.events.recent(50, ID);
    expect(events.filter((e) => e.type === 'campaign.compliance.paused')).toHaveLength(1);
  });

  it('publishes the event of a replayed action whose audit write failed under the same event id, so not again', async () => {
    const breach = {
      campaignId: ID,
      kind: 'outside_change_noncompliant' as const,
      details: { version: 4, action: 'pause' },
      cxoneVersion: 4,
      dedupeKey: `outside-change:${ID}:active:4`,
      event: 'campaign.compliance.paused' as const,
    };
    await recordComplianceAction(tc.ctx, breach);
    // The replay meets a Redis blip appending to the trail: it cannot tell it is a replay.
    const audit = tc.ctx.audit;
    tc.ctx.audit = {
      append: () => Promise.reject(new Error('redis down')),
      appendWithOutcome: () => Promise.reject(new Error('redis down')),
    } as unknown as typeof tc.ctx.audit;
    await recordComplianceAction(tc.ctx, breach);
    tc.ctx.audit = audit;

    const events = await tc.events.recent(50, ID);
    expect(events.filter((e) => e.type === 'campaign.compliance.paused')).toHaveLength(1);
  });

  it('writes an action, its event and its audit record together: the event is stored before the caller notes anything', async () => {
    const paused = {
      campaignId: ID,
      kind: 'guard_pause' as const,
      details: { rule: 'abandonment-guard', rate: 0.031 },
      dedupeKey: `guard-pause:${ID}:p0`,
      event: 'campaign.compliance.paused' as const,
    };
    // Nothing is published after the entry's script: a publisher that could only publish would fail.
    const events = tc.ctx.events;
    tc.ctx.events = {
      prepare: events.prepare.bind(events),
      publish: () => Promise.reject(new Error('published after the entry')),
    } as unknown as typeof events;
    await recordComplianceAction(tc.ctx, paused);
    tc.ctx.events = events;

    const stored = (await tc.events.recent(50, ID)).filter((e) => e.type === 'campaign.compliance.paused');
    expect(stored).toHaveLength(1);
    expect(stored[0]!.data).toMatchObject({ kind: 'guard_pause', rate: 0.031 });
    expect((await tc.audit.list(ID)).filter((r) => r.action === 'compliance_action')).toHaveLength(1);
    expect(await listActions(tc.ctx, ID)).toHaveLength(1);
    expect(lines.filter((l) => l.msg === 'event publish failed')).toEqual([]);
  });

  it('writes nothing of an action whose entry cannot be written, and rejects', async () => {
    await tc.ctx.redis.set(complianceKeys(tc.ctx.keys, ID).log, 'not a list');
    await expect(
      recordComplianceAction(tc.ctx, {
        campaignId: ID,
        kind: 'guard_pause',
        details: { rule: 'abandonment-guard' },
        dedupeKey: `guard-pause:${ID}:p0`,
        event: 'campaign.compliance.paused',
      }),
    ).rejects.toThrow(/WRONGTYPE/);

    expect(await tc.events.recent(50, ID)).toEqual([]);
    expect(await tc.audit.list(ID)).toEqual([]);
  });

  it('writes nothing of a late action whose kept copies cannot be read, and rejects', async () => {
    // A hand-damaged `late` field: read before the first write, so no event or record goes out alone.
    await tc.ctx.redis.hset(complianceKeys(tc.ctx.keys, ID).state, 'late', 'not json');
    await expect(
      recordComplianceAction(tc.ctx, {
        campaignId: ID,
        kind: 'window_pause_landed',
        details: { commandId: 'cmd_late', dueAt: '2026-03-03T01:00:00.000Z', lateByMs: 90_000 },
        dedupeKey: `window-pause-landed:${ID}:cmd_late`,
        event: 'campaign.compliance.paused',
      }),
    ).rejects.toThrow(/not a JSON array; nothing was written/);

    expect(await tc.events.recent(50, ID)).toEqual([]);
    expect(await tc.audit.list(ID)).toEqual([]);
    expect(await tc.ctx.redis.llen(complianceKeys(tc.ctx.keys, ID).log)).toBe(0);
  });

  it('announces, on the replay, an action whose event could not be written with it, and once', async () => {
    const resumed = {
      campaignId: ID,
      kind: 'guard_blind_resume' as const,
      details: { commandId: 'cmd_lift' },
      dedupeKey: `guard-blind-resume:${ID}:cmd_lift`,
      event: 'campaign.compliance.resumed' as const,
    };
    // The events' stream of another type: the entry is written without its event, which fails alone.
    const stream = recentEventsKey(tc.ctx.keys);
    await tc.ctx.redis.set(stream, 'not a stream');
    await recordComplianceAction(tc.ctx, resumed);
    const { once } = complianceEventOnce(ID, resumed.dedupeKey);
    expect(await tc.events.published(once)).toBe(false);
    expect(await listActions(tc.ctx, ID)).toHaveLength(1);
    await tc.ctx.redis.del(stream);

    await recordComplianceAction(tc.ctx, resumed);
    await recordComplianceAction(tc.ctx, resumed);

    expect(await tc.events.published(once)).toBe(true);
    const published = await tc.events.recent(50, ID);
    expect(published.filter((e) => e.type === 'campaign.compliance.resumed')).toHaveLength(1);
    expect((await tc.audit.list(ID)).filter((r) => r.action === 'compliance_action')).toHaveLength(1);
  });

  it('counts and logs every action that has no dedupe key', async () => {
    const before = await counted('guard_throttle');
    const action = { campaignId: ID, kind: 'guard_throttle' as const, details: { rate: 0.026 } };
    await recordComplianceAction(tc.ctx, action);
    await recordComplianceAction(tc.ctx, action);

    expect((await counted('guard_throttle')) - before).toBe(2);
    expect(logged('guard_throttle')).toBe(2);
  });

  it('still counts and logs an action whose audit write failed', async () => {
    const before = await counted('override');
    tc.ctx.audit = {
      append: () => Promise.reject(new Error('redis down')),
      appendWithOutcome: () => Promise.reject(new Error('redis down')),
    } as unknown as typeof tc.ctx.audit;
    await recordComplianceAction(tc.ctx, {
      campaignId: ID,
      kind: 'override',
      details: { rule: 'do-not-call' },
      dedupeKey: `compliance:override:${ID}:do-not-call`,
    });

    expect((await counted('override')) - before).toBe(1);
    expect(logged('override')).toBe(1);
    expect(lines.filter((l) => l.msg === 'audit write failed')).toHaveLength(1);
  });
});
