import { describe, expect, it } from 'vitest';
import {
  checkOtherZonesOfStates,
  checkStateZones,
  dialingFromMs,
} from '../../src/shared/compliance/config-rules.js';
import { isWithinWindow } from '../../src/shared/compliance/windows.js';

/**
 * docs/compliance.md, State time zone: the clocks are compared over the year the campaign dials. A
 * start in the past dials from now, so a year from that start is the wrong year: zones whose rules
 * changed since agreed with a state's then and not today.
 */
const NOW = Date.parse('2026-12-01T12:00:00Z');
const weekdays = ['mon', 'tue', 'wed', 'thu', 'fri'] as const;

describe('state-zone rules on a campaign whose start is past', () => {
  it('refuses America/Whitehorse for California (Los Angeles time until 2020, UTC-07:00 all year since)', () => {
    const config = {
      complianceTimeZone: 'America/Whitehorse',
      recipientStates: ['CA'],
      startDateTime: '2019-06-03T09:00:00-07:00',
    };
    expect(checkStateZones(config, NOW)).toEqual([
      {
        path: ['recipientStates', 0],
        message: expect.stringMatching(
          /^CA recipients keep America\/Los_Angeles time, not America\/Whitehorse;/,
        ),
      },
    ]);
    // What accepting it meant: 08:00 on the campaign's clock is 07:00 in Los Angeles in winter.
    const windows = { ...config, allowedCallTimes: [{ days: [...weekdays], start: '08:00', end: '21:00' }] };
    expect(isWithinWindow(windows, Date.parse('2026-12-07T15:00:00Z'))).toBe(true); // Mon 07:00 PST
  });

  it('refuses America/Ojinaga for Colorado (Denver time until 2022, Chicago time since)', () => {
    expect(
      checkStateZones(
        {
          complianceTimeZone: 'America/Ojinaga',
          recipientStates: ['CO'],
          startDateTime: '2021-06-03T09:00:00-06:00',
        },
        NOW,
      ),
    ).toHaveLength(1);
  });

  it('accepts America/Indiana/Indianapolis for Indiana (New York time since 2006)', () => {
    expect(
      checkStateZones(
        {
          complianceTimeZone: 'America/Indiana/Indianapolis',
          recipientStates: ['IN'],
          startDateTime: '2005-06-03T09:00:00-05:00',
        },
        NOW,
      ),
    ).toEqual([]);
  });

  it("checks another zone of a state over today's clocks too", () => {
    // Indiana on New York time reaches its Central counties an hour earlier: 08:00 is 07:00 there.
    // In 2005 Indianapolis kept UTC-05:00 all year, an hour ahead of Chicago only in winter.
    const found = checkOtherZonesOfStates(
      {
        complianceTimeZone: 'America/Indiana/Indianapolis',
        recipientStates: ['IN'],
        startDateTime: '2005-06-03T09:00:00-05:00',
        allowedCallTimes: [{ days: [...weekdays], start: '08:30', end: '20:00' }],
      },
      NOW,
    );
    expect(found.map((p) => p.path.join('.'))).toEqual(['allowedCallTimes.0.start']);
  });

  it('keeps a future start as the start', () => {
    const start = '2027-03-01T09:00:00-05:00';
    expect(dialingFromMs(start, NOW)).toBe(Date.parse(start));
    expect(dialingFromMs('2019-01-01T00:00:00Z', NOW)).toBe(NOW);
    expect(dialingFromMs(undefined, NOW)).toBeNaN();
  });
});
