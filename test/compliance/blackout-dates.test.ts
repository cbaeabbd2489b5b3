import { describe, expect, it } from 'vitest';
import { checkCampaignConfig } from '../../src/shared/campaign-check.js';
import { WEEKDAYS } from '../../src/shared/campaign-config.js';
import { closedBy, complianceRefusal } from '../../src/shared/compliance/command-guard.js';
import { buildComplianceReport } from '../../src/shared/compliance/report.js';
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
 * Blackout dates: local dates on which a campaign does not dial at all (state holidays Louisiana and
 * Rhode Island forbid by date, a governor's declared holiday, the operator's own days off). Pure:
 * the windows, the resume refusal and its reason, the report, the schema and the patch.
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
