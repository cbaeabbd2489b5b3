import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CampaignConfig } from '../../src/shared/campaign-config.js';
import { CampaignStore } from '../../src/shared/campaign-store.js';
import { ManualClock } from '../../src/shared/clock.js';
import { Queue } from 'bullmq';
import type { AuditInput } from '../../src/shared/audit/types.js';
import { complianceRefusal } from '../../src/shared/compliance/command-guard.js';
import { windowJobId, windowJobOf } from '../../src/shared/compliance/enforcement.js';
import { QUEUES } from '../../src/shared/keys.js';
import { createCommandStore } from '../../src/shared/lifecycle/commands.js';
import { campaignLockKey } from '../../src/shared/lifecycle/lock.js';
import type { AppContext } from '../../src/shared/context.js';
import type { CxoneApi } from '../../src/shared/cxone/api.js';
import type { CampaignStats } from '../../src/shared/cxone/wire.js';
import { CxoneNotFoundError } from '../../src/shared/errors.js';
import { createEventPublisher } from '../../src/shared/events/publisher.js';
import { silentLogger } from '../../src/shared/logger.js';
import { runPollCycle } from '../../src/shared/polling/poll-cycle.js';
import { HISTORY_JOB, historyJobId } from '../../src/shared/audit/history-sync.js';
import { ensurePolling } from '../../src/shared/polling/schedulers.js';
import { campaignConfig, resource, statsOf } from '../lifecycle/fixtures.js';
import { holdAsCommand } from '../support/campaign-lock.js';
import { deletePrefix, pollingContext, REDIS_URL, testPrefix, type PollingTestContext } from './helpers.js';

/**
 * The poll cycle's bookkeeping on real Redis, with a scripted CXone (the end-to-end path over HTTP
 * is in test/pacing/pipeline.test.ts): what gets stored, and when polling stops by itself.
 */
let admin: Redis;
let base: PollingTestContext;
let prefix: string;

function withStats(stats: Partial<CampaignStats> | Error): AppContext {
  const cxone = {
    getStats: async () => {
      if (stats instanceof Error) throw stats;
      return statsOf(stats);
    },
  } as unknown as CxoneApi;
  return { ...base, cxone } as unknown as AppContext;
}

function withStatsFn(getStats: () => Promise<CampaignStats>): AppContext {
  return { ...base, cxone: { getStats } as unknown as CxoneApi } as unknown as AppContext;
}

/** An events stub that keeps what is published, in order. */
function recordingEvents() {
  const published: { type: string; data: Record<string, unknown> }[] = [];
  const events = {
    publish: async (type: string, _id: string, data: Record<string, unknown>) => (
      published.push({ type, data }),
      {} as never
    ),
  };
  return { published, events };
}

/** The real event publisher over this file's Redis (webhooks off), whose stored events a test reads back. */
function storedEvents() {
  return createEventPublisher({
    redis: base.redis,
    keys: base.keys,
    logger: silentLogger,
    webhookQueue: base.queues.audit,
    enabled: false,
  });
}

/** The poll's context with what an outside-change breach uses: the adjust queue, audit and events. */
function compliantContext(clock: ManualClock, cxone: Partial<CxoneApi>) {
  const audits: AuditInput[] = [];
  const adjust = new Queue(QUEUES.adjust, { connection: base.redis, prefix });
  const ctx = {
    ...base,
    clock,
    queues: { ...base.queues, adjust },
    audit: { append: async (input: AuditInput) => (audits.push(input), {}) as never },
    // Real: a compliance action's event is written by the script that records the action.
    events: storedEvents(),
    cxone,
  } as unknown as AppContext;
  return { ctx, audits, adjust };
}

/** Runs `test` with a compliantContext, then empties and closes its adjust queue. */
async function withCompliantContext(
  clock: ManualClock,
  cxone: Partial<CxoneApi>,
  test: (t: ReturnType<typeof compliantContext>) => Promise<void>,
): Promise<void> {
  const t = compliantContext(clock, cxone);
  try {
    await test(t);
  } finally {
    await t.adjust.obliterate({ force: true });
    await t.adjust.close();
  }
}

