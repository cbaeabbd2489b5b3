import { describe, expect, it } from 'vitest';
import { toValidationIssues } from '../../src/shared/campaign-config.js';
import { campaignConfigSchema } from '../../src/shared/campaign-schema.js';
import {
  checkDeploymentPolicy,
  complianceOverrides,
  deploymentPolicyIssues,
} from '../../src/shared/compliance/deployment-policy.js';
import { STATE_RULES } from '../../src/shared/compliance/state-rules.js';
import { configInput } from './fixtures.js';

function issues(overrides: Parameters<typeof configInput>[0]) {
  const parsed = campaignConfigSchema.safeParse(configInput(overrides));
  return parsed.success ? [] : toValidationIssues(parsed.error);
}

describe('calling windows at submit time', () => {
  it('accepts a window inside 08:00–21:00', () => {
    expect(issues({})).toEqual([]);
    expect(issues({ allowedCallTimes: [{ days: ['sat'], start: '08:00', end: '21:00' }] })).toEqual([]);
  });

  it('refuses a 07:30 start, naming the rule and its source', () => {
    const found = issues({ allowedCallTimes: [{ days: ['mon'], start: '07:30', end: '12:00' }] });
    expect(found).toEqual([
      {
        path: 'allowedCallTimes.0.start',
        message: expect.stringMatching(/07:30 is before 08:00 local time .*47 CFR 64\.1200\(c\)\(1\)/),
      },
    ]);
  });

  it('refuses a 21:30 end', () => {
    const found = issues({ allowedCallTimes: [{ days: ['mon'], start: '12:00', end: '21:30' }] });
    expect(found).toEqual([
      {
        path: 'allowedCallTimes.0.end',
        message: expect.stringMatching(/21:30 is after 21:00 .*16 CFR 310\.4\(c\)/),
      },
    ]);
  });

  it('refuses a window that ends before it starts (or crosses midnight)', () => {
    const found = issues({ allowedCallTimes: [{ days: ['mon'], start: '17:00', end: '09:00' }] });
    expect(found.map((i) => i.path)).toEqual(['allowedCallTimes.0.end']);
    expect(found[0]?.message).toMatch(/must be after start \(17:00\)/);
  });

  it('refuses an unknown zone', () => {
    const found = issues({ complianceTimeZone: 'Mars/Olympus' });
    expect(found).toEqual([{ path: 'complianceTimeZone', message: expect.stringMatching(/IANA time zone/) }]);
  });

  it('names the OFCOM regime’s own source for the same floor', () => {
    const found = issues({
      compliance: { regime: 'OFCOM' },
      complianceTimeZone: 'Europe/London',
      allowedCallTimes: [{ days: ['mon'], start: '07:00', end: '12:00' }],
    });
    expect(found[0]?.message).toMatch(/orchestrator policy for the OFCOM regime/);
  });
});

