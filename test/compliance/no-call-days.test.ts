import { describe, expect, it } from 'vitest';
import { checkCampaignConfig } from '../../src/shared/campaign-check.js';
import { WEEKDAYS } from '../../src/shared/campaign-config.js';
import { closedBy, complianceRefusal } from '../../src/shared/compliance/command-guard.js';
import {
  federalHolidays,
  hasHolidayCalendar,
  holidayOn,
  holidaysFrom,
  rhodeIslandHolidays,
} from '../../src/shared/compliance/holidays.js';
import { buildComplianceReport } from '../../src/shared/compliance/report.js';
import { STATE_RULES } from '../../src/shared/compliance/state-rules.js';
import {
  currentWindowClose,
  isWithinWindow,
  nextAllowedStart,
  nextWindowOpen,
  nextWindowTransition,
} from '../../src/shared/compliance/windows.js';
import { campaignPatchSchema, isEmptyUpdate, patchToWire } from '../../src/shared/lifecycle/patch.js';
import { complianceReportSchema } from '../../src/shared/responses/compliance-report.js';
import { config, configInput } from './fixtures.js';

/*
 * Blackout dates: local dates on which a campaign does not dial at all (Louisiana's holidays, a
 * governor's declared holiday, the operator's own days off). Pure: the windows, the resume refusal
 * and its reason, the report, the schema and the patch.
 */
const t = (iso: string) => Date.parse(iso);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const weekdays = config(); // America/New_York, Mon–Fri 09:00–17:00

describe('the calling windows', () => {
  const offMonday = config({ blackoutDates: ['2026-03-09'] });

  it('open no window on a blackout date: the next open after Friday is Tuesday', () => {
    const fridayAfterClose = t('2026-03-06T22:00:05Z');
    expect(iso(nextWindowOpen(weekdays, fridayAfterClose))).toBe('2026-03-09T13:00:00.000Z');
    expect(iso(nextWindowOpen(offMonday, fridayAfterClose))).toBe('2026-03-10T13:00:00.000Z');
    expect(isWithinWindow(weekdays, t('2026-03-09T15:00:00Z'))).toBe(true);
    expect(isWithinWindow(offMonday, t('2026-03-09T15:00:00Z'))).toBe(false);
    expect(isWithinWindow(offMonday, t('2026-03-10T15:00:00Z'))).toBe(true);
  });

  it('leave the days around it alone: Friday still closes at 17:00', () => {
    expect(nextWindowTransition(offMonday, t('2026-03-06T20:00:00Z'))).toEqual({
      kind: 'close',
      atMs: t('2026-03-06T22:00:00Z'),
    });
  });

  it('are dates in the campaign zone, not in UTC', () => {
    // Tokyo's 09:00–17:00 on 10 March is 00:00–08:00 UTC the same day; 01:00 UTC on the 9th is the
    // 9th's 10:00 there, 15:00 UTC on the 9th already the 10th's 00:00.
    const tokyo = config({ complianceTimeZone: 'Asia/Tokyo', blackoutDates: ['2026-03-10'] });
    expect(isWithinWindow(tokyo, t('2026-03-09T01:00:00Z'))).toBe(true);
    expect(isWithinWindow(tokyo, t('2026-03-10T01:00:00Z'))).toBe(false);
    expect(isWithinWindow(tokyo, t('2026-03-11T01:00:00Z'))).toBe(true);
    expect(iso(nextWindowOpen(tokyo, t('2026-03-09T15:00:00Z')))).toBe('2026-03-11T00:00:00.000Z');
  });

  it('find the open after a run of blackout dates longer than the usual fifteen-day search', () => {
    const march = Array.from({ length: 23 }, (_, i) => `2026-03-${String(9 + i).padStart(2, '0')}`);
    const offRestOfMarch = config({ blackoutDates: march });
    // Wednesday 1 April 09:00 EDT, 26 days after Friday's close.
    expect(iso(nextWindowOpen(offRestOfMarch, t('2026-03-06T22:00:05Z')))).toBe('2026-04-01T13:00:00.000Z');
    expect(iso(nextAllowedStart(offRestOfMarch, t('2026-03-09T14:00:00Z')))).toBe('2026-04-01T13:00:00.000Z');
  });

  it('find the open after blackout dates spread out further than one day each', () => {
    // A Monday-only campaign with four Mondays in a row blacked out: the next open is five weeks on.
    const mondays = config({
      allowedCallTimes: [{ days: ['mon'], start: '09:00', end: '17:00' }],
      blackoutDates: ['2026-03-09', '2026-03-16', '2026-03-23', '2026-03-30'],
    });
    expect(iso(nextWindowOpen(mondays, t('2026-03-06T22:00:05Z')))).toBe('2026-04-06T13:00:00.000Z');
    expect(iso(nextAllowedStart(mondays, t('2026-03-09T14:00:00Z')))).toBe('2026-04-06T13:00:00.000Z');
    // A list reaching far ahead does not keep the open near now from being found.
    const yearAhead = config({ blackoutDates: ['2026-03-09', '2026-12-25', '2027-01-01'] });
    expect(iso(nextWindowOpen(yearAhead, t('2026-03-06T22:00:05Z')))).toBe('2026-03-10T13:00:00.000Z');
  });

  it("move a launch's start on a blackout date to the next open", () => {
    expect(iso(nextAllowedStart(weekdays, t('2026-03-09T14:00:00Z')))).toBe('2026-03-09T14:00:00.000Z');
    expect(iso(nextAllowedStart(offMonday, t('2026-03-09T14:00:00Z')))).toBe('2026-03-10T13:00:00.000Z');
  });

  it('past dates change nothing', () => {
    const past = config({ blackoutDates: ['2025-12-25', '2026-01-01'] });
    expect(currentWindowClose(past, t('2026-03-09T15:00:00Z'))).toBe(t('2026-03-09T21:00:00Z'));
  });
});

