import { describe, expect, it } from 'vitest';
import { isWithinCallTimes } from '../../src/sandbox/call-windows.js';
import { CampaignDialers, type DialerModel } from '../../src/sandbox/campaign-dialers.js';
import { CampaignStore, diffCampaigns, parseCreateBody } from '../../src/sandbox/campaign-store.js';
import { Directory, SANDBOX_DIRECTORY, SANDBOX_STALE_LIST_ID } from '../../src/sandbox/directory.js';
import { SandboxHttpError } from '../../src/sandbox/errors.js';
import { FaultInjector } from '../../src/sandbox/faults.js';
import { IdempotencyStore, nestsDeeperThan } from '../../src/sandbox/idempotency.js';
import { canonicalJson } from '../../src/shared/canonical-json.js';
import { SimulatedTime } from '../../src/sandbox/sim-time.js';
import { ClientRegistry, TokenStore } from '../../src/sandbox/token-store.js';
import type { DialerSimulationOptions } from '../../src/sandbox/dialer/simulation.js';
import { ManualClock } from '../../src/shared/clock.js';
import { silentLogger } from '../../src/shared/logger.js';
import { createBody } from './helpers.js';

describe('isWithinCallTimes', () => {
  const weekdays = [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'] as const, start: '09:00', end: '17:00' }].map(
    (w) => ({
      ...w,
      days: [...w.days],
    }),
  );

  it('reads the window in the campaign zone, including the weekday', () => {
    // Friday 21:00 in New York is already Saturday in UTC.
    expect(isWithinCallTimes(weekdays, 'America/New_York', Date.parse('2026-12-05T02:00:00Z'))).toBe(false);
    expect(isWithinCallTimes(weekdays, 'America/New_York', Date.parse('2026-12-04T21:59:00Z'))).toBe(true);
    expect(isWithinCallTimes(weekdays, 'America/New_York', Date.parse('2026-12-04T22:00:00Z'))).toBe(false);
    expect(isWithinCallTimes(weekdays, 'Asia/Tokyo', Date.parse('2026-12-04T00:30:00Z'))).toBe(true);
  });

  it('follows daylight-saving changes', () => {
    const sunday = [{ days: ['sun' as const], start: '08:00', end: '09:00' }];
    // 12:30 UTC is 07:30 EST before the change and 08:30 EDT after it (8 March 2026).
    expect(isWithinCallTimes(sunday, 'America/New_York', Date.parse('2026-03-01T12:30:00Z'))).toBe(false);
    expect(isWithinCallTimes(sunday, 'America/New_York', Date.parse('2026-03-08T12:30:00Z'))).toBe(true);
  });
});

describe('TokenStore and ClientRegistry', () => {
  it('expires tokens at their TTL and tells expired from unknown', () => {
    const clock = new ManualClock(1_000);
    const tokens = new TokenStore(clock, 2);
    const { token } = tokens.issue('c', 't', ['outbound:campaigns:read']);
    expect(tokens.check(token).ok).toBe(true);
    clock.advance(1_999);
    expect(tokens.check(token).ok).toBe(true);
    clock.advance(1);
    expect(tokens.check(token)).toEqual({ ok: false, reason: 'expired' });
    expect(tokens.check('nope')).toEqual({ ok: false, reason: 'unknown' });
  });

  it('grants a subset of the client scopes and names what it refuses', () => {
    const registry = new ClientRegistry([
      {
        clientId: 'a',
        clientSecret: 's3cret',
        scopes: ['outbound:campaigns:read', 'outbound:campaigns:write'],
      },
    ]);
    const client = registry.authenticate('a', 's3cret');
    expect(client).not.toBeNull();
    expect(registry.authenticate('a', 's3cre')).toBeNull();
    expect(registry.resolveScopes(client!, 'outbound:campaigns:read')).toEqual({
      ok: true,
      scopes: ['outbound:campaigns:read'],
    });
    expect(registry.resolveScopes(client!, 'outbound:campaigns:stats:read admin')).toEqual({
      ok: false,
      unknown: ['admin'],
      notGranted: ['outbound:campaigns:stats:read'],
    });
  });
});