/** A campaign record at CXone version 3, as launched with `config` (recipient states included). */
async function storeRecord(
  id: string,
  status: 'active' | 'paused' | 'completed',
  launched: { config?: CampaignConfig } = {},
) {
  await new CampaignStore(base).put({
    campaignId: id,
    status,
    version: 3,
    config: launched.config ?? campaignConfig(),
    cxone: resource({ id, version: 3, status }),
  });
}

/** The same, polled. */
async function seed(id: string, status: 'active' | 'paused' | 'completed' = 'paused') {
  await storeRecord(id, status);
  await ensurePolling(base, id, 15_000);
}

/** An operator's resume of a campaign with `config`, as the command guard judges it at `atMs`. */
const resumeRefusal = (config: CampaignConfig, atMs: number, policy?: { allowDncDisabled: boolean }) =>
  complianceRefusal({ action: 'resume', reason: 'operator', config, atMs, ...(policy ? { policy } : {}) });

/** One outside-change breach recorded, naming the field at `path`, with a pause queued for it. */
async function expectOneBreach(audits: AuditInput[], adjust: Queue, path: string) {
  expect(audits).toEqual([
    expect.objectContaining({
      details: expect.objectContaining({
        kind: 'outside_change_noncompliant',
        action: 'pause',
        problems: [expect.objectContaining({ path })],
      }),
    }),
  ]);
  expect(await adjust.getJobCountByTypes('waiting')).toBe(1);
}

const polled = async (id: string) => Boolean(await base.queues.poll.getJobScheduler(`poll:${id}`));

beforeAll(() => {
  admin = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
});
beforeEach(() => {
  prefix = testPrefix();
  base = pollingContext(prefix);
});
afterEach(async () => {
  await base?.close();
  await deletePrefix(admin, prefix);
});
afterAll(async () => {
  await admin.quit();
});