describe('a resume on a blackout date', () => {
  const offMonday = config({ blackoutDates: ['2026-03-09'] });

  it('is refused, naming the date as the reason and the next open', () => {
    const refusal = complianceRefusal({
      action: 'resume',
      reason: 'operator',
      config: offMonday,
      atMs: t('2026-03-09T15:00:00Z'),
    });
    expect(refusal).toMatch(
      /outside the campaign's calling windows \(2026-03-09 is one of its blackoutDates;/,
    );
    expect(refusal).toMatch(/the next window opens at 2026-03-10T09:00:00-04:00/);
    expect(
      complianceRefusal({
        action: 'resume',
        reason: 'operator',
        config: offMonday,
        atMs: t('2026-03-10T15:00:00Z'),
      }),
    ).toBeNull();
  });

  it('names the law first when the law forbids the hour anyway', () => {
    expect(closedBy(offMonday, t('2026-03-10T02:00:00Z'))).toMatch(/^calling hours 08:00–21:00 local/);
    expect(closedBy(weekdays, t('2026-03-09T22:30:00Z'))).toMatch(/^its own allowedCallTimes/);
  });
});

describe('the compliance report', () => {
  it('lists the blackout dates ascending and passes its schema', () => {
    const built = buildComplianceReport({
      campaignId: 'cmp-blackout',
      status: 'paused',
      config: config({ blackoutDates: ['2026-12-25', '2026-03-09'] }),
      window: {},
      actions: [],
      nowMs: t('2026-03-09T15:00:00Z'),
    });
    expect(built.rules.blackoutDates).toEqual(['2026-03-09', '2026-12-25']);
    expect(built.window).toMatchObject({ open: false, nextOpen: '2026-03-10T09:00:00-04:00' });
    expect(complianceReportSchema.parse(built).rules.blackoutDates).toEqual(['2026-03-09', '2026-12-25']);
  });

  it('lists none for a campaign without them', () => {
    const built = buildComplianceReport({
      campaignId: 'cmp-no-blackout',
      status: 'active',
      config: weekdays,
      window: {},
      actions: [],
      nowMs: t('2026-03-09T15:00:00Z'),
    });
    expect(built.rules.blackoutDates).toEqual([]);
  });
});

