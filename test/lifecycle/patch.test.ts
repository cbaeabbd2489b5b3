import { describe, expect, it } from 'vitest';
import { campaignConfigSchema } from '../../src/shared/campaign-schema.js';
import { updateCampaignRequestSchema } from '../../src/shared/cxone/wire.js';
import { applyPatch, configFromResource } from '../../src/shared/lifecycle/config-view.js';
import {
  campaignPatchSchema,
  captureBase,
  configPathOfWire,
  explainNotPatchable,
  flattenPatch,
  isEmptyUpdate,
  localChanges,
  patchToWire,
  wireChanges,
} from '../../src/shared/lifecycle/patch.js';
import { campaignConfig, resource } from './fixtures.js';

describe('campaignPatchSchema', () => {
  it('accepts a partial dialer change', () => {
    expect(campaignPatchSchema.parse({ dialerStrategy: { callRate: 0.7 } })).toEqual({
      dialerStrategy: { callRate: 0.7 },
    });
  });

  it('validates fields with the launch schema rules', () => {
    const result = campaignPatchSchema.safeParse({
      dialerStrategy: { callRate: 1.5 },
      complianceTimeZone: 'Mars/Olympus',
      allowedCallTimes: [{ days: ['mon'], start: '9:00', end: '20:00' }],
    });
    expect(result.success).toBe(false);
    const paths = result.error!.issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(
      expect.arrayContaining(['dialerStrategy.callRate', 'complianceTimeZone', 'allowedCallTimes.0.start']),
    );
  });

  it('rejects an empty patch, an empty nested object and unknown or immutable fields', () => {
    expect(campaignPatchSchema.safeParse({}).success).toBe(false);
    expect(campaignPatchSchema.safeParse({ dialerStrategy: {} }).success).toBe(false);
    expect(
      campaignPatchSchema.safeParse({ targetListId: '7b6f7f8e-1c2d-4e5f-8a9b-0c1d2e3f4a5b' }).success,
    ).toBe(false);
    expect(campaignPatchSchema.safeParse({ startDateTime: '2026-12-01T09:00:00-05:00' }).success).toBe(false);
    expect(campaignPatchSchema.safeParse({ dialerStrategy: { callRate: 0.5, speed: 2 } }).success).toBe(
      false,
    );
    expect(campaignPatchSchema.safeParse({ status: 'paused' }).success).toBe(false);
  });

  it('does not fill pacing defaults: an omitted field stays untouched', () => {
    expect(campaignPatchSchema.parse({ pacing: { targetAbandonment: 0.02 } })).toEqual({
      pacing: { targetAbandonment: 0.02 },
    });
  });
});

describe('explainNotPatchable', () => {
  it('explains a field a patch may not touch', () => {
    expect(explainNotPatchable([{ path: 'targetListId', message: 'unknown field' }])).toEqual([
      { path: 'targetListId', message: expect.stringMatching(/^cannot be changed by PATCH/) as unknown },
    ]);
  });

  // A PATCH of {"toString": 1} was answered with the message "function toString() { [native code] }".
  it('leaves an unknown field named like an Object.prototype member unknown', () => {
    for (const path of ['toString', 'valueOf', 'hasOwnProperty', '__defineGetter__', 'isPrototypeOf']) {
      expect(explainNotPatchable([{ path, message: 'unknown field' }]), path).toEqual([
        { path, message: 'unknown field' },
      ]);
    }
  });
});

describe("configPathOfWire: a CXone field by the config's name", () => {
  it('maps every field of the resource the config names, and keeps the others', () => {
    // Every one the config spells differently, so an outside change and ours name a setting alike.
    const resourceFields = {
      'dialerSettings.callRate': 'dialerStrategy.callRate',
      'dialerSettings.agentCapacity': 'dialerStrategy.agentCapacity',
      'dialerSettings.answerRate': 'dialerStrategy.answerRate',
      'dialerSettings.strategy': 'dialerStrategy.strategy',
      'dialerSettings.skillGroupId': 'skillGroupId',
      'complianceSettings.timeZone': 'complianceTimeZone',
      'complianceSettings.allowedCallTimes': 'allowedCallTimes',
      'complianceSettings.regulatoryCompliance': 'compliance.regime',
      'complianceSettings.doNotCallListCheck': 'compliance.doNotCallCheck',
      name: 'name',
      startDateTime: 'startDateTime',
      targetListId: 'targetListId',
      // Not in the config: CXone's name is the only one.
      'dialerSettings.wrapUpTime': 'dialerSettings.wrapUpTime',
    };
    for (const [wire, path] of Object.entries(resourceFields)) expect(configPathOfWire(wire)).toBe(path);
  });
});

