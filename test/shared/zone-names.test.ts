import { describe, expect, it } from 'vitest';
import { campaignConfigSchema } from '../../src/shared/campaign-schema.js';
import { placelessKind, placelessZoneProblem } from '../../src/shared/compliance/placeless-zones.js';
import { zoneMismatch, zonesKeepSameClock } from '../../src/shared/compliance/state-zones.js';
import {
  canonicalTimeZone,
  isValidTimeZone,
  NOT_A_ZONE_MESSAGE,
  timeZoneNameProblem,
  tzDatabaseSpelling,
} from '../../src/shared/time-zone.js';
import { configInput } from '../compliance/fixtures.js';

const SUMMER = Date.UTC(2026, 6, 15, 12);
const FROM = Date.UTC(2026, 0, 1);

/** What Intl reads a zone as (ICU's canonical id). */
const intlReads = (zone: string) =>
  new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;

/** Old names of a country's zone (the tz database's `backward` links without a `/`), and the place's zone. */
const PLACE_LINKS: [string, string][] = [
  ['Japan', 'Asia/Tokyo'],
  ['GB', 'Europe/London'],
  ['GB-Eire', 'Europe/London'],
  ['Singapore', 'Asia/Singapore'],
  ['Israel', 'Asia/Jerusalem'],
  ['NZ', 'Pacific/Auckland'],
  ['NZ-CHAT', 'Pacific/Chatham'],
  ['Cuba', 'America/Havana'],
  ['Egypt', 'Africa/Cairo'],
  ['Iran', 'Asia/Tehran'],
  ['Poland', 'Europe/Warsaw'],
  ['Portugal', 'Europe/Lisbon'],
  ['Turkey', 'Europe/Istanbul'],
  ['Hongkong', 'Asia/Hong_Kong'],
  ['Iceland', 'Atlantic/Reykjavik'],
  ['Jamaica', 'America/Jamaica'],
  ['Navajo', 'America/Denver'],
  ['PRC', 'Asia/Shanghai'],
  ['ROC', 'Asia/Taipei'],
  ['ROK', 'Asia/Seoul'],
  ['W-SU', 'Europe/Moscow'],
  ['Eire', 'Europe/Dublin'],
  ['Kwajalein', 'Pacific/Kwajalein'],
  ['Libya', 'Africa/Tripoli'],
];

const FIXED_OFFSETS: [string, string][] = [
  ['UTC', 'UTC+00:00'],
  ['GMT', 'UTC+00:00'],
  ['Zulu', 'UTC+00:00'],
  ['UCT', 'UTC+00:00'],
  ['Universal', 'UTC+00:00'],
  ['Greenwich', 'UTC+00:00'],
  ['GMT0', 'UTC+00:00'],
  ['GMT+0', 'UTC+00:00'],
  ['GMT-0', 'UTC+00:00'],
  ['EST', 'UTC-05:00'],
  ['MST', 'UTC-07:00'],
  ['HST', 'UTC-10:00'],
];

const RULES: [string, string][] = [
  ['CET', 'Europe/Brussels'],
  ['MET', 'Europe/Brussels'],
  ['EET', 'Europe/Athens'],
  ['WET', 'Europe/Lisbon'],
  ['EST5EDT', 'America/New_York'],
  ['CST6CDT', 'America/Chicago'],
  ['MST7MDT', 'America/Denver'],
  ['PST8PDT', 'America/Los_Angeles'],
];