describe('the config field', () => {
  const policy = { allowDncDisabled: false };
  const issuesOf = (blackoutDates: unknown) =>
    checkCampaignConfig({ ...configInput(), blackoutDates }, policy).issues;

  it('takes calendar dates, each once', () => {
    const checked = checkCampaignConfig(
      { ...configInput(), blackoutDates: ['2026-12-25', '2028-02-29'] },
      policy,
    );
    expect(checked.issues).toEqual([]);
    expect(checked.config?.blackoutDates).toEqual(['2026-12-25', '2028-02-29']);
  });

  it('names each date that is not one, and each repeat, by its index', () => {
    expect(issuesOf(['2026-02-29', '2026-12-25', '25/12/2026', '2026-12-25'])).toEqual([
      { path: 'blackoutDates.0', message: 'must be a calendar date as YYYY-MM-DD, e.g. 2026-12-25' },
      { path: 'blackoutDates.2', message: 'must be a calendar date as YYYY-MM-DD, e.g. 2026-12-25' },
      { path: 'blackoutDates.3', message: 'repeats 2026-12-25: list each date once' },
    ]);
  });

  it('holds at most a year of dates', () => {
    const days = Array.from({ length: 367 }, (_, i) => new Date(t('2027-01-01T00:00:00Z') + i * 86_400_000));
    const issues = issuesOf(days.map((d) => d.toISOString().slice(0, 10)));
    expect(issues).toEqual([{ path: 'blackoutDates', message: 'must list at most 366 dates' }]);
  });

  it("is patchable and the orchestrator's own: a patch of it alone sends CXone nothing", () => {
    const patch = campaignPatchSchema.parse({ blackoutDates: ['2026-12-25'] });
    expect(patch).toEqual({ blackoutDates: ['2026-12-25'] });
    expect(isEmptyUpdate(patchToWire(patch))).toBe(true);
    expect(campaignPatchSchema.safeParse({ blackoutDates: ['2026-13-01'] }).success).toBe(false);
  });

  it('is refused on a day of the week list as a weekday, not a date', () => {
    expect(issuesOf([WEEKDAYS[0]])).toEqual([
      { path: 'blackoutDates.0', message: 'must be a calendar date as YYYY-MM-DD, e.g. 2026-12-25' },
    ]);
  });
});

/*
 * Holiday calendars computed from their statutes (holidays.ts): the federal legal public holidays
 * (5 U.S.C. § 6103) and Rhode Island's (R.I. Gen. Laws § 25-1-1, for § 5-61-2's "except a state or
 * federal holiday"), and what they do to a campaign declaring Rhode Island recipients. Pure.
 */
const dates = (list: { date: string }[]) => list.map((h) => h.date).sort();

describe('the federal calendar', () => {
  it("has 5 U.S.C. § 6103(a)'s eleven days of 2026, and the Friday a Saturday Independence Day is kept on", () => {
    expect(dates(federalHolidays(2026))).toEqual([
      '2026-01-01',
      '2026-01-19',
      '2026-02-16',
      '2026-05-25',
      '2026-06-19',
      '2026-07-03',
      '2026-07-04',
      '2026-09-07',
      '2026-10-12',
      '2026-11-11',
      '2026-11-26',
      '2026-12-25',
    ]);
  });

  it('keeps a Sunday holiday on the Monday after, and the next New Year on a Saturday on 31 December', () => {
    // 2027: Independence Day is a Sunday; 2028 opens on a Saturday.
    const days = federalHolidays(2027);
    expect(days).toContainEqual({ date: '2027-07-05', name: 'Independence Day (observed)' });
    expect(days).toContainEqual({ date: '2027-12-31', name: "New Year's Day (observed)" });
    expect(days).toContainEqual({
      date: '2027-06-18',
      name: 'Juneteenth National Independence Day (observed)',
    });
  });
});

describe("Rhode Island's calendar", () => {
  it('adds its own days to the federal ones: Independence (4 May), Victory Day, and election day in even years', () => {
    const y2026 = dates(rhodeIslandHolidays(2026));
    expect(y2026).toEqual(
      expect.arrayContaining(['2026-05-04', '2026-08-10', '2026-11-03', '2026-06-19', '2026-11-26']),
    );
    // Independence Day on a Saturday: the federal Friday before and the state's Monday after.
    expect(y2026).toEqual(expect.arrayContaining(['2026-07-03', '2026-07-04', '2026-07-06']));
    expect(dates(rhodeIslandHolidays(2027)).filter((d) => d.startsWith('2027-11'))).toEqual([
      '2027-11-11',
      '2027-11-25',
    ]);
    expect(holidayOn('RI', '2028-11-07')).toBe('Election Day');
  });

  it('names a day by the state calendar where both have it, and knows no other state', () => {
    expect(holidayOn('RI', '2026-11-11')).toBe("Veterans' Day");
    expect(holidayOn('RI', '2026-11-12')).toBeUndefined();
    expect(holidayOn('FL', '2026-12-25')).toBeUndefined();
  });

  it('lists the next dates across the turn of the year', () => {
    expect(holidaysFrom('RI', '2027-12-20', 4)).toEqual([
      { date: '2027-12-24', name: 'Christmas Day (observed)' },
      { date: '2027-12-25', name: 'Christmas Day' },
      { date: '2027-12-27', name: 'Christmas Day (observed)' },
      { date: '2027-12-31', name: "New Year's Day (observed)" },
    ]);
  });

  it('is the calendar of exactly the rows that say they forbid holidays', () => {
    for (const [code, rule] of Object.entries(STATE_RULES)) {
      expect(hasHolidayCalendar(code), code).toBe(rule.holidays !== undefined);
    }
  });
});