describe('poll cycle', () => {
  it('stores the stats with the efficiency score, which is null before any call', async () => {
    await seed('s1');
    await runPollCycle(withStats({}), 's1');
    let record = await new CampaignStore(base).get('s1');
    expect(record?.lastStats).toMatchObject({ totalCalls: 0, status: 'paused' });
    expect(record?.efficiency).toBeNull();

    const outcome = await runPollCycle(
      withStats({ totalCalls: 100, answeredCalls: 40, abandonedCalls: 1 }),
      's1',
    );
    // Not paced (the drop to the safe start it resumes at is the next test's).
    expect(outcome).toMatchObject({ kind: 'polled', status: 'paused', guard: 'skipped' });
    record = await new CampaignStore(base).get('s1');
    // Seed formula: 0.4 × 50 − 0.01 × 30 − 0 = 19.7
    expect(record?.efficiency).toMatchObject({
      efficiencyScore: 19.7,
      answerRate: 0.4,
      abandonmentRate: 0.01,
    });
    expect(await polled('s1')).toBe(true);
  });

  it('brings a paused campaign down to the safe start it will resume at, keeping the controller memory', async () => {
    const clock = new ManualClock(Date.parse('2026-03-10T15:00:00Z'));
    await withCompliantContext(
      clock,
      { getStats: async () => statsOf({ totalCalls: 3000, answeredCalls: 1000, abandonedCalls: 15 }) },
      async ({ ctx, adjust }) => {
        await storeRecord('pz', 'paused', {
          config: campaignConfig({
            dialerStrategy: { strategy: 'predictive', agentCapacity: 25, callRate: 0.6, answerRate: 0.35 },
          }),
        });
        const last = { atMs: clock.now() - 3_600_000, answered: 990, abandoned: 15 };
        const ceiling = { callRate: 0.7, setAtMs: last.atMs, strikes: 1 };
        const state = {
          callRate: 0.6,
          window: last,
          checkpoint: last,
          period: { ...last, answered: 0, abandoned: 0 },
          last,
          lastChangeAtMs: last.atMs - 600_000,
          ceiling,
          guard: null,
        };
        await new CampaignStore(base).patch('pz', {
          pacing: {
            strategy: 'abandonment-target',
            state,
            lastDecision: null,
            lastAdjustment: null,
            pendingCommandId: null,
            guardCap: null,
          },
        });

        const outcome = await runPollCycle(ctx, 'pz');
        expect(outcome).toMatchObject({
          kind: 'polled',
          status: 'paused',
          guard: 'skipped',
          pacing: { kind: 'decided', decision: { previousCallRate: 0.6, callRate: 0.1, direction: 'down' } },
        });
        const jobs = await adjust.getJobs(['waiting']);
        expect(jobs).toHaveLength(1);
        const command = await createCommandStore(base).get(String(jobs[0]!.data.commandId));
        expect(command).toMatchObject({
          actor: 'worker:pacing',
          patch: { dialerStrategy: { callRate: 0.1 } },
          base: { 'dialerStrategy.callRate': 0.6 },
        });
        const pacing = (await new CampaignStore(base).get('pz'))?.pacing as {
          state: Record<string, unknown>;
          pendingCommandId: string;
        };
        expect(pacing.pendingCommandId).toBe(jobs[0]!.data.commandId);
        // The controller's own change (not an operator's after the resume), re-anchoring up to 0.6;
        // the period and the ceiling survive the pause.
        expect(pacing.state).toMatchObject({
          callRate: 0.1,
          period: state.period,
          ceiling,
          anchor: { requestedCallRate: 0.6, startCallRate: 0.1, priorCallRate: 0.6, agents: 25 },
          anchorMarks: [],
          last: { atMs: clock.now(), answered: 1000, abandoned: 15 },
        });

        // A second paused poll while the command is queued waits for it, queueing nothing more.
        expect((await runPollCycle(ctx, 'pz')) as unknown).toMatchObject({ pacing: { kind: 'waiting' } });
        expect(await adjust.getJobCountByTypes('waiting')).toBe(1);
      },
    );
  });

  it('a poll that decided while the campaign was stopped queues no pacing change after the end', async () => {
    // Tuesday 12:00 in New York, inside the Mon–Fri 09:00–20:00 window.
    const clock = new ManualClock(Date.parse('2026-03-10T16:00:00Z'));
    const config = campaignConfig({
      pacing: { strategy: 'threshold', targetAbandonment: 0.025, pollIntervalMs: 15_000 },
    });
    const getStats = async () => {
      // The stop lands on CXone and in the record while this poll waits for its figures.
      await new CampaignStore(base).syncFromCxone(resource({ id: 'late', version: 4, status: 'completed' }));
      return statsOf({ status: 'active', totalCalls: 1000, answeredCalls: 100 });
    };
    await withCompliantContext(clock, { getStats }, async ({ ctx, adjust, audits }) => {
      await storeRecord('late', 'active', { config });
      expect(await runPollCycle(ctx, 'late')).toEqual({ kind: 'final', status: 'completed' });
      expect(await adjust.getJobCountByTypes('waiting', 'delayed', 'active')).toBe(0);
      expect(audits.filter((a) => a.action === 'pacing_decision')).toEqual([]);
    });
  });

  it('re-reads the campaign when CXone has a newer version than the record (CXone wins)', async () => {
    await seed('ext');
    const changed = resource({
      id: 'ext',
      version: 5,
      status: 'paused',
      dialerSettings: { callRate: 0.7 } as never,
    });
    const { published, events } = recordingEvents();
    const ctx = {
      ...base,
      events,
      cxone: {
        getStats: async () => statsOf({ version: 5, totalCalls: 10, answeredCalls: 3, agentUtilization: 40 }),
        getCampaign: async () => changed,
      },
    } as unknown as AppContext;
    const before = (await new CampaignStore(base).get('ext'))?.config.dialerStrategy.callRate;
    await runPollCycle(ctx, 'ext');
    const record = await new CampaignStore(base).get('ext');
    expect(record?.version).toBe(5);
    expect(record?.config.dialerStrategy.callRate).toBe(0.7);
    // Announced by the config's names, as the orchestrator's own changes are (not CXone's
    // dialerSettings.callRate, which a receiver would hold beside pacing's dialerStrategy.callRate).
    expect(published.find((e) => e.type === 'campaign.settings.changed')?.data).toEqual({
      changes: [{ field: 'dialerStrategy.callRate', from: before, to: 0.7 }],
      version: 5,
      reason: 'outside',
    });
    // Changed outside the orchestrator: an import of CXone's account of it is queued, shortly after.
    const job = await base.queues.audit.getJob(historyJobId('ext', 5));
    expect(job).toMatchObject({ name: HISTORY_JOB, data: { campaignId: 'ext', version: 5 } });
    expect(await job?.getState()).toBe('delayed');
  });

  for (const dies of ['before', 'after'] as const) {
    it(`announces a change made in CXone's console once, across a poll that died ${dies} announcing it`, async () => {
      await seed('console', 'active');
      const events = storedEvents();
      const changed = resource({
        id: 'console',
        version: 5,
        status: 'paused',
        dialerSettings: { callRate: 0.7 } as never,
      });
      const cxone = {
        getStats: async () => statsOf({ status: 'paused', version: 5 }),
        getCampaign: async () => changed,
      };
      const before = (await new CampaignStore(base).get('console'))?.config.dialerStrategy.callRate;
      // The first poll's process dies at its first announcement: before it is stored, or right after.
      let reached!: () => void;
      const died = new Promise<void>((resolve) => (reached = resolve));
      const dying = {
        ...base,
        cxone,
        events: {
          publish: async (...args: Parameters<typeof events.publish>) => {
            if (dies === 'after') await events.publish(...args);
            reached();
            return new Promise<never>(() => undefined);
          },
        },
      } as unknown as AppContext;
      void runPollCycle(dying, 'console');
      await died;
      // Its leases run out: the poll's, and the campaign lock its look held to announce.
      await base.redis.del(base.keys.lock('poll:console'), campaignLockKey(base.keys, 'console'));
      await runPollCycle({ ...base, cxone, events } as unknown as AppContext, 'console');
      // (Pacing's drop of the paused campaign to its safe start is announced after, apart.)
      const told = (await events.recent(10, 'console'))
        .filter((e) => e.type !== 'campaign.pacing.adjusted')
        .reverse();
      expect(told.map((e) => [e.type, e.data])).toEqual([
        ['campaign.state.changed', { from: 'active', to: 'paused', version: 5, reason: 'outside' }],
        [
          'campaign.settings.changed',
          {
            changes: [{ field: 'dialerStrategy.callRate', from: before, to: 0.7 }],
            version: 5,
            reason: 'outside',
          },
        ],
      ]);
      expect((await new CampaignStore(base).get('console'))?.cxone.version).toBe(5);
    });
  }

  it("leaves a newer version to the command at work on the campaign: its own write is not told as a console's", async () => {
    await seed('cmd', 'active');
    const written = resource({ id: 'cmd', version: 4, status: 'paused' });
    const { published, events } = recordingEvents();
    const ctx = {
      ...base,
      events,
      cxone: {
        getStats: async () => statsOf({ status: 'paused', version: 4 }),
        getCampaign: async () => written,
      },
    } as unknown as AppContext;
    const outside = () => published.filter((e) => e.data['reason'] === 'outside');
    // A pause command holds the campaign: CXone took its write (version 4), its sync is still to come.
    const command = await holdAsCommand(base, 'cmd');
    await runPollCycle(ctx, 'cmd');
    expect(outside()).toEqual([]);
    expect((await new CampaignStore(base).get('cmd'))?.cxone.version).toBe(3);
    expect(await base.queues.audit.getJob(historyJobId('cmd', 4))).toBeUndefined();
    // The command records its write and lets go: the next poll finds the record current.
    await new CampaignStore(base).syncFromCxone(written);
    await command.release();
    await runPollCycle(ctx, 'cmd');
    expect(outside()).toEqual([]);

    // A console change once no command holds the campaign is told, as before.
    await runPollCycle(
      {
        ...ctx,
        cxone: {
          getStats: async () => statsOf({ status: 'active', version: 5 }),
          getCampaign: async () => resource({ id: 'cmd', version: 5, status: 'active' }),
        },
      } as unknown as AppContext,
      'cmd',
    );
    expect(outside().map((e) => [e.type, e.data])).toEqual([
      ['campaign.state.changed', { from: 'paused', to: 'active', version: 5, reason: 'outside' }],
    ]);
  });

  it('leaves an end found while a command is at work to the next poll, which tells it when the command did not make it', async () => {
    await seed('ending', 'active');
    const events = storedEvents();
    const ctx = {
      ...base,
      events,
      cxone: { getStats: async () => statsOf({ status: 'completed', version: 4 }) },
    } as unknown as AppContext;
    const command = await holdAsCommand(base, 'ending');
    expect(await runPollCycle(ctx, 'ending')).toEqual({ kind: 'busy' });
    expect(await events.recent(10, 'ending')).toEqual([]);
    expect(await polled('ending')).toBe(true);
    // The command ends without recording an end of its own (the console ended the campaign): told now.
    await command.release();
    expect(await runPollCycle(ctx, 'ending')).toEqual({ kind: 'final', status: 'completed' });
    expect((await events.recent(10, 'ending')).map((e) => [e.type, e.data])).toEqual([
      ['campaign.state.changed', { from: 'active', to: 'completed', version: 4, reason: 'outside' }],
    ]);
    expect(await polled('ending')).toBe(false);
  });

  it('stops polling and window enforcement when CXone reports a final status', async () => {
    await seed('s2');
    // Its window job waits for a close hours away (ended in CXone's console, not through a stop).
    await base.queues.compliance.add(
      'window',
      { kind: 'close', atMs: Date.now() + 3_600_000 },
      { jobId: windowJobId('s2'), delay: 3_600_000 },
    );
    expect(await runPollCycle(withStats({ status: 'completed', version: 4 }), 's2')).toEqual({
      kind: 'final',
      status: 'completed',
    });
    expect(await polled('s2')).toBe(false);
    expect(await base.queues.compliance.getJob(windowJobId('s2'))).toBeUndefined();
    // Ended outside the orchestrator (a newer version than the record's): CXone's account is imported.
    expect((await base.queues.audit.getJob(historyJobId('s2', 4)))?.data).toEqual({
      campaignId: 's2',
      version: 4,
    });
    expect((await new CampaignStore(base).get('s2'))?.status).toBe('completed');
  });

  for (const dies of ['before', 'after'] as const) {
    it(`announces a campaign ended in CXone's console once, across a poll that died ${dies} announcing it`, async () => {
      await seed('ended', 'active');
      const events = storedEvents();
      const stats = { status: 'completed' as const, version: 4 };
      // The first poll's process dies at its campaign.state.changed: before it is stored, or right
      // after (the publish never returns, so nothing after it runs).
      let reached!: () => void;
      const died = new Promise<void>((resolve) => (reached = resolve));
      const dying = {
        ...withStats(stats),
        events: {
          publish: async (...args: Parameters<typeof events.publish>) => {
            if (dies === 'after') await events.publish(...args);
            reached();
            return new Promise<never>(() => undefined);
          },
        },
      } as unknown as AppContext;
      void runPollCycle(dying, 'ended');
      await died;
      // Its poll lease lapses with it; the next tick polls again.
      // Its leases run out: the poll's, and the campaign lock its look held to announce.
      await base.redis.del(base.keys.lock('poll:ended'), campaignLockKey(base.keys, 'ended'));
      const next = { ...withStats(stats), events } as unknown as AppContext;
      expect(await runPollCycle(next, 'ended')).toEqual({ kind: 'final', status: 'completed' });
      const changed = (await events.recent(10, 'ended')).filter((e) => e.type === 'campaign.state.changed');
      expect(changed.map((e) => e.data)).toEqual([
        { from: 'active', to: 'completed', version: 4, reason: 'outside' },
      ]);
      expect(await polled('ended')).toBe(false);
      expect((await new CampaignStore(base).get('ended'))?.status).toBe('completed');
    });
  }

  it('stops polling a campaign the orchestrator or CXone no longer knows', async () => {
    await ensurePolling(base, 'ghost', 15_000);
    expect(await runPollCycle(withStats({}), 'ghost')).toEqual({ kind: 'unknown' });
    expect(await polled('ghost')).toBe(false);

    await seed('gone');
    const notFound = new CxoneNotFoundError({
      endpoint: 'GET /api/v2/outbound/campaigns/:id/stats',
      status: 404,
      campaignId: 'gone',
    });
    const clock = new ManualClock(Date.parse('2026-11-29T10:00:00Z'));
    await withCompliantContext(clock, { getStats: async () => Promise.reject(notFound) }, async (t) => {
      expect(await runPollCycle(t.ctx, 'gone')).toEqual({ kind: 'unknown' });
      expect(await polled('gone')).toBe(false);
      // Its record stops looking alive, and the trail says when and what it was.
      const record = await new CampaignStore(base).get('gone');
      expect(record).toMatchObject({
        status: 'paused',
        missingOnCxone: { since: '2026-11-29T10:00:00.000Z' },
      });
      expect(t.audits).toEqual([
        expect.objectContaining({
          action: 'campaign_missing',
          actor: 'worker:poll',
          details: { lastStatus: 'paused', lastVersion: 3, seenBy: 'poll' },
          dedupeKey: 'campaign_missing:gone:2026-11-29T10:00:00.000Z',
        }),
      ]);
    });
  });

  it('does not poll a campaign whose record is already final, and skips overlapping ticks', async () => {
    await seed('done', 'completed');
    expect(await runPollCycle(withStats(new Error('must not be called')), 'done')).toEqual({
      kind: 'final',
      status: 'completed',
    });

    await seed('slow');
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    // The first poll asks for its statistics only once it holds the lease: a fixed pause could end
    // before it took it on a loaded machine, letting the second poll through (and hang on the gate).
    let entered: () => void = () => undefined;
    const inStats = new Promise<void>((r) => (entered = r));
    const slowCtx = {
      ...base,
      cxone: {
        getStats: async () => {
          entered();
          await gate;
          return statsOf();
        },
      },
    } as unknown as AppContext;
    const first = runPollCycle(slowCtx, 'slow');
    await inStats;
    expect(await runPollCycle(slowCtx, 'slow')).toEqual({ kind: 'busy' });
    release();
    expect((await first).kind).toBe('polled');
    expect((await runPollCycle(slowCtx, 'slow')).kind).toBe('polled');
  });
  it('a poll whose lease ran out while it waited for its statistics leaves the campaign to the poll that took it over', async () => {
    await seed('late');
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    // The stats call waits in the fleet limiter (a backlog, a 429 penalty) past the lease's 60 s; the
    // lease lapses and the next tick takes the campaign, reads newer figures and acts on them.
    // Its lease is taken before the statistics are asked for: deleting it earlier would delete nothing.
    let entered: () => void = () => undefined;
    const inStats = new Promise<void>((r) => (entered = r));
    const slowCtx = withStatsFn(async () => {
      entered();
      await gate;
      return statsOf({ totalCalls: 100, answeredCalls: 30 });
    });
    const first = runPollCycle(slowCtx, 'late');
    await inStats;
    await base.redis.del(base.keys.lock('poll:late'));
    expect((await runPollCycle(withStats({ totalCalls: 200, answeredCalls: 60 }), 'late')).kind).toBe(
      'polled',
    );
    release();
    expect(await first).toEqual({ kind: 'busy' });
    // The late poll's older figures did not overwrite the newer ones (nor did it go on to guard and
    // pace on a record the other poll had moved on from).
    const stored = await new CampaignStore(base).get('late');
    expect(stored?.lastStats?.totalCalls).toBe(200);
  });

  it('hands a campaign CXone reports active outside its window to window enforcement at once', async () => {
    // Friday 22:00 in New York: the Mon–Fri 09:00–20:00 window closed two hours ago.
    const clock = new ManualClock(Date.parse('2026-03-07T03:00:00Z'));
    const ctx = { ...withStats({ status: 'active' }), clock } as AppContext;
    await seed('night', 'active');
    expect(await runPollCycle(ctx, 'night')).toEqual({
      kind: 'polled',
      status: 'active',
      guard: 'skipped',
      pacing: null,
      outsideWindow: true,
    });
    const job = await base.queues.compliance.getJob(windowJobId('night'));
    expect(job && windowJobOf(job)).toEqual({ campaignId: 'night', kind: 'close', atMs: clock.now() });
    expect(await job?.getState()).toBe('waiting');
  });

  it('records and pauses a campaign whose zone CXone changed away from its recipients, and refuses its resume', async () => {
    // Tuesday 12:00 EST. Florida recipients (the orchestrator's record: CXone never holds the list) on
    // New York time; the console moves the zone to Los Angeles, where every window would be read three
    // hours late for Florida.
    const clock = new ManualClock(Date.parse('2026-03-03T17:00:00Z'));
    await storeRecord('moved', 'active', { config: campaignConfig({ recipientStates: ['FL'] }) });
    const moved = resource({
      id: 'moved',
      version: 5,
      status: 'active',
      complianceSettings: { timeZone: 'America/Los_Angeles' } as never,
    });
    await withCompliantContext(
      clock,
      {
        getStats: async () => statsOf({ version: 5, status: 'active' }),
        getCampaign: async () => moved,
      },
      async ({ ctx, audits, adjust }) => {
        expect(await runPollCycle(ctx, 'moved')).toMatchObject({
          kind: 'polled',
          guard: 'skipped',
          pacing: null,
        });
        expect(audits).toEqual([
          expect.objectContaining({
            action: 'compliance_action',
            dedupeKey: 'outside-change:moved:active:5',
            details: expect.objectContaining({
              kind: 'outside_change_noncompliant',
              action: 'pause',
              problems: [expect.objectContaining({ path: 'recipientStates.0' })],
            }),
          }),
        ]);
        const [job] = await adjust.getJobs(['waiting']);
        expect(job?.data).toMatchObject({
          campaignId: 'moved',
          action: 'pause',
          reason: 'compliance-config',
        });
        // The next poll, before the pause lands: nothing recorded or queued twice.
        await runPollCycle(ctx, 'moved');
        expect(audits).toHaveLength(1);
        expect(await adjust.getJobCountByTypes('waiting')).toBe(1);
        // That pause fails for good (CXone refused it ten times): the next poll issues it again.
        await createCommandStore(base).update(String(job?.id), { status: 'failed' }, new Date());
        await runPollCycle(ctx, 'moved');
        expect(audits).toHaveLength(1);
        expect(await adjust.getJobCountByTypes('waiting')).toBe(2);
        // Until the settings are fixed, a resume is refused, inside the window or not.
        const stored = await new CampaignStore(base).get('moved');
        expect(resumeRefusal(stored!.config, clock.now())).toMatch(
          /^cannot resume: the campaign's settings as CXone holds them break compliance rules \(recipientStates\.0: FL/,
        );
      },
    );
  });

  it('keeps the recipient states of its record binding when the console moves the zone', async () => {
    // 00:08 in New York. Launched for NY recipients; the console re-zones it to Honolulu (19:08 there,
    // inside its window), which would make dialing New Yorkers look legal were the list not ours.
    const clock = new ManualClock(Date.parse('2026-03-03T05:08:00Z'));
    await storeRecord('rezoned', 'active', { config: campaignConfig({ recipientStates: ['NY'] }) });
    const rezoned = resource({
      id: 'rezoned',
      version: 5,
      status: 'active',
      complianceSettings: { timeZone: 'Pacific/Honolulu' } as never,
    });
    await withCompliantContext(
      clock,
      {
        getStats: async () => statsOf({ version: 5, status: 'active' }),
        getCampaign: async () => rezoned,
      },
      async ({ ctx, audits, adjust }) => {
        await runPollCycle(ctx, 'rezoned');
        const stored = await new CampaignStore(base).get('rezoned');
        expect(stored?.config.complianceTimeZone).toBe('Pacific/Honolulu');
        expect(stored?.config.recipientStates).toEqual(['NY']);
        await expectOneBreach(audits, adjust, 'recipientStates.0');
        expect(resumeRefusal(stored!.config, clock.now())).toMatch(
          /^cannot resume: .*recipientStates\.0: NY/,
        );
      },
    );
  });

  it('records and pauses a campaign whose do-not-call check was switched off in CXone', async () => {
    const clock = new ManualClock(Date.parse('2026-03-03T17:00:00Z'));
    await seed('dnc', 'active');
    const off = resource({
      id: 'dnc',
      version: 4,
      status: 'active',
      complianceSettings: { doNotCallListCheck: false } as never,
    });
    await withCompliantContext(
      clock,
      {
        getStats: async () => statsOf({ version: 4, status: 'active' }),
        getCampaign: async () => off,
      },
      async ({ ctx, audits, adjust }) => {
        expect(await runPollCycle(ctx, 'dnc')).toMatchObject({ kind: 'polled', guard: 'skipped' });
        await expectOneBreach(audits, adjust, 'compliance.doNotCallCheck');
        const stored = await new CampaignStore(base).get('dnc');
        expect(stored?.config.compliance?.doNotCallCheck).toBe(false);
        expect(resumeRefusal(stored!.config, clock.now())).toMatch(
          /compliance\.doNotCallCheck: disabling the do-not-call check is not allowed/,
        );
        // A deployment that allows it (ALLOW_DNC_DISABLED) lets the same settings resume.
        expect(resumeRefusal(stored!.config, clock.now(), { allowDncDisabled: true })).toBeNull();
      },
    );
  });

  it('flags a noncompliant change another read stored before the poll saw it', async () => {
    const clock = new ManualClock(Date.parse('2026-03-03T17:00:00Z'));
    const moved = resource({
      id: 'synced',
      version: 5,
      status: 'active',
      complianceSettings: { timeZone: 'America/Los_Angeles' } as never,
    });
    // A GET /v1/campaigns/{id} (or a command's fresh read) stored version 5 first.
    await new CampaignStore(base).put({
      campaignId: 'synced',
      status: 'active',
      version: 5,
      config: campaignConfig({ recipientStates: ['FL'] }),
      cxone: resource({ id: 'synced', version: 3, status: 'active' }),
    });
    await new CampaignStore(base).syncFromCxone(moved);
    await withCompliantContext(
      clock,
      {
        getStats: async () => statsOf({ version: 5, status: 'active' }),
      },
      async ({ ctx, audits, adjust }) => {
        expect(await runPollCycle(ctx, 'synced')).toMatchObject({ kind: 'polled', guard: 'skipped' });
        expect(audits.map((a) => a.details?.['kind'])).toEqual(['outside_change_noncompliant']);
        expect(await adjust.getJobCountByTypes('waiting')).toBe(1);
      },
    );
  });

  it('re-plans window enforcement from calling windows edited in CXone', async () => {
    // Tuesday 10:00 EST, inside the window; someone shortens it to end at 12:00 in CXone's console.
    const clock = new ManualClock(Date.parse('2026-03-03T15:00:00Z'));
    await seed('edited');
    const edited = resource({
      id: 'edited',
      version: 5,
      status: 'paused',
      complianceSettings: {
        allowedCallTimes: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '12:00' }],
      } as never,
    });
    const ctx = {
      ...base,
      clock,
      cxone: {
        getStats: async () => statsOf({ version: 5 }),
        getCampaign: async () => edited,
      },
    } as unknown as AppContext;
    await runPollCycle(ctx, 'edited');
    const job = await base.queues.compliance.getJob(windowJobId('edited'));
    expect(job && windowJobOf(job)).toEqual({
      campaignId: 'edited',
      kind: 'close',
      atMs: Date.parse('2026-03-03T17:00:00Z'),
    });
  });
});