describe('SimulatedTime.realOf', () => {
  it('maps simulated instants back to real ones, a skipped stretch to the moment of its skip', () => {
    const clock = new ManualClock(1_000_000);
    const time = new SimulatedTime(clock, 60);
    clock.advance(1_000); // 60 s simulated
    expect(time.now()).toBe(1_060_000);
    expect(time.realOf(1_030_000)).toBe(1_000_500);
    time.skip(600_000); // simulated 1 060 000 → 1 660 000 at real 1 001 000
    expect(time.realOf(1_300_000)).toBe(1_001_000);
    expect(time.realOf(1_660_000)).toBe(1_001_000);
    clock.advance(1_000);
    expect(time.now()).toBe(1_720_000);
    expect(time.realOf(1_690_000)).toBe(1_001_500);
    // Never later than now.
    expect(time.realOf(9_999_999)).toBe(1_002_000);
  });
});

describe('IdempotencyStore', () => {
  it('treats key order as irrelevant and forgets keys after the TTL', () => {
    expect(canonicalJson({ b: 1, a: [{ y: 2, x: 1 }] })).toBe(canonicalJson({ a: [{ x: 1, y: 2 }], b: 1 }));
    const clock = new ManualClock(0);
    const store = new IdempotencyStore(clock, 1000);
    store.remember('t', 'k', { a: 1 }, { statusCode: 201, body: { id: 'c1' }, campaignId: 'c1' });
    expect(store.lookup('t', 'k', { a: 1 }).kind).toBe('replay');
    expect(store.lookup('t', 'k', { a: 2 }).kind).toBe('mismatch');
    store.remember(
      't',
      'k2',
      { b: [1, { d: 2, c: 3 }], a: 'x' },
      { statusCode: 201, body: {}, campaignId: 'c2' },
    );
    expect(store.lookup('t', 'k2', { a: 'x', b: [1, { c: 3, d: 2 }] }).kind).toBe('replay');
    expect(store.lookup('t', 'k2', { a: 'x', b: [{ c: 3, d: 2 }, 1] }).kind).toBe('mismatch');
    expect(store.lookup('other-tenant', 'k', { a: 2 }).kind).toBe('new');
    clock.advance(1001);
    expect(store.lookup('t', 'k', { a: 2 }).kind).toBe('new');
  });

  it('tells a body nested past any create body apart without walking all of it', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(nestsDeeperThan(deep, 32)).toBe(true);
    expect(nestsDeeperThan({ a: [{ b: [1] }] }, 4)).toBe(false);
    expect(nestsDeeperThan({ a: [{ b: [1] }] }, 3)).toBe(true);
    const store = new IdempotencyStore(new ManualClock(0), 1000);
    store.remember('t', 'k', { a: 1 }, { statusCode: 201, body: { id: 'c1' }, campaignId: 'c1' });
    expect(store.lookup('t', 'k', { a: deep }).kind).toBe('mismatch');
  });
});

describe('FaultInjector', () => {
  it('consumes scripted failures in order, per endpoint', () => {
    const faults = new FaultInjector({ seed: 1 });
    faults.failNext({ remaining: 1, status: 500, endpoint: 'POST /api/v2/campaigns' });
    faults.failNext({ remaining: 1, status: 502 });
    expect(faults.decide('GET /api/v2/campaigns/:id')).toMatchObject({ fail: true, status: 502 });
    expect(faults.decide('GET /api/v2/campaigns/:id')).toEqual({ fail: false });
    expect(faults.decide('POST /api/v2/campaigns')).toMatchObject({ fail: true, status: 500 });
    expect(faults.decide('POST /api/v2/campaigns')).toEqual({ fail: false });
  });
});

describe('campaign store validation and diffs', () => {
  it('diffs nested settings with dotted paths', () => {
    const store = new CampaignStore(new ManualClock(0));
    const before = store.create(parseCreateBody(createBody()), 'x', 'tenant-x');
    const after = {
      ...before,
      status: 'scheduled' as const,
      dialerSettings: { ...before.dialerSettings, callRate: 0.9 },
    };
    expect(diffCampaigns(before, after)).toEqual({
      status: { from: 'draft', to: 'scheduled' },
      'dialerSettings.callRate': { from: 0.5, to: 0.9 },
    });
  });

  it('rejects a body that is not an object with a 422 on (body)', () => {
    try {
      parseCreateBody([1, 2]);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(SandboxHttpError);
      expect((err as SandboxHttpError).statusCode).toBe(422);
      expect((err as SandboxHttpError).extra.errors).toEqual([expect.objectContaining({ field: '(body)' })]);
    }
  });
});