describe('tz database names without a slash', () => {
  it.each(PLACE_LINKS)('%s is the zone of a place, kept as %s', (name, place) => {
    for (const spelt of [name, name.toLowerCase(), name.toUpperCase()]) {
      expect(isValidTimeZone(spelt), spelt).toBe(true);
      expect(timeZoneNameProblem(spelt), spelt).toBeUndefined();
      expect(canonicalTimeZone(spelt), spelt).toBe(place);
    }
    expect(tzDatabaseSpelling(name.toLowerCase())).toBe(name);
    // The runtime reads the old name as the place's zone, and they keep one clock.
    expect(intlReads(name)).toBe(intlReads(place));
    expect(zonesKeepSameClock(name, place, FROM)).toBe(true);
    expect(placelessKind(name)).toBeUndefined();
    expect(placelessKind(place)).toBeUndefined();
    // The schema stores the place's zone.
    const parsed = campaignConfigSchema.parse(configInput({ complianceTimeZone: name }));
    expect(parsed.complianceTimeZone).toBe(place);
  });

  it.each(FIXED_OFFSETS)(
    '%s is a fixed offset (%s), refused naming it, whatever Intl reads it as',
    (name, offset) => {
      expect(isValidTimeZone(name)).toBe(true);
      expect(canonicalTimeZone(name)).toBe(name);
      expect(placelessKind(name)).toBe('fixed-offset');
      expect(placelessZoneProblem(name, SUMMER)).toMatch(
        new RegExp(
          `^${name.replace('+', '\\+')} is a fixed offset \\(${offset.replace('+', '\\+')} all year, no daylight saving\\)`,
        ),
      );
    },
  );

  it('refuses EST with the place zones keeping its offset, America/New_York among them', () => {
    expect(placelessZoneProblem('EST', SUMMER)).toBe(
      "EST is a fixed offset (UTC-05:00 all year, no daylight saving) that no called party's clock keeps: " +
        "calling hours are the called party's local time; name the called party's zone, e.g. America/Bogota " +
        '(UTC-05:00 all year) or America/New_York (UTC-05:00, UTC-04:00 in daylight saving time)',
    );
    expect(placelessZoneProblem('HST', SUMMER)).toContain('e.g. Pacific/Honolulu (UTC-10:00 all year)');
  });

  it.each(RULES)(
    '%s is a daylight-saving rule, refused naming %s, which keeps the same clock',
    (name, place) => {
      expect(isValidTimeZone(name)).toBe(true);
      expect(canonicalTimeZone(name)).toBe(name);
      expect(placelessKind(name)).toBe('rule');
      expect(placelessZoneProblem(name)).toBe(
        `${name} is a daylight-saving rule, not a place: calling hours are the called party's local time; ` +
          `name the called party's zone, e.g. ${place} (the same clock)`,
      );
      expect(zonesKeepSameClock(name, place, FROM)).toBe(true);
    },
  );

  it("refuses ICU's legacy abbreviations, saying what the runtime would read them as", () => {
    for (const name of ['BST', 'AST', 'IST', 'PST', 'CST', 'JST', 'ECT']) {
      expect(isValidTimeZone(name), name).toBe(false);
      expect(timeZoneNameProblem(name), name).toBe(
        `${name} is an abbreviation, not a tz database zone, and abbreviations are ambiguous (this runtime ` +
          `would read it as ${intlReads(name)}): name the called party's zone as Area/Location, e.g. ` +
          'America/New_York or Europe/London',
      );
    }
    // BST is British Summer Time to a reader, Asia/Dhaka to ICU.
    expect(timeZoneNameProblem('BST')).toContain('read it as Asia/Dhaka');
    for (const name of ['Eastern', 'Mars/Olympus', 'Factory']) {
      expect(timeZoneNameProblem(name), name).toBe(NOT_A_ZONE_MESSAGE);
    }
  });
});

describe('links with a slash', () => {
  it('are kept as written, and serve for a state whose clock they keep', () => {
    const parsed = campaignConfigSchema.parse(
      configInput({ complianceTimeZone: 'US/Eastern', recipientStates: ['NY', 'NJ'] }),
    );
    expect(parsed.complianceTimeZone).toBe('US/Eastern');
    expect(zoneMismatch('NY', 'US/Eastern', FROM)).toBeNull();
    expect(zoneMismatch('CA', 'US/Pacific', FROM)).toBeNull();
    expect(zoneMismatch('AZ', canonicalTimeZone('Navajo'), FROM)).toBeNull();
    expect(zoneMismatch('CA', 'US/Eastern', FROM)).toEqual(['America/Los_Angeles']);
  });
});