describe('recipient states', () => {
  it('refuses a 20:30 end for Florida recipients, citing Fla. Stat. 501.616', () => {
    const found = issues({
      recipientStates: ['FL'],
      allowedCallTimes: [{ days: ['mon', 'tue'], start: '09:00', end: '20:30' }],
    });
    expect(found).toEqual([
      {
        path: 'allowedCallTimes.0.end',
        message:
          '20:30 is after 20:00 on mon, tue for Florida (FL) recipients (Fla. Stat. § 501.616(6)(a)–(b) (Florida Telemarketing Act, as amended 2021))',
      },
    ]);
  });

  it('accepts Florida hours on New York time (from 09:00, for the panhandle), and a 20:30 end without Florida', () => {
    expect(
      issues({
        recipientStates: ['FL'],
        allowedCallTimes: [{ days: ['mon'], start: '09:00', end: '20:00' }],
      }),
    ).toEqual([]);
    expect(
      issues({
        recipientStates: ['NY'],
        allowedCallTimes: [{ days: ['mon'], start: '09:00', end: '20:30' }],
      }),
    ).toEqual([]);
  });

  it('applies Oklahoma and Texas Sunday hours', () => {
    expect(
      issues({
        recipientStates: ['OK'],
        allowedCallTimes: [{ days: ['mon'], start: '09:00', end: '20:15' }],
      })[0]?.message,
    ).toMatch(/Oklahoma \(OK\).*tit\. 15 § 775C\.4/);
    const tx = issues({
      recipientStates: ['TX'],
      complianceTimeZone: 'America/Chicago',
      allowedCallTimes: [{ days: ['sat', 'sun'], start: '10:00', end: '20:00' }],
    });
    expect(tx).toEqual([
      {
        path: 'allowedCallTimes.0.start',
        message: expect.stringMatching(
          /^10:00 is before 12:00 on sun for Texas \(TX\) recipients \(Tex\. Bus\. & Com\. Code § 301\.051\)$/,
        ),
      },
      // El Paso keeps Mountain time: 10:00 in Chicago is 09:00 there, before Sunday's noon.
      {
        path: 'allowedCallTimes.0.start',
        message: expect.stringMatching(
          /^TX recipients on America\/Denver time would be called from 09:00 there: start at 13:00 America\/Chicago time or later on sun, /,
        ),
      },
    ]);
  });

  it("refuses a time zone none of a declared state's recipients keep, accepting any zone with the same clock", () => {
    // Florida recipients on Los Angeles time would be dialed until 23:00 their time.
    const found = issues({
      recipientStates: ['NY', 'FL'],
      complianceTimeZone: 'America/Los_Angeles',
      allowedCallTimes: [{ days: ['mon'], start: '09:00', end: '20:00' }],
    });
    expect(found).toEqual([
      {
        path: 'recipientStates.0',
        message: expect.stringMatching(
          /^NY recipients keep America\/New_York time, not America\/Los_Angeles; .*47 CFR/,
        ),
      },
      {
        path: 'recipientStates.1',
        message: expect.stringMatching(/^FL recipients keep America\/New_York or America\/Chicago time/),
      },
    ]);
    const window = [{ days: ['mon' as const], start: '09:00', end: '20:00' }];
    // The panhandle keeps Central time (Miami's 20:00 is 19:00 there); an alias or a zone with the
    // same rules serves as well.
    expect(
      issues({
        recipientStates: ['FL'],
        complianceTimeZone: 'America/Chicago',
        allowedCallTimes: [{ days: ['mon'], start: '09:00', end: '19:00' }],
      }),
    ).toEqual([]);
    expect(
      issues({ recipientStates: ['NY'], complianceTimeZone: 'US/Eastern', allowedCallTimes: window }),
    ).toEqual([]);
    expect(
      issues({ recipientStates: ['NY'], complianceTimeZone: 'America/Detroit', allowedCallTimes: window }),
    ).toEqual([]);
    // Arizona keeps no DST: Denver's clock differs half the year, Phoenix's is right.
    expect(
      issues({ recipientStates: ['AZ'], complianceTimeZone: 'America/Phoenix', allowedCallTimes: window }),
    ).toEqual([]);
    expect(
      issues({ recipientStates: ['NY'], complianceTimeZone: 'America/Phoenix', allowedCallTimes: window }),
    ).toHaveLength(1);
  });

  it("holds a window to the law in every zone of a declared state, not only the campaign's", () => {
    const all = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
    const window = (start: string, end: string) => [{ days: [...all], start, end }];
    // Florida on New York time: 08:00 in Miami is 07:00 in Pensacola.
    expect(
      issues({
        recipientStates: ['FL'],
        complianceTimeZone: 'America/New_York',
        allowedCallTimes: window('08:00', '20:00'),
      }),
    ).toEqual([
      {
        path: 'allowedCallTimes.0.start',
        message: expect.stringMatching(
          /^FL recipients on America\/Chicago time would be called from 07:00 there: start at 09:00 America\/New_York time or later on mon, tue, wed, thu, fri, sat, sun, or run one campaign per zone \(Fla\. Stat/,
        ),
      },
    ]);
    // Florida on Chicago time: 20:00 in Pensacola is 21:00 in Miami, past Florida's 20:00.
    expect(
      issues({
        recipientStates: ['FL'],
        complianceTimeZone: 'America/Chicago',
        allowedCallTimes: window('08:00', '20:00'),
      }).map((i) => [i.path, i.message.slice(0, 60)]),
    ).toEqual([['allowedCallTimes.0.end', 'FL recipients on America/New_York time would be called until']]);
    // Arizona on Phoenix time: the Navajo Nation keeps Denver's summer time, an hour later.
    expect(
      issues({
        recipientStates: ['AZ'],
        complianceTimeZone: 'America/Phoenix',
        allowedCallTimes: window('08:00', '21:00'),
      }),
    ).toEqual([
      {
        path: 'allowedCallTimes.0.end',
        message: expect.stringMatching(
          /^AZ recipients on America\/Denver time would be called until 22:00 there: end by 20:00 America\/Phoenix time/,
        ),
      },
    ]);
    // An hour that falls on another day there says so (the federal hours refuse such a window too).
    const night = issues({
      recipientStates: ['FL'],
      complianceTimeZone: 'America/New_York',
      allowedCallTimes: window('00:30', '08:30'),
    });
    expect(night.map((i) => i.message)).toContainEqual(
      expect.stringMatching(
        /^FL recipients on America\/Chicago time would be called from 23:30 the day before there/,
      ),
    );
    // A state of one zone, or hours that fit every zone: nothing.
    expect(issues({ recipientStates: ['NY'], allowedCallTimes: window('08:00', '21:00') })).toEqual([]);
    expect(
      issues({
        recipientStates: ['AZ'],
        complianceTimeZone: 'America/Phoenix',
        allowedCallTimes: window('08:00', '20:00'),
      }),
    ).toEqual([]);
  });

  it('refuses an unknown state code', () => {
    const found = issues({ recipientStates: ['ZZ'] });
    expect(found).toEqual([
      { path: 'recipientStates.0', message: expect.stringMatching(/"ZZ" is not a US state/) },
    ]);
  });

  it('refuses a state listed twice, at the repeat, as it does a repeated day or blackout date', () => {
    expect(issues({ recipientStates: ['NY', 'NJ', 'NY'] })).toEqual([
      { path: 'recipientStates.2', message: 'repeats NY: list each state once' },
    ]);
  });

  it('gives one message per mistake: nothing computed from a field already refused as malformed', () => {
    // A lower-case code is malformed, and not also an unknown state.
    expect(issues({ recipientStates: ['ny'] })).toEqual([
      { path: 'recipientStates.0', message: expect.stringMatching(/two-letter USPS state code/) },
    ]);
    // A zone that is no zone is not also a mismatch for each declared state…
    expect(issues({ recipientStates: ['NY', 'NJ'], complianceTimeZone: 'Eastern' })).toEqual([
      { path: 'complianceTimeZone', message: expect.stringMatching(/IANA time zone/) },
    ]);
    // …which a valid zone of the wrong clock still is.
    expect(
      issues({ recipientStates: ['NY', 'NJ'], complianceTimeZone: 'America/Chicago' }).map((i) => i.path),
    ).toEqual(['recipientStates.0', 'recipientStates.1']);
    // A start that is no time is not also an end before it; a real end before the start still is.
    const window = (start: string, end: string) => [{ days: ['mon' as const], start, end }];
    expect(issues({ allowedCallTimes: window('24:00', '20:00') })).toEqual([
      { path: 'allowedCallTimes.0.start', message: expect.stringMatching(/24-hour local time/) },
    ]);
    expect(issues({ allowedCallTimes: window('19:00', '18:00') })).toEqual([
      { path: 'allowedCallTimes.0.end', message: expect.stringMatching(/must be after start/) },
    ]);
  });

  it('refuses a calling window naming a day twice', () => {
    expect(
      issues({ allowedCallTimes: [{ days: ['mon', 'tue', 'mon'], start: '09:00', end: '17:00' }] }),
    ).toEqual([{ path: 'allowedCallTimes.0.days.2', message: 'mon is listed twice' }]);
  });

  it('refuses the OFCOM regime for US recipients, who are protected by the TCPA and the TSR', () => {
    const found = issues({
      recipientStates: ['NY'],
      complianceTimeZone: 'America/New_York',
      compliance: { regime: 'OFCOM', doNotCallCheck: true },
    });
    expect(found).toEqual([
      {
        path: 'compliance.regime',
        message: expect.stringMatching(/^NY recipients are called under the TCPA/),
      },
    ]);
    expect(issues({ recipientStates: ['NY'], complianceTimeZone: 'America/New_York' })).toEqual([]);
  });

  it('every encoded state row names its source, a statute or a regulation with its section', () => {
    for (const rule of Object.values(STATE_RULES)) expect(rule.source).toMatch(/§|\bCMR \d+\.\d+/);
  });
});

describe('deployment policy: the do-not-call check', () => {
  const dncOff = { compliance: { regime: 'TCPA' as const, doNotCallCheck: false } };

  it('refuses doNotCallCheck:false unless the deployment allows it', () => {
    expect(checkDeploymentPolicy(dncOff, { allowDncDisabled: false })).toEqual([
      { path: ['compliance', 'doNotCallCheck'], message: expect.stringMatching(/ALLOW_DNC_DISABLED=true/) },
    ]);
    expect(deploymentPolicyIssues(dncOff, { allowDncDisabled: false })[0]?.path).toBe(
      'compliance.doNotCallCheck',
    );
    expect(checkDeploymentPolicy(dncOff, { allowDncDisabled: true })).toEqual([]);
  });

  it('reports the override to audit only when it is used and allowed', () => {
    expect(complianceOverrides(dncOff, { allowDncDisabled: true })).toEqual([
      expect.objectContaining({ rule: 'do-not-call-check-disabled', allowedBy: 'ALLOW_DNC_DISABLED' }),
    ]);
    expect(complianceOverrides(dncOff, { allowDncDisabled: false })).toEqual([]);
    expect(complianceOverrides({}, { allowDncDisabled: true })).toEqual([]);
  });
});
