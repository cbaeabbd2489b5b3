import { describe, expect, it } from 'vitest';
import { flattenPatch, campaignPatchSchema } from '../../src/shared/lifecycle/patch.js';
import {
  baseAfterEarlier,
  planRollback,
  rebaseAction,
  rebaseSettings,
  sameValue,
  threeWay,
} from '../../src/shared/lifecycle/rebase.js';
import { resource } from './fixtures.js';

const flat = (patch: unknown) => flattenPatch(campaignPatchSchema.parse(patch));

describe('sameValue / threeWay', () => {
  it('compares JSON values structurally, null standing for absent', () => {
    expect(sameValue({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] })).toBe(true);
    expect(sameValue({ a: 1, b: 2 }, { b: 2, a: 1 })).toBe(true);
    expect(sameValue([1, 2], [2, 1])).toBe(false);
    expect(sameValue(null, undefined)).toBe(true);
    expect(sameValue(0, null)).toBe(false);
    expect(sameValue({ a: 1 }, [1])).toBe(false);
  });

  it('applies when theirs is still the base, skips when theirs is already ours, else conflicts', () => {
    expect(threeWay(0.5, 0.7, 0.5)).toBe('apply');
    expect(threeWay(0.5, 0.7, 0.7)).toBe('already');
    expect(threeWay(0.5, 0.7, 0.6)).toBe('conflict');
  });
});

