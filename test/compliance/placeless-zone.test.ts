import { describe, expect, it } from 'vitest';
import { checkCampaignConfig, checkCampaignRules } from '../../src/shared/campaign-check.js';
import { checkCampaignCompliance, checkWrittenTimeZone } from '../../src/shared/compliance/config-rules.js';
import { complianceRefusal } from '../../src/shared/compliance/command-guard.js';
import { runtimeComplianceProblems, STRICT_POLICY } from '../../src/shared/compliance/deployment-policy.js';
import {
  placelessKind,
  placelessZoneProblem,
  placeZonesFor,
} from '../../src/shared/compliance/placeless-zones.js';
import { applyChanges, validateChange } from '../../src/shared/lifecycle/config-view.js';
import { isValidTimeZone } from '../../src/shared/time-zone.js';
import { config, configInput } from './fixtures.js';

const SUMMER = Date.UTC(2026, 6, 15, 12);

describe('zones that keep no place’s clock', () => {
  it('are every Etc/ zone, UTC and its aliases Intl accepts, in any case, and the System V zones', () => {
    const placeless = [
      'UTC',
      'Etc/UTC',
      'Etc/GMT',
      'Etc/GMT0',
      'Etc/GMT+0',
      'Etc/GMT-0',
      'Etc/GMT+5',
      'Etc/GMT-14',
      'Etc/GMT+12',
      'Etc/UCT',
      'Etc/Universal',
      'Etc/Zulu',
      'Etc/Greenwich',
      'etc/gmt+5',
      'ETC/UTC',
      'SystemV/EST5',
      'SystemV/EST5EDT',
    ];
    for (const zone of placeless) {
      // Still IANA zones (stored campaigns on them load): refused as a campaign's zone, not as a zone.
      expect(isValidTimeZone(zone), zone).toBe(true);
      expect(placelessKind(zone), zone).toBeDefined();
      expect(placelessZoneProblem(zone), zone).toContain("no called party's clock keeps");
    }
    // The aliases without a slash, and the US standard times (EST, which Intl reads as America/Panama
    // since tzdata 2024b, MST as America/Phoenix, HST as Pacific/Honolulu): by name, not by Intl.
    for (const zone of ['GMT', 'Zulu', 'UCT', 'Universal', 'Greenwich', 'GMT0', 'utc', 'EST', 'MST', 'HST']) {
      expect(isValidTimeZone(zone), zone).toBe(true);
      expect(placelessKind(zone), zone).toBe('fixed-offset');
      expect(placelessZoneProblem(zone), zone).toContain("no called party's clock keeps");
    }
  });

  it('leave every zone of a place alone, links included', () => {
    for (const zone of [...Intl.supportedValuesOf('timeZone'), 'US/Eastern', 'Asia/Calcutta']) {
      expect(placelessKind(zone), zone).toBeUndefined();
    }
  });

  it('are refused with the offset they are and places keeping it, the tz database’s inverted sign undone', () => {
    expect(placelessZoneProblem('Etc/GMT+5', SUMMER)).toBe(
      "Etc/GMT+5 is a fixed offset (UTC-05:00 all year, no daylight saving) that no called party's clock keeps: " +
        "calling hours are the called party's local time; name the called party's zone, e.g. America/Bogota " +
        '(UTC-05:00 all year) or America/New_York (UTC-05:00, UTC-04:00 in daylight saving time)',
    );
    expect(placelessZoneProblem('Etc/GMT-9', SUMMER)).toContain('(UTC+09:00 all year');
    expect(placelessZoneProblem('Etc/GMT-9', SUMMER)).toContain('e.g. Asia/Tokyo (UTC+09:00 all year)');
    // No place keeps UTC-12: two well-known zones instead.
    expect(placeZonesFor('Etc/GMT+12', SUMMER)).toEqual(['America/New_York', 'Europe/London']);
    // Every suggestion is a place's zone.
    for (let hours = -12; hours <= 14; hours++) {
      const zone = hours === 0 ? 'Etc/GMT' : `Etc/GMT${hours > 0 ? '-' : '+'}${Math.abs(hours)}`;
      for (const suggestion of placeZonesFor(zone, SUMMER)) {
        expect(placelessKind(suggestion.split(' ')[0] as string), zone).toBeUndefined();
      }
    }
  });
});

