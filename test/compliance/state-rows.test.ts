import { describe, expect, it } from 'vitest';
import type { CallWindow, Weekday } from '../../src/shared/campaign-config.js';
import { checkCampaignCompliance } from '../../src/shared/compliance/config-rules.js';
import { closedBy } from '../../src/shared/compliance/command-guard.js';
import { legalHoursOn } from '../../src/shared/compliance/legal-hours.js';
import { buildComplianceReport } from '../../src/shared/compliance/report.js';
import { isWithinWindow, nextWindowOpen } from '../../src/shared/compliance/windows.js';
import { complianceReportSchema } from '../../src/shared/responses/compliance-report.js';
import { config } from './fixtures.js';

/*
 * The rows for Connecticut, Massachusetts, Mississippi, Louisiana, Rhode Island and Utah (state-rules.ts):
 * the first rows that forbid a whole weekday, which every reader of the table (submit-time checks,
 * run-time enforcement, the pause reason, the report) must honour.
 */

const ALL: Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const WEEKDAYS: Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri'];
const w = (start: string, end: string, days: Weekday[] = ALL): CallWindow => ({ days, start, end });
const check = (zone: string, windows: CallWindow[], states: string[]) =>
  checkCampaignCompliance({
    complianceTimeZone: zone,
    allowedCallTimes: windows,
    startDateTime: '2026-12-01T09:00:00-05:00',
    recipientStates: states,
  }).map((p) => `${p.path.join('.')}: ${p.message}`);
const t = (iso: string) => Date.parse(iso);

describe('submit-time: the new state rows', () => {
  it('Connecticut starts at 09:00 (P.A. 23-98)', () => {
    expect(check('America/New_York', [w('08:00', '20:00')], ['CT'])).toEqual([
      expect.stringMatching(
        /^allowedCallTimes\.0\.start: 08:00 is before 09:00 on .*Connecticut \(CT\).*42-288a/,
      ),
    ]);
    expect(check('America/New_York', [w('09:00', '20:00')], ['CT'])).toEqual([]);
  });

  it('Massachusetts ends at 20:00', () => {
    expect(check('America/New_York', [w('08:00', '21:00')], ['MA'])).toEqual([
      expect.stringMatching(
        /^allowedCallTimes\.0\.end: 21:00 is after 20:00 on .*Massachusetts.*201 CMR 12\.02/,
      ),
    ]);
    expect(check('America/New_York', [w('08:00', '20:00')], ['MA'])).toEqual([]);
  });

  it.each([
    [
      'Mississippi',
      'MS',
      'America/Chicago',
      /^allowedCallTimes\.0\.days: calls are forbidden on sun for Mississippi \(MS\).*77-3-723/,
    ],
    [
      'Utah',
      'UT',
      'America/Denver',
      /^allowedCallTimes\.0\.days: calls are forbidden on sun for Utah \(UT\).*13-25a-103/,
    ],
  ])('%s keeps the federal hours and forbids Sundays', (_name, code, zone, refusal) => {
    expect(check(zone, [w('08:00', '21:00')], [code])).toEqual([expect.stringMatching(refusal)]);
    expect(check(zone, [w('08:00', '21:00', [...WEEKDAYS, 'sat'])], [code])).toEqual([]);
  });

  it('Louisiana: 08:00–20:00 Monday to Saturday, no Sundays', () => {
    const found = check('America/Chicago', [w('08:00', '21:00')], ['LA']);
    expect(found).toHaveLength(2);
    expect(found.join('\n')).toMatch(/days: calls are forbidden on sun for Louisiana/);
    expect(found.join('\n')).toMatch(/end: 21:00 is after 20:00 on mon, tue, wed, thu, fri, sat/);
    expect(check('America/Chicago', [w('08:00', '20:00', [...WEEKDAYS, 'sat'])], ['LA'])).toEqual([]);
  });

  it('Rhode Island: 09:00–18:00 on weekdays, 10:00–17:00 on Saturdays, no Sundays', () => {
    const found = check('America/New_York', [w('09:00', '18:00', [...WEEKDAYS, 'sat', 'sun'])], ['RI']);
    expect(found).toEqual([
      expect.stringMatching(/^allowedCallTimes\.0\.start: 09:00 is before 10:00 on sat for Rhode Island/),
      expect.stringMatching(/^allowedCallTimes\.0\.end: 18:00 is after 17:00 on sat for Rhode Island/),
      expect.stringMatching(/^allowedCallTimes\.0\.days: calls are forbidden on sun for Rhode Island/),
    ]);
    expect(
      check('America/New_York', [w('09:00', '18:00', WEEKDAYS), w('10:00', '17:00', ['sat'])], ['RI']),
    ).toEqual([]);
  });
});