describe('rebaseSettings', () => {
  it('rebases onto a version where someone else changed another field: only our field is sent', () => {
    const latest = resource({
      version: 9,
      dialerSettings: { agentCapacity: 35 } as never,
      name: 'Renamed by console',
    });
    const result = rebaseSettings({
      ours: flat({ dialerStrategy: { callRate: 0.8 } }),
      base: { 'dialerStrategy.callRate': 0.5 },
      latest,
      local: {},
    });
    expect(result.kind).toBe('apply');
    if (result.kind !== 'apply') return;
    expect(result.body).toEqual({ dialerSettings: { callRate: 0.8 } });
    expect(result.before).toEqual({ 'dialerStrategy.callRate': 0.5 });
    // The validated result keeps their changes next to ours.
    expect(result.merged.name).toBe('Renamed by console');
    expect(result.merged.dialerStrategy).toMatchObject({ agentCapacity: 35, callRate: 0.8 });
  });

  it('reports a conflict when someone else changed the same field, with base, ours and theirs', () => {
    const latest = resource({ version: 9, dialerSettings: { callRate: 0.6 } as never });
    const result = rebaseSettings({
      ours: flat({ dialerStrategy: { callRate: 0.8 }, name: 'Ours' }),
      base: { 'dialerStrategy.callRate': 0.5, name: 'Spring renewals' },
      latest,
      local: {},
    });
    expect(result).toEqual({
      kind: 'conflict',
      report: {
        reason: expect.stringContaining('dialerStrategy.callRate'),
        conflicts: [{ field: 'dialerStrategy.callRate', base: 0.5, ours: 0.8, theirs: 0.6 }],
        version: 9,
        status: 'active',
      },
    });
  });

  it('treats a field already holding our value as applied (a retried attempt writes nothing twice)', () => {
    const latest = resource({ dialerSettings: { callRate: 0.8 } as never });
    const result = rebaseSettings({
      ours: flat({ dialerStrategy: { callRate: 0.8 }, name: 'New' }),
      base: { 'dialerStrategy.callRate': 0.5, name: 'Spring renewals' },
      latest,
      local: {},
    });
    expect(result.kind).toBe('apply');
    if (result.kind !== 'apply') return;
    expect(result.alreadyApplied).toEqual(['dialerStrategy.callRate']);
    expect(result.body).toEqual({ name: 'New' });
  });

  it('compares calling windows as a whole list', () => {
    const theirs = [{ days: ['mon'], start: '10:00', end: '18:00' }];
    const latest = resource({ complianceSettings: { allowedCallTimes: theirs } as never });
    const result = rebaseSettings({
      ours: flat({ allowedCallTimes: [{ days: ['mon', 'tue'], start: '09:00', end: '20:00' }] }),
      base: { allowedCallTimes: resource().complianceSettings.allowedCallTimes },
      latest,
      local: {},
    });
    expect(result.kind).toBe('conflict');
    if (result.kind === 'conflict')
      expect(result.report.conflicts[0]).toMatchObject({ field: 'allowedCallTimes', theirs });
  });

  it('takes a field without a captured base as unchanged (base = what is there now)', () => {
    const result = rebaseSettings({ ours: flat({ name: 'X' }), base: {}, latest: resource(), local: {} });
    expect(result.kind).toBe('apply');
  });

  it('re-validates the merged result: valid alone, invalid on top of their change', () => {
    // The campaign calls New York (our record). Our window is valid alone, but they moved the zone to
    // Honolulu in the console, which does not keep New York's clock.
    const input = {
      ours: flat({ allowedCallTimes: [{ days: ['mon'], start: '09:00', end: '20:30' }] }),
      base: { allowedCallTimes: resource().complianceSettings.allowedCallTimes },
      latest: resource(),
      local: { recipientStates: ['NY'] },
    };
    expect(rebaseSettings(input).kind).toBe('apply');
    const latest = resource({ complianceSettings: { timeZone: 'Pacific/Honolulu' } as never });
    const result = rebaseSettings({ ...input, latest });
    expect(result.kind).toBe('invalid');
    if (result.kind === 'invalid') {
      expect(result.issues.map((i) => i.path)).toContain('recipientStates.0');
    }
  });

  it("re-validates against the recipient states of the orchestrator's record, never a list CXone shows", () => {
    // A resource still carrying a list (an earlier release sent one) is not read for the states.
    const latest = resource({ complianceSettings: { recipientStates: ['FL'] } as never });
    const input = {
      ours: flat({ allowedCallTimes: [{ days: ['mon'], start: '09:00', end: '20:30' }] }),
      base: { allowedCallTimes: resource().complianceSettings.allowedCallTimes },
      latest,
      local: {},
    };
    expect(rebaseSettings(input).kind).toBe('apply');
    // Florida in our record binds the window (calls end there at 20:00).
    const bound = rebaseSettings({ ...input, latest: resource(), local: { recipientStates: ['FL'] } });
    expect(bound.kind).toBe('invalid');
    if (bound.kind === 'invalid') expect(bound.issues.map((i) => i.path)).toContain('allowedCallTimes.0.end');
  });

  it('re-checks as a launch is (checkCampaignRules): a list past its maximum hides no other problem', () => {
    // 29 windows set in CXone's console (its contract has no maximum), the last past 21:00.
    const windows = [
      ...Array.from({ length: 28 }, () => ({ days: ['mon'], start: '09:00', end: '17:00' })),
      { days: ['tue'], start: '09:00', end: '21:30' },
    ];
    const latest = resource({ complianceSettings: { allowedCallTimes: windows } as never });
    const renamed = rebaseSettings({ ours: flat({ name: 'X' }), base: {}, latest, local: {} });
    expect(renamed.kind).toBe('invalid');
    if (renamed.kind === 'invalid') {
      expect(renamed.issues.map((i) => i.path)).toEqual(['allowedCallTimes', 'allowedCallTimes.28.end']);
    }
    // A cut brings no problem of its own: it goes through (the adjust worker's, as the API's).
    const cut = rebaseSettings({
      ours: flat({ dialerStrategy: { callRate: 0.3 } }),
      base: {},
      latest,
      local: {},
    });
    expect(cut.kind).toBe('apply');
  });

  it('adds a recipient state to our record only: nothing for CXone', () => {
    const result = rebaseSettings({
      ours: flat({ recipientStates: ['FL', 'GA'] }),
      base: { recipientStates: ['FL'] },
      latest: resource(),
      local: { recipientStates: ['FL'] },
    });
    expect(result.kind).toBe('apply');
    if (result.kind !== 'apply') return;
    expect(result.body).toEqual({});
    expect(result.wire).toEqual({});
    expect(result.local).toEqual({ recipientStates: ['FL', 'GA'] });
    expect(result.merged.recipientStates).toEqual(['FL', 'GA']);
  });

  it('refuses any change to a campaign that ended', () => {
    const result = rebaseSettings({
      ours: flat({ name: 'late' }),
      base: { name: 'Spring renewals', status: 'active' },
      latest: resource({ status: 'completed' }),
      local: {},
    });
    expect(result.kind).toBe('conflict');
    if (result.kind === 'conflict') {
      expect(result.report.conflicts).toEqual([
        { field: 'status', base: 'active', ours: null, theirs: 'completed' },
      ]);
    }
    // A resume's settings: the status ours is the resume's, as for a resume without settings.
    expect(
      rebaseSettings({
        ours: flat({ dialerStrategy: { callRate: 0.8 } }),
        base: { 'dialerStrategy.callRate': 0.5, status: 'paused' },
        latest: resource({ status: 'completed' }),
        local: {},
        action: 'resume',
      }),
    ).toMatchObject({
      kind: 'conflict',
      report: { conflicts: [{ field: 'status', base: 'paused', ours: 'active', theirs: 'completed' }] },
    });
  });

  it("takes a stop's own settings found on the campaign it ended as applied, and nothing else", () => {
    const closed = resource({ status: 'completed' });
    const ended = { ...closed, dialerSettings: { ...closed.dialerSettings, callRate: 0.8 } };
    const base = { 'dialerStrategy.callRate': 0.5, description: null, status: 'active' };
    // Its CXone fields all in place: the stop's one write, its answer lost.
    expect(
      rebaseSettings({
        ours: flat({ dialerStrategy: { callRate: 0.8 }, description: 'wound down' }),
        base,
        latest: ended,
        local: {},
        stopping: true,
      }),
    ).toMatchObject({
      kind: 'apply',
      body: {},
      alreadyApplied: ['dialerStrategy.callRate'],
      local: { description: 'wound down' },
    });
    // None of CXone's touched at all: the stop was the one write, and the rest is the orchestrator's.
    expect(
      rebaseSettings({
        ours: flat({ description: 'wound down' }),
        base,
        latest: ended,
        local: {},
        stopping: true,
      }),
    ).toMatchObject({ kind: 'apply', body: {}, local: { description: 'wound down' } });
    // One not in place: still closed to the change.
    expect(
      rebaseSettings({
        ours: flat({ dialerStrategy: { callRate: 0.8 }, name: 'late' }),
        base,
        latest: ended,
        local: {},
        stopping: true,
      }).kind,
    ).toBe('conflict');
    // Not a stop: closed, whatever it holds.
    expect(
      rebaseSettings({ ours: flat({ dialerStrategy: { callRate: 0.8 } }), base, latest: ended, local: {} })
        .kind,
    ).toBe('conflict');
  });

  it('keeps orchestrator-only fields out of the CXone body and compares them with our record', () => {
    const local = {
      pacing: { strategy: 'threshold' as const, targetAbandonment: 0.02, pollIntervalMs: 15_000 },
    };
    const ok = rebaseSettings({
      ours: flat({ pacing: { targetAbandonment: 0.025 }, name: 'N' }),
      base: { 'pacing.targetAbandonment': 0.02 },
      latest: resource(),
      local,
    });
    expect(ok.kind).toBe('apply');
    if (ok.kind === 'apply') {
      expect(ok.body).toEqual({ name: 'N' });
      expect(ok.local).toEqual({ 'pacing.targetAbandonment': 0.025 });
      expect(ok.merged.pacing).toEqual({
        strategy: 'threshold',
        targetAbandonment: 0.025,
        pollIntervalMs: 15_000,
      });
    }
    const conflict = rebaseSettings({
      ours: flat({ pacing: { targetAbandonment: 0.025 } }),
      base: { 'pacing.targetAbandonment': 0.01 },
      latest: resource(),
      local,
    });
    expect(conflict.kind).toBe('conflict');
  });
});