describe('the rule applies where a zone is written', () => {
  it('refuses a launch config on one (checkCampaignConfig), naming complianceTimeZone alone', () => {
    for (const zone of ['Etc/GMT+5', 'UTC', 'Etc/UTC']) {
      const checked = checkCampaignConfig(configInput({ complianceTimeZone: zone }), STRICT_POLICY);
      expect(checked.config, zone).toBeUndefined();
      expect(checked.issues, zone).toEqual([
        { path: 'complianceTimeZone', message: placelessZoneProblem(zone) },
      ]);
    }
    expect(checkWrittenTimeZone(configInput({ complianceTimeZone: 'America/Bogota' }))).toEqual([]);
    // A zone the schema refuses is the schema's to name, once.
    expect(checkWrittenTimeZone(configInput({ complianceTimeZone: 'Mars/Olympus' }))).toEqual([]);
  });

  it('refuses a change that sets one, and lets a queued one (zoneWritten: false) through', () => {
    const current = config();
    const changes = { complianceTimeZone: 'Etc/GMT+5' };
    const refused = validateChange(current, applyChanges(current, changes), changes);
    expect(refused).toEqual({
      ok: false,
      issues: [{ path: 'complianceTimeZone', message: placelessZoneProblem('Etc/GMT+5') }],
    });
    const queued = validateChange(current, applyChanges(current, changes), changes, { zoneWritten: false });
    expect(queued).toMatchObject({ ok: true, config: { complianceTimeZone: 'Etc/GMT+5' } });
  });
});

describe('a campaign whose zone CXone holds is one (a console change, or a launch before the rule)', () => {
  const stored = config({ complianceTimeZone: 'UTC', recipientStates: [] });
  const refusedZone = (zone: string) => [
    { path: ['complianceTimeZone'], message: placelessZoneProblem(zone) },
  ];

  it('breaks a runtime rule whatever its recipient states: the poll pauses it, a resume and the report name it', () => {
    for (const zone of ['Etc/GMT+5', 'UTC', 'Etc/UTC', 'SystemV/EST5']) {
      // No recipientStates, so no state rule catches it: the written zone's rule does.
      expect(runtimeComplianceProblems(config({ complianceTimeZone: zone }), STRICT_POLICY), zone).toEqual(
        refusedZone(zone),
      );
    }
    // Declared states add no finding computed from the same zone (their clocks): one mistake, one message.
    expect(
      runtimeComplianceProblems(
        config({ complianceTimeZone: 'Etc/GMT+5', recipientStates: ['NY'] }),
        STRICT_POLICY,
      ),
    ).toEqual(refusedZone('Etc/GMT+5'));
    // Other breaches are still named beside it.
    const windowPast = config({
      complianceTimeZone: 'Etc/GMT+5',
      allowedCallTimes: [{ days: ['mon'], start: '09:00', end: '22:00' }],
    });
    expect(runtimeComplianceProblems(windowPast, STRICT_POLICY).map((p) => p.path.join('.'))).toEqual([
      'complianceTimeZone',
      'allowedCallTimes.0.end',
    ]);
    expect(
      runtimeComplianceProblems(config({ complianceTimeZone: 'America/Bogota' }), STRICT_POLICY),
    ).toEqual([]);
    // Inside its window (a Monday at 12:00 UTC): the resume guard refuses it for its zone.
    const monday = Date.UTC(2026, 2, 2, 12);
    expect(complianceRefusal({ action: 'resume', reason: 'operator', config: stored, atMs: monday })).toBe(
      "cannot resume: the campaign's settings as CXone holds them break compliance rules (complianceTimeZone: " +
        `${placelessZoneProblem('UTC')}); fix them first (PATCH, or a patch in the resume command)`,
    );
  });

  it('still loads: the config rules of a stored config do not refuse it', () => {
    expect(checkCampaignCompliance(stored)).toEqual([]);
    expect(checkCampaignRules(stored)).toMatchObject({ issues: [], config: { complianceTimeZone: 'UTC' } });
  });

  it('takes changes to its other fields, a raise of the call rate included, and a move to a place', () => {
    for (const changes of [
      { 'dialerStrategy.callRate': 0.9 },
      { name: 'Renamed' },
      { allowedCallTimes: [{ days: ['mon'], start: '10:00', end: '16:00' }] },
      { complianceTimeZone: 'Atlantic/Reykjavik' },
    ]) {
      const checked = validateChange(stored, applyChanges(stored, changes), changes);
      expect(checked.ok, JSON.stringify(changes)).toBe(true);
    }
  });
});