describe('run time: a forbidden weekday is closed whatever the windows say', () => {
  // A window CXone's console widened to every day, 06:00–23:00, on a Rhode Island campaign.
  const widened = {
    complianceTimeZone: 'America/New_York',
    allowedCallTimes: [w('06:00', '23:00')],
    recipientStates: ['RI'],
  };
  // 2026-12-05 is a Saturday, 2026-12-06 a Sunday (EST, UTC−5).

  it('legal hours: none on Sunday, the Saturday hours on Saturday', () => {
    expect(legalHoursOn('sun', ['RI'])).toBeNull();
    expect(legalHoursOn('sat', ['RI'])).toEqual({ startMin: 600, endMin: 1020 });
    expect(legalHoursOn('sun', ['MS', 'NY'])).toBeNull();
    expect(legalHoursOn('sun', ['NY'])).toEqual({ startMin: 480, endMin: 1260 });
  });

  it('enforcement dials on Saturday 10:00–17:00 and not at all on Sunday', () => {
    expect(isWithinWindow(widened, t('2026-12-05T14:59:00Z'))).toBe(false); // 09:59
    expect(isWithinWindow(widened, t('2026-12-05T15:00:00Z'))).toBe(true); // 10:00
    expect(isWithinWindow(widened, t('2026-12-05T22:00:00Z'))).toBe(false); // 17:00
    expect(isWithinWindow(widened, t('2026-12-06T17:00:00Z'))).toBe(false); // Sunday noon
    // From Saturday evening the next open is Monday 09:00, not Sunday's.
    expect(new Date(nextWindowOpen(widened, t('2026-12-05T23:00:00Z')) as number).toISOString()).toBe(
      '2026-12-07T14:00:00.000Z',
    );
  });

  it("a pause's reason names the state and its source", () => {
    expect(closedBy(widened, t('2026-12-06T17:00:00Z'))).toBe(
      'Rhode Island (RI) allows no calls on sun, R.I. Gen. Laws §§ 5-61-3.6 and 5-61-2 ("hours of operation")',
    );
  });
});

describe('the compliance report', () => {
  const report = (states: string[]) =>
    buildComplianceReport({
      campaignId: 'cmp-state-rows',
      status: 'active',
      config: config({
        recipientStates: states,
        allowedCallTimes: [{ days: WEEKDAYS, start: '09:00', end: '18:00' }],
      }),
      window: {},
      actions: [],
      nowMs: t('2026-03-03T15:00:00Z'),
    });

  it('shows what a row cannot hold (state holidays) beside the row, and passes its schema', () => {
    const built = report(['RI', 'CT', 'AL']);
    expect(built.rules.recipientStates).toEqual([
      expect.objectContaining({
        code: 'RI',
        encoded: true,
        days: { sat: { start: '10:00', end: '17:00' }, sun: null },
        holidays: expect.stringMatching(/^state or federal holidays \(R\.I\. Gen\. Laws § 5-61-2/),
        notEncoded: expect.stringMatching(
          /the governor, the General Assembly, the President or Congress appoint/,
        ),
        upcomingHolidays: expect.arrayContaining([
          { date: '2026-05-04', name: 'Rhode Island Independence Day' },
        ]),
      }),
      expect.objectContaining({ code: 'CT', encoded: true, hours: { start: '09:00', end: '20:00' } }),
      expect.objectContaining({ code: 'AL', encoded: false, note: expect.stringMatching(/Alabama/) }),
    ]);
    expect(built.rules.recipientStates[1]).not.toHaveProperty('notEncoded');
    // The schema the API serialises the report by keeps the field (zod drops keys it does not know).
    expect(complianceReportSchema.parse(built).rules.recipientStates).toEqual(built.rules.recipientStates);
  });

  it('tells a state that guides list as stricter, with no row, apart from a state with nothing known', () => {
    const built = report(['KY', 'PA', 'GA']);
    expect(built.rules.recipientStates).toEqual([
      {
        code: 'KY',
        encoded: false,
        note: expect.stringMatching(
          /^Kentucky: telephone solicitations only 10:00–21:00 local time.*not verified/,
        ),
      },
      { code: 'PA', encoded: false, note: expect.stringMatching(/^Pennsylvania: shorter Sunday hours/) },
      { code: 'GA', encoded: false, note: 'no rule stricter than the federal one is encoded' },
    ]);
    expect(complianceReportSchema.parse(built).rules.recipientStates).toEqual(built.rules.recipientStates);
  });
});