describe('rebaseAction', () => {
  it('applies an action the latest state allows', () => {
    expect(rebaseAction('pause', resource({ status: 'active' }), 'active')).toEqual({
      kind: 'apply',
      from: 'active',
      target: 'paused',
    });
    expect(rebaseAction('stop', resource({ status: 'paused' }), 'active')).toEqual({
      kind: 'apply',
      from: 'paused',
      target: 'completed',
    });
  });

  it('is idempotent on intent: an action someone else already did is done', () => {
    expect(rebaseAction('pause', resource({ status: 'paused' }), 'active')).toEqual({
      kind: 'already',
      status: 'paused',
    });
    expect(rebaseAction('resume', resource({ status: 'active' }), 'paused')).toEqual({
      kind: 'already',
      status: 'active',
    });
    expect(rebaseAction('stop', resource({ status: 'cancelled' }), 'scheduled')).toEqual({
      kind: 'already',
      status: 'cancelled',
    });
  });

  it('reports a status conflict when the new state forbids the action', () => {
    const result = rebaseAction('resume', resource({ status: 'completed', version: 12 }), 'paused');
    expect(result).toEqual({
      kind: 'conflict',
      report: {
        reason: expect.stringContaining('completed'),
        conflicts: [{ field: 'status', base: 'paused', ours: 'active', theirs: 'completed' }],
        version: 12,
        status: 'completed',
      },
    });
  });

  it("names a status as ours when the action plans no change from the requester's view", () => {
    // A pause of a campaign the requester saw paused (it takes the pause over), stopped since.
    const result = rebaseAction('pause', resource({ status: 'completed', version: 9 }), 'paused');
    expect(result).toMatchObject({
      kind: 'conflict',
      report: { conflicts: [{ field: 'status', base: 'paused', ours: 'paused', theirs: 'completed' }] },
    });
    expect(rebaseAction('resume', resource({ status: 'cancelled' }))).toMatchObject({
      report: { conflicts: [{ field: 'status', base: null, ours: 'active', theirs: 'cancelled' }] },
    });
  });
});

