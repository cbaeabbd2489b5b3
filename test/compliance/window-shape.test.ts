import { describe, expect, it } from 'vitest';
import { toValidationIssues, type CampaignConfigInput } from '../../src/shared/campaign-config.js';
import { campaignConfigSchema } from '../../src/shared/campaign-schema.js';
import { checkCampaignConfig } from '../../src/shared/campaign-check.js';
import { currentWindowClose, isWithinWindow } from '../../src/shared/compliance/windows.js';
import { configInput } from './fixtures.js';

/**
 * The shape of `allowedCallTimes` windows as the one submit-time schema (API, /validate, `cxo
 * validate`) judges it: every mistake refused with the path of the field and what is wrong, and
 * nothing refused that means exactly what it says.
 */
type Windows = CampaignConfigInput['allowedCallTimes'];
const windows = (w: unknown) => w as Windows;

function issues(allowedCallTimes: unknown) {
  const body = configInput({ allowedCallTimes: windows(allowedCallTimes) });
  const parsed = campaignConfigSchema.safeParse(body);
  return parsed.success ? [] : toValidationIssues(parsed.error, body);
}

describe('calling window days', () => {
  it('refuses a day listed twice in one window, naming the repeat', () => {
    expect(issues([{ days: ['mon', 'mon'], start: '09:00', end: '17:00' }])).toEqual([
      { path: 'allowedCallTimes.0.days.1', message: 'mon is listed twice' },
    ]);
    expect(
      issues([
        { days: ['sat'], start: '10:00', end: '14:00' },
        { days: ['mon', 'tue', 'wed', 'tue', 'mon'], start: '09:00', end: '17:00' },
      ]),
    ).toEqual([
      { path: 'allowedCallTimes.1.days.3', message: 'tue is listed twice' },
      { path: 'allowedCallTimes.1.days.4', message: 'mon is listed twice' },
    ]);
  });

  it('refuses a window with no days', () => {
    expect(issues([{ days: [], start: '09:00', end: '17:00' }])).toEqual([
      { path: 'allowedCallTimes.0.days', message: 'must name at least one day' },
    ]);
  });

  it('refuses a day in another case or spelt out, saying how to write it', () => {
    expect(issues([{ days: ['Mon', 'TUE', 'wed'], start: '09:00', end: '17:00' }])).toEqual([
      {
        path: 'allowedCallTimes.0.days.0',
        message: '"Mon" must be written "mon": days are mon, tue, wed, thu, fri, sat or sun, in lower case',
      },
      {
        path: 'allowedCallTimes.0.days.1',
        message: '"TUE" must be written "tue": days are mon, tue, wed, thu, fri, sat or sun, in lower case',
      },
    ]);
    expect(issues([{ days: ['Friday'], start: '09:00', end: '17:00' }])).toEqual([
      {
        path: 'allowedCallTimes.0.days.0',
        message: expect.stringMatching(/^"Friday" must be written "fri"/),
      },
    ]);
    // Every case and spelling of a day, and one padded with spaces, names the spelling to use.
    for (const [sent, meant] of [
      ['MON', 'mon'],
      ['Monday', 'mon'],
      ['MONDAY', 'mon'],
      [' mon', 'mon'],
      ['thu ', 'thu'],
      ['Thursday', 'thu'],
    ]) {
      expect(issues([{ days: [sent], start: '09:00', end: '17:00' }])).toEqual([
        {
          path: 'allowedCallTimes.0.days.0',
          message:
            String(sent).trim() === meant
              ? `${JSON.stringify(sent)} must be written "${meant}": a day name has no spaces around it`
              : `${JSON.stringify(sent)} must be written "${meant}": days are mon, tue, wed, thu, fri, sat or sun, in lower case`,
        },
      ]);
    }
    expect(issues([{ days: ['lun', 7], start: '09:00', end: '17:00' }])).toEqual([
      {
        path: 'allowedCallTimes.0.days.0',
        message: '"lun" is not a day name: use mon, tue, wed, thu, fri, sat or sun',
      },
      {
        path: 'allowedCallTimes.0.days.1',
        message: 'must be a day name: mon, tue, wed, thu, fri, sat or sun',
      },
    ]);
  });
});

describe('calling window times', () => {
  it('refuses an empty window (start equal to end)', () => {
    expect(issues([{ days: ['mon'], start: '12:00', end: '12:00' }])).toEqual([
      {
        path: 'allowedCallTimes.0.end',
        message: 'must be after start (12:00): a window from 12:00 to 12:00 is empty',
      },
    ]);
  });

  it('refuses a window crossing midnight, and "24:00" as a time', () => {
    // Outside the federal hours too, but the shape is what is named: no window may cross midnight.
    expect(issues([{ days: ['fri'], start: '20:00', end: '02:00' }])).toEqual([
      {
        path: 'allowedCallTimes.0.end',
        message: 'must be after start (20:00); a window may not end before it starts or cross midnight',
      },
    ]);
    expect(issues([{ days: ['fri'], start: '09:00', end: '24:00' }])).toEqual([
      {
        path: 'allowedCallTimes.0.end',
        message:
          'must be a 24-hour local time HH:MM from 00:00 to 23:59: "24:00" is not one (a window cannot reach or cross midnight)',
      },
    ]);
    expect(issues([{ days: ['fri'], start: '9:00', end: '17:00' }])).toEqual([
      { path: 'allowedCallTimes.0.start', message: 'must be a 24-hour local time HH:MM, e.g. "09:00"' },
    ]);
  });
});

describe('windows of one day across entries', () => {
  // Accepted, and read as their union: see checkCallingWindows (config-rules.ts).
  const overlapping = [
    { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00' },
    { days: ['mon'], start: '12:00', end: '19:00' },
    { days: ['mon'], start: '12:00', end: '19:00' },
  ];

  it('accepts overlapping and repeated windows of a day', () => {
    expect(issues(overlapping)).toEqual([]);
  });

  it('dials their union and closes once, at the latest end', () => {
    const config = { complianceTimeZone: 'America/New_York', allowedCallTimes: windows(overlapping) };
    const monday = Date.parse('2026-03-02T16:00:00Z'); // Monday 11:00 EST
    expect(isWithinWindow(config, monday)).toBe(true);
    expect(new Date(currentWindowClose(config, monday) ?? 0).toISOString()).toBe('2026-03-03T00:00:00.000Z');
    const tuesday = Date.parse('2026-03-03T16:00:00Z');
    expect(new Date(currentWindowClose(config, tuesday) ?? 0).toISOString()).toBe('2026-03-03T22:00:00.000Z');
  });

  it('still holds each window to the calling hours on its own', () => {
    expect(
      issues([
        { days: ['mon'], start: '09:00', end: '17:00' },
        { days: ['mon'], start: '16:00', end: '21:30' },
      ]),
    ).toEqual([{ path: 'allowedCallTimes.1.end', message: expect.stringMatching(/21:30 is after 21:00/) }]);
  });
});

describe('the same rules through checkCampaignConfig (API, /validate, cxo validate)', () => {
  it('reports every window mistake at once', () => {
    const result = checkCampaignConfig(
      configInput({
        allowedCallTimes: windows([
          { days: ['mon', 'mon'], start: '09:00', end: '17:00' },
          { days: [], start: '09:00', end: '17:00' },
          { days: ['sat'], start: '10:00', end: '10:00' },
        ]),
      }),
      { allowDncDisabled: false },
    );
    expect(result.issues.map((i) => i.path)).toEqual([
      'allowedCallTimes.1.days',
      'allowedCallTimes.0.days.1',
      'allowedCallTimes.2.end',
    ]);
  });
});