describe('patch mapping', () => {
  const patch = campaignPatchSchema.parse({
    name: 'Renamed',
    description: 'only ours',
    complianceTimeZone: 'America/Chicago',
    dialerStrategy: { callRate: 0.8, agentCapacity: 12 },
    skillGroupId: '2b2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d',
    pacing: { pollIntervalMs: 30_000 },
  });

  it('flattens to one entry per touched leaf', () => {
    const flat = flattenPatch(patch);
    expect(flat).toEqual({
      name: 'Renamed',
      description: 'only ours',
      complianceTimeZone: 'America/Chicago',
      'dialerStrategy.callRate': 0.8,
      'dialerStrategy.agentCapacity': 12,
      skillGroupId: '2b2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d',
      'pacing.pollIntervalMs': 30_000,
    });
  });

  it('maps onto a valid CXone PATCH body, leaving orchestrator-only fields out', () => {
    const body = patchToWire(patch);
    expect(body).toEqual({
      name: 'Renamed',
      dialerSettings: {
        callRate: 0.8,
        agentCapacity: 12,
        skillGroupId: '2b2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d',
      },
      complianceSettings: { timeZone: 'America/Chicago' },
    });
    expect(updateCampaignRequestSchema.safeParse(body).success).toBe(true);
  });

  it('splits CXone fields from orchestrator fields', () => {
    const flat = flattenPatch(patch);
    expect(Object.keys(wireChanges(flat)).sort()).toEqual(
      [
        'complianceTimeZone',
        'dialerStrategy.agentCapacity',
        'dialerStrategy.callRate',
        'name',
        'skillGroupId',
      ].sort(),
    );
    expect(localChanges(flat)).toEqual({ description: 'only ours', 'pacing.pollIntervalMs': 30_000 });
  });

  it('gives an empty body for a patch of orchestrator-only fields', () => {
    const body = patchToWire(campaignPatchSchema.parse({ pacing: { targetAbandonment: 0.02 } }));
    expect(isEmptyUpdate(body)).toBe(true);
  });

  it('captures the current values of the touched fields from CXone and from our record', () => {
    const latest = resource();
    const flat = flattenPatch(patch);
    expect(
      captureBase(flat, latest, {
        pacing: { strategy: 'threshold', targetAbandonment: 0.025, pollIntervalMs: 15_000 },
      }),
    ).toEqual({
      name: 'Spring renewals',
      description: null,
      complianceTimeZone: 'America/New_York',
      'dialerStrategy.callRate': 0.5,
      'dialerStrategy.agentCapacity': 20,
      skillGroupId: '1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d',
      'pacing.pollIntervalMs': 15_000,
    });
  });
});

describe('config view', () => {
  it('rebuilds the API config from a CXone resource plus our own fields', () => {
    const config = configFromResource(resource(), { description: 'ours' });
    expect(config).toMatchObject({
      ...campaignConfig(),
      description: 'ours',
      compliance: { regime: 'TCPA', doNotCallCheck: true },
    });
    expect(campaignConfigSchema.safeParse(config).success).toBe(true);
  });

  it('merges nested objects field by field and replaces arrays whole', () => {
    const merged = applyPatch(
      campaignConfig(),
      campaignPatchSchema.parse({
        dialerStrategy: { callRate: 0.9 },
        allowedCallTimes: [{ days: ['sat'], start: '10:00', end: '14:00' }],
      }),
    ) as ReturnType<typeof campaignConfig>;
    expect(merged.dialerStrategy).toEqual({
      strategy: 'predictive',
      agentCapacity: 20,
      callRate: 0.9,
      answerRate: 0.3,
    });
    expect(merged.allowedCallTimes).toEqual([{ days: ['sat'], start: '10:00', end: '14:00' }]);
  });
});