describe('a campaign declaring Rhode Island recipients', () => {
  const ri = config({
    recipientStates: ['RI'],
    allowedCallTimes: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '18:00' }],
  });

  it('opens no window on a holiday or the days it is kept on', () => {
    // Thursday 2 July 2026 after its close: Friday 3rd and Monday 6th are kept for Saturday's 4th.
    expect(iso(nextWindowOpen(ri, t('2026-07-02T22:00:05Z')))).toBe('2026-07-07T13:00:00.000Z');
    expect(isWithinWindow(ri, t('2026-07-06T15:00:00Z'))).toBe(false);
    expect(isWithinWindow(ri, t('2026-07-07T15:00:00Z'))).toBe(true);
    // The same windows without the state dial on the 6th.
    expect(isWithinWindow(config({ allowedCallTimes: ri.allowedCallTimes }), t('2026-07-06T15:00:00Z'))).toBe(
      true,
    );
  });

  it('closes on the evening before a holiday as on any other day', () => {
    expect(nextWindowTransition(ri, t('2026-05-01T15:00:00Z'))).toEqual({
      kind: 'close',
      atMs: t('2026-05-01T22:00:00Z'),
    });
    // Monday 4 May is Rhode Island Independence Day: Tuesday opens.
    expect(iso(nextWindowOpen(ri, t('2026-05-01T22:00:05Z')))).toBe('2026-05-05T13:00:00.000Z');
  });

  it('names the state, its holidays and the day when a resume is refused on one', () => {
    expect(closedBy(ri, t('2026-08-10T15:00:00Z'))).toBe(
      `Rhode Island (RI) allows no calls on ${STATE_RULES.RI?.holidays}, and 2026-08-10 is Victory Day`,
    );
  });

  it('finds the open after two holiday Mondays in a row for a Monday-only campaign', () => {
    const mondays = config({
      recipientStates: ['RI'],
      allowedCallTimes: [{ days: ['mon'], start: '09:00', end: '18:00' }],
    });
    // Christmas 2028 and New Year's Day 2029 are Mondays: from the 18 December close, 8 January opens.
    expect(iso(nextWindowOpen(mondays, t('2028-12-18T23:00:05Z')))).toBe('2029-01-08T14:00:00.000Z');
    expect(iso(nextAllowedStart(mondays, t('2028-12-25T15:00:00Z')))).toBe('2029-01-08T14:00:00.000Z');
  });

  it("lists the calendar's next dates in the compliance report, which passes its schema", () => {
    const built = buildComplianceReport({
      campaignId: 'cmp-ri-holidays',
      status: 'active',
      config: config({ ...ri, allowedCallTimes: [{ days: [...WEEKDAYS], start: '10:00', end: '17:00' }] }),
      window: {},
      actions: [],
      nowMs: t('2026-07-02T15:00:00Z'),
    });
    const row = built.rules.recipientStates[0];
    expect(row).toMatchObject({ code: 'RI', encoded: true });
    expect(row && 'upcomingHolidays' in row ? row.upcomingHolidays?.slice(0, 3) : undefined).toEqual([
      { date: '2026-07-03', name: 'Independence Day (observed)' },
      { date: '2026-07-04', name: 'Independence Day' },
      { date: '2026-07-06', name: 'Independence Day (observed)' },
    ]);
    expect(complianceReportSchema.parse(built).rules.recipientStates).toEqual(built.rules.recipientStates);
  });
});
