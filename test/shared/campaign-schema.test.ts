import { describe, expect, it } from 'vitest';
import { toValidationIssues } from '../../src/shared/campaign-config.js';
import { campaignConfigSchema } from '../../src/shared/campaign-schema.js';
import { createHash } from 'node:crypto';
import { configFingerprint, sameConfig } from '../../src/producers/launch-submit.js';
import { canonicalJson } from '../../src/shared/canonical-json.js';
import { toCreateCampaignRequest } from '../../src/shared/cxone/to-wire.js';
import { createCampaignRequestSchema } from '../../src/shared/cxone/wire.js';

const valid = {
  name: 'Winter renewals',
  startDateTime: '2026-12-01T09:00:00-05:00',
  targetListId: '7f1c2a4e-3b5d-4c6e-8f90-1a2b3c4d5e6f',
  skillGroupId: '0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d',
  complianceTimeZone: 'America/New_York',
  allowedCallTimes: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '20:00' }],
  dialerStrategy: { strategy: 'predictive', agentCapacity: 25, callRate: 0.5, answerRate: 0.3 },
};

const issuesOf = (body: unknown) => {
  const result = campaignConfigSchema.safeParse(body);
  return result.success ? [] : toValidationIssues(result.error, body);
};

describe('campaignConfigSchema', () => {
  it('accepts the seed shape', () => {
    expect(issuesOf(valid)).toEqual([]);
  });

  it('names every bad field by its dotted path', () => {
    const issues = issuesOf({
      ...valid,
      name: 'x'.repeat(20_000),
      targetListId: 'not-a-uuid',
      complianceTimeZone: 'Mars/Olympus',
      dialerStrategy: { ...valid.dialerStrategy, callRate: 2, agentCapacity: 0 },
      startDateTime: '2026-12-01 09:00',
    });
    const paths = issues.map((i) => i.path).sort();
    expect(paths).toEqual([
      'complianceTimeZone',
      'dialerStrategy.agentCapacity',
      'dialerStrategy.callRate',
      'name',
      'startDateTime',
      'targetListId',
    ]);
  });

  it('refuses a name CXone would refuse or garble: control characters, a lone surrogate', () => {
    for (const name of [
      'a\u0000b',
      'line\nbreak',
      'tab\there',
      'del\u007f',
      'line\u2028sep',
      'para\u2029sep',
    ]) {
      expect(issuesOf({ ...valid, name })).toEqual([
        expect.objectContaining({ path: 'name', message: expect.stringMatching(/control characters/) }),
      ]);
    }
    for (const name of ['Caf\ud800', '\udc00x']) {
      expect(issuesOf({ ...valid, name })).toEqual([
        expect.objectContaining({ path: 'name', message: expect.stringMatching(/lone surrogate/) }),
      ]);
    }
    // Invisible characters alone (zero-width space, a direction mark, a BOM) name nothing.
    for (const name of ['\u200b', '\u200e\u200b', ' \ufeff ']) {
      expect(issuesOf({ ...valid, name }), JSON.stringify(name)).toEqual([
        expect.objectContaining({ path: 'name', message: expect.stringMatching(/blank|empty/) }),
      ]);
    }
    // Bidirectional overrides and isolates make a name read as another ("\u202e" shows "evil" as "live").
    for (const name of ['\u202e evil', 'a\u2066b\u2069', 'x\u202ay\u202c']) {
      expect(issuesOf({ ...valid, name }), JSON.stringify(name)).toEqual([
        expect.objectContaining({ path: 'name', message: expect.stringMatching(/bidirectional/) }),
      ]);
    }
    // Text outside the BMP (a surrogate pair), accents, a joined emoji, right-to-left script and a
    // direction mark are names like any other.
    expect(issuesOf({ ...valid, name: 'Café 🚀 renewals' })).toEqual([]);
    expect(issuesOf({ ...valid, name: 'Team 👩\u200d💻' })).toEqual([]);
    expect(issuesOf({ ...valid, name: 'حملة الربيع \u200f2026' })).toEqual([]);
  });

  it('says "required" for a missing field and keeps the schema\'s message for a wrong one', () => {
    const { targetListId: _missing, ...withoutList } = valid;
    const missing = {
      ...withoutList,
      dialerStrategy: { strategy: 'predictive', callRate: 0.5, answerRate: null },
    };
    expect(issuesOf(missing)).toEqual([
      { path: 'targetListId', message: 'required' },
      { path: 'dialerStrategy.agentCapacity', message: 'required' },
      { path: 'dialerStrategy.answerRate', message: 'Invalid input: expected number, received null' },
    ]);
    expect(issuesOf({ ...valid, targetListId: 'nope' })).toEqual([
      { path: 'targetListId', message: 'must be a UUID' },
    ]);
    // A missing enum is "required" too (zod 4 calls it a wrong value); a wrong one keeps the options.
    const { strategy: _strategy, ...noStrategy } = valid.dialerStrategy;
    expect(issuesOf({ ...valid, dialerStrategy: noStrategy })).toEqual([
      { path: 'dialerStrategy.strategy', message: 'required' },
    ]);
    expect(issuesOf({ ...valid, dialerStrategy: { ...valid.dialerStrategy, strategy: 'turbo' } })).toEqual([
      { path: 'dialerStrategy.strategy', message: expect.stringMatching(/predictive/) },
    ]);
    // Without the input, a missing field keeps zod's wording.
    const parsed = campaignConfigSchema.safeParse(withoutList);
    expect(parsed.success).toBe(false);
    expect(toValidationIssues(parsed.error!)[0]).toEqual({ path: 'targetListId', message: 'must be a UUID' });
  });

  it('stores a zone in the tz database spelling, changing only its case, so one zone fingerprints one way', () => {
    const zoneOf = (complianceTimeZone: string) =>
      campaignConfigSchema.parse({ ...valid, complianceTimeZone }).complianceTimeZone;
    expect(zoneOf('america/new_york')).toBe('America/New_York');
    expect(zoneOf('AMERICA/LOS_ANGELES')).toBe('America/Los_Angeles');
    expect(
      configFingerprint(campaignConfigSchema.parse({ ...valid, complianceTimeZone: 'america/new_york' })),
    ).toBe(configFingerprint(campaignConfigSchema.parse(valid)));
    // Never another name for the zone (ICU would say Asia/Calcutta), and links stay as written.
    expect(zoneOf('Asia/Kolkata')).toBe('Asia/Kolkata');
    expect(zoneOf('US/Eastern')).toBe('US/Eastern');
    expect(zoneOf('UTC')).toBe('UTC');
  });

  it('fingerprints a config the same whether its defaulted groups are left out or spelled out', () => {
    const bare: Record<string, unknown> = { ...valid }; // no pacing, no compliance
    const fingerprint = (input: Record<string, unknown>) =>
      configFingerprint(campaignConfigSchema.parse(input));
    const spelled = {
      ...bare,
      pacing: { strategy: 'abandonment-target', targetAbandonment: 0.025, pollIntervalMs: 15_000 },
      compliance: {},
    };
    expect(fingerprint(bare)).toBe(fingerprint(spelled));
    expect(fingerprint(bare)).toBe(fingerprint({ ...bare, pacing: {} }));
    // A value that differs from the default is a different config.
    expect(fingerprint(bare)).not.toBe(fingerprint({ ...bare, pacing: { targetAbandonment: 0.02 } }));
    // A claim stored by the earlier release (a plain hash of the parsed config) still replays.
    const parsed = campaignConfigSchema.parse(bare);
    const earlierForm = createHash('sha256').update(canonicalJson(parsed)).digest('hex');
    expect(sameConfig(earlierForm, parsed)).toBe(true);
    expect(sameConfig(earlierForm, campaignConfigSchema.parse({ ...bare, name: 'Other' }))).toBe(false);
    expect(sameConfig(fingerprint(spelled), parsed)).toBe(true);
  });

  it('requires an offset on the start time', () => {
    expect(issuesOf({ ...valid, startDateTime: '2026-12-01T09:00:00' }).map((i) => i.path)).toEqual([
      'startDateTime',
    ]);
  });

  it('refuses a start more than a year ahead (a mistyped year), and accepts one in the past', () => {
    const iso = (ms: number) => new Date(ms).toISOString();
    const day = 24 * 3600 * 1000;
    expect(issuesOf({ ...valid, startDateTime: '2207-01-05T09:00:00-05:00' })).toEqual([
      { path: 'startDateTime', message: expect.stringMatching(/at most 366 days ahead/) },
    ]);
    expect(issuesOf({ ...valid, startDateTime: iso(Date.now() + 367 * day) }).map((i) => i.path)).toEqual([
      'startDateTime',
    ]);
    expect(issuesOf({ ...valid, startDateTime: iso(Date.now() + 365 * day) })).toEqual([]);
    // A value the format refuses gets that message alone.
    expect(issuesOf({ ...valid, startDateTime: '2026-11-29T02:30:00+24:00' })).toEqual([
      { path: 'startDateTime', message: expect.stringMatching(/^must be an ISO 8601 date-time/) },
    ]);
    // A start that has passed means "now" (docs/api.md).
    expect(issuesOf({ ...valid, startDateTime: '2020-01-06T09:00:00-05:00' })).toEqual([]);
  });

  it('refuses unknown fields rather than dropping them silently, naming each one', () => {
    expect(
      issuesOf({ ...valid, colour: 'red', dialerStrategy: { ...valid.dialerStrategy, speed: 3 } }),
    ).toEqual([
      { path: 'dialerStrategy.speed', message: 'unknown field' },
      { path: 'colour', message: 'unknown field' },
    ]);
  });

  it('refuses calling windows outside 08:00-21:00 or ending before they start', () => {
    const issues = issuesOf({
      ...valid,
      allowedCallTimes: [
        { days: ['mon'], start: '07:30', end: '12:00' },
        { days: ['tue'], start: '12:00', end: '21:30' },
        { days: ['wed'], start: '15:00', end: '10:00' },
      ],
    });
    expect(issues.map((i) => i.path)).toEqual(
      expect.arrayContaining([
        'allowedCallTimes.0.start',
        'allowedCallTimes.1.end',
        'allowedCallTimes.2.end',
      ]),
    );
    expect(issues.find((i) => i.path === 'allowedCallTimes.0.start')?.message).toMatch(/64\.1200/);
  });

  it('maps onto a CXone create payload the wire schema accepts', () => {
    const config = campaignConfigSchema.parse(valid);
    const wire = toCreateCampaignRequest(config);
    expect(createCampaignRequestSchema.safeParse(wire).success).toBe(true);
    expect(wire.dialerSettings.skillGroupId).toBe(valid.skillGroupId);
    expect(wire.complianceSettings.regulatoryCompliance).toBe('TCPA');
    expect(wire.complianceSettings.doNotCallListCheck).toBe(true);
  });
});