describe('CampaignDialers', () => {
  type Call = [string, ...unknown[]];
  function recordingFactory(calls: Call[], created: DialerSimulationOptions[]) {
    return (params: DialerSimulationOptions): DialerModel => {
      created.push(params);
      let sim = params.startMs;
      return {
        setCallRate: (r) => calls.push(['setCallRate', r]),
        setDialing: (on) => calls.push(['setDialing', on]),
        setAgents: (n) => calls.push(['setAgents', n]),
        setStrategy: (s) => calls.push(['setStrategy', s]),
        setWrapUp: (ms) => calls.push(['setWrapUp', ms]),
        setAnswerProb: (p) => calls.push(['setAnswerProb', p]),
        advanceTo: (ms, canDial) => {
          sim = ms;
          calls.push(['advanceTo', ms, canDial?.(ms)]);
        },
        snapshot: () => ({
          totalCalls: 10,
          answeredCalls: 4,
          abandonedCalls: 1,
          complianceViolations: 0,
          agentUtilization: 250,
          staffedAgentMs: 0,
          busyAgentMs: 0,
          simMs: sim,
        }),
      };
    };
  }

  /** A campaign store, its dialers on a recording factory, and the directory they read, at one clock. */
  function dialerRig() {
    const clock = new ManualClock(Date.parse('2026-12-02T15:00:00Z'));
    const store = new CampaignStore(clock);
    const calls: Call[] = [];
    const created: DialerSimulationOptions[] = [];
    const directory = new Directory();
    const dialers = new CampaignDialers(
      store,
      new SimulatedTime(clock, 60),
      recordingFactory(calls, created),
      42,
      silentLogger,
      directory,
    );
    return { clock, store, calls, created, directory, dialers };
  }

  it('creates one model on first activation and keeps it in step with every change', () => {
    const { clock, store, calls, created, dialers } = dialerRig();

    const campaign = store.create(parseCreateBody(createBody()), 'x', 'tenant-x');
    expect(dialers.stats(campaign)).toMatchObject({ totalCalls: 0, agentUtilization: 0, status: 'draft' });
    store.update(campaign.id, 1, { status: 'scheduled' }, 'x');
    expect(created).toHaveLength(0);
    store.update(campaign.id, 2, { status: 'active' }, 'x');
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({
      agents: 20,
      answerProb: 0.35,
      callRate: 0.5,
      strategy: 'predictive',
      wrapUpMs: 30_000,
    });
    expect(calls).toEqual([['setDialing', true]]);

    calls.length = 0;
    clock.advance(1000); // one real second = one simulated minute
    store.update(
      campaign.id,
      3,
      { dialerSettings: { callRate: 0.7, agentCapacity: 25, wrapUpTime: 90 } },
      'x',
    );
    const simNow = Date.parse('2026-12-02T15:00:00Z') + 60_000;
    expect(calls).toEqual([
      ['advanceTo', simNow, true],
      ['setCallRate', 0.7],
      ['setAgents', 25],
      ['setWrapUp', 90_000],
      ['setDialing', true],
    ]);

    calls.length = 0;
    store.update(campaign.id, 4, { status: 'paused' }, 'x');
    expect(calls.at(-1)).toEqual(['setDialing', false]);
    const stats = dialers.stats(store.get(campaign.id));
    expect(stats).toMatchObject({ totalCalls: 10, agentUtilization: 100, status: 'paused', version: 5 });
    expect(created).toHaveLength(1);
  });

  it('steps a lagging campaign towards now a chunk at a time, and a group nothing ran yet not at all', () => {
    const { clock, store, calls, dialers } = dialerRig();
    const start = clock.now();
    const campaign = store.create(parseCreateBody(createBody()), 'x', 'tenant-x');
    store.update(campaign.id, 1, { status: 'scheduled' }, 'x');
    store.update(campaign.id, 2, { status: 'active' }, 'x');
    calls.length = 0;
    clock.advance(60_000); // a simulated hour at 60×
    const chunk = 15 * 60_000;
    const behind: boolean[] = [];
    for (let i = 0; i < 4; i++) behind.push(dialers.stepTowardNow(campaign.id, chunk));
    // Still more than a chunk behind after the first two steps; the last stretch is the read's own.
    expect(behind).toEqual([true, true, false, false]);
    expect(calls.map(([name, ms]) => [name, Number(ms) - start])).toEqual([
      ['advanceTo', chunk],
      ['advanceTo', 2 * chunk],
      ['advanceTo', 3 * chunk],
    ]);
    // Another campaign of its group, never active: its pool is the group's, which the recording
    // models never joined (so it has run nowhere): nothing to step, not a step for ever.
    const other = store.create(parseCreateBody(createBody()), 'x', 'tenant-x');
    expect(dialers.stepTowardNow(other.id, chunk)).toBe(false);
    expect(dialers.stepTowardNow('no-such-campaign', chunk)).toBe(false);
  });

  it("answers at the target list's contact rate: the declared answerRate is only the client's expectation", () => {
    const { clock, store, calls, created, directory, dialers } = dialerRig();

    const body = createBody({ targetListId: SANDBOX_STALE_LIST_ID });
    body.dialerSettings.answerRate = 0.6;
    const campaign = store.create(parseCreateBody(body), 'x', 'tenant-x');
    store.update(campaign.id, 1, { status: 'scheduled' }, 'x');
    store.update(campaign.id, 2, { status: 'active' }, 'x');
    expect(created).toHaveLength(1);
    expect(created[0]?.answerProb).toBe(0.15);

    // Declaring another rate reaches the resource, not the model.
    calls.length = 0;
    clock.advance(1000);
    const patched = store.update(campaign.id, 3, { dialerSettings: { answerRate: 0.15 } }, 'x');
    expect(patched.dialerSettings.answerRate).toBe(0.15);
    expect(calls.map(([name]) => name)).toEqual(['advanceTo', 'setDialing']);

    // The list's own rate changing (the directory rewritten) does reach it, from that instant on.
    calls.length = 0;
    clock.advance(1000);
    directory.add({ targetLists: [{ id: SANDBOX_STALE_LIST_ID, name: 'Stale list', contactRate: 0.1 }] });
    dialers.followDirectory();
    expect(calls).toEqual([
      ['advanceTo', Date.parse('2026-12-02T15:00:00Z') + 120_000, true],
      ['setAnswerProb', 0.1],
    ]);
    calls.length = 0;
    dialers.followDirectory(); // nothing changed since
    expect(calls).toEqual([]);
  });

  // Writes are refused when they plan for more agents than the group holds, but a group can shrink
  // under a running campaign (agents log off). The model kept dialing for every planned agent, so a
  // campaign ran on agents its group no longer had and its statistics hid the shortage.
  it('dials for no more agents than its skill group has now, as the group shrinks and grows', () => {
    const { clock, store, calls, created, directory, dialers } = dialerRig();
    const collections = SANDBOX_DIRECTORY.skillGroups[2]!; // 40 agents
    const body = createBody();
    body.dialerSettings.skillGroupId = collections.id;
    body.dialerSettings.agentCapacity = 30;
    const campaign = store.create(parseCreateBody(body, directory), 'x', 'tenant-x');
    // Half the group logs off before the start.
    directory.add({ skillGroups: [{ ...collections, agents: 20 }] });
    store.update(campaign.id, 1, { status: 'scheduled' }, 'x');
    store.update(campaign.id, 2, { status: 'active' }, 'x');
    expect(created[0]?.agents).toBe(20);

    calls.length = 0;
    clock.advance(1000);
    directory.add({ skillGroups: [{ ...collections, agents: 5 }] });
    dialers.followDirectory();
    expect(calls).toEqual([
      ['advanceTo', Date.parse('2026-12-02T15:00:00Z') + 60_000, true],
      ['setAgents', 5],
    ]);

    // Back to full strength: the campaign gets what it planned for, not the whole group.
    calls.length = 0;
    directory.add({ skillGroups: [{ ...collections, agents: 40 }] });
    dialers.followDirectory();
    expect(calls.filter(([name]) => name === 'setAgents')).toEqual([['setAgents', 30]]);

    // A capacity change within the group is the campaign's to make, as before.
    calls.length = 0;
    store.update(campaign.id, 3, { dialerSettings: { agentCapacity: 10 } }, 'x');
    expect(calls.filter(([name]) => name === 'setAgents')).toEqual([['setAgents', 10]]);
  });
});