describe('planRollback', () => {
  const written = [
    { field: 'dialerStrategy.callRate', from: 0.5, to: 0.8 },
    { field: 'name', from: 'Spring renewals', to: 'Ours' },
  ];

  it('puts back every field still holding our value', () => {
    const plan = planRollback(
      written,
      resource({ name: 'Ours', dialerSettings: { callRate: 0.8 } as never }),
      {},
    );
    expect(plan.body).toEqual({ name: 'Spring renewals', dialerSettings: { callRate: 0.5 } });
    expect(plan.restored).toEqual([
      { field: 'dialerStrategy.callRate', from: 0.8, to: 0.5 },
      { field: 'name', from: 'Ours', to: 'Spring renewals' },
    ]);
    expect(plan.conflicts).toEqual([]);
  });

  it('never forces a field someone else changed after our write; reports it instead', () => {
    const plan = planRollback(
      written,
      resource({ name: 'Console name', dialerSettings: { callRate: 0.8 } as never }),
      {},
    );
    expect(plan.body).toEqual({ dialerSettings: { callRate: 0.5 } });
    expect(plan.conflicts).toEqual([
      { field: 'name', base: 'Spring renewals', ours: 'Ours', theirs: 'Console name' },
    ]);
  });

  it('needs nothing for fields already back at their old value', () => {
    const plan = planRollback(written, resource(), {});
    expect(plan.body).toEqual({});
    expect(plan.restored).toEqual([]);
  });

  it('skips fields that were absent before (CXone PATCH cannot unset them)', () => {
    const plan = planRollback([{ field: 'name', from: null, to: 'Named' }], resource({ name: 'Named' }), {});
    expect(plan.skipped).toEqual(['name']);
    expect(plan.body).toEqual({});
  });
});

describe('baseAfterEarlier', () => {
  it('moves the base on by each earlier change that starts from it, oldest first, and by no other', () => {
    const base = { 'dialerStrategy.callRate': 0.5, status: 'active', name: 'A' };
    expect(
      baseAfterEarlier(base, [
        { field: 'dialerStrategy.callRate', from: 0.5, to: 0.7 },
        { field: 'dialerStrategy.callRate', from: 0.7, to: 0.6 },
        { field: 'status', from: 'active', to: 'paused' },
        // Started from another value (the base was read after it): not this base's history.
        { field: 'name', from: 'Z', to: 'B' },
        // A field this command does not touch stays out of its base.
        { field: 'dialerStrategy.agentCapacity', from: 10, to: 12 },
      ]),
    ).toEqual({ 'dialerStrategy.callRate': 0.6, status: 'paused', name: 'A' });
    expect(base['dialerStrategy.callRate']).toBe(0.5);
  });
});

describe('rebaseSettings on a config CXone left breaking a rule', () => {
  // Widened to 22:00 in CXone's console: past the federal 21:00, which no config of ours may say.
  const widened = resource({
    complianceSettings: {
      allowedCallTimes: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '22:00' }],
    } as never,
  });
  const decide = (patch: unknown) =>
    rebaseSettings({ ours: flat(patch), base: {}, latest: widened, local: {} });

  it('lets a cut of the call rate or the agent capacity through: it brings no problem of its own', () => {
    expect(decide({ dialerStrategy: { callRate: 0.2 } }).kind).toBe('apply');
    expect(decide({ dialerStrategy: { agentCapacity: 10, callRate: 0.1 } }).kind).toBe('apply');
  });

  it('refuses anything else, naming every problem of the result', () => {
    for (const patch of [
      { dialerStrategy: { callRate: 0.9 } },
      { name: 'Renamed' },
      { dialerStrategy: { callRate: 0.2 }, name: 'Renamed' },
    ]) {
      const result = decide(patch);
      expect(result.kind, JSON.stringify(patch)).toBe('invalid');
      if (result.kind === 'invalid')
        expect(result.issues.map((i) => i.path)).toContain('allowedCallTimes.0.end');
    }
  });
});
