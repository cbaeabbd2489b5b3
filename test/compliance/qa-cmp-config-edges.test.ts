import { describe, expect, it } from 'vitest';
import type { CallWindow } from '../../src/shared/campaign-config.js';
import { checkCampaignCompliance } from '../../src/shared/compliance/config-rules.js';

const ALL = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const check = (zone: string, windows: CallWindow[], states?: string[], start = '2026-12-01T09:00:00-05:00') =>
  checkCampaignCompliance({
    complianceTimeZone: zone,
    allowedCallTimes: windows,
    startDateTime: start,
    ...(states ? { recipientStates: states } : {}),
  }).map((p) => `${p.path.join('.')}: ${p.message}`);
const w = (start: string, end: string, days: CallWindow['days'] = [...ALL]): CallWindow => ({
  days,
  start,
  end,
});

describe('QA: submit-time calling hours at the minute', () => {
  it('08:00–21:00 is accepted, 07:59 and 21:01 are not', () => {
    expect(check('America/New_York', [w('08:00', '21:00')])).toEqual([]);
    expect(check('America/New_York', [w('07:59', '21:00')])).toHaveLength(1);
    expect(check('America/New_York', [w('08:00', '21:01')])).toHaveLength(1);
  });
  it('a window across midnight is refused with its end named', () => {
    const problems = check('America/New_York', [w('20:00', '09:00')]);
    expect(problems.some((p) => p.startsWith('allowedCallTimes.0.end: must be after start'))).toBe(true);
  });
});

describe('QA: states with several clocks', () => {
  it('Florida on New York time: 08:00 reaches Pensacola at 07:00', () => {
    expect(check('America/New_York', [w('08:00', '20:00')], ['FL']).join('\n')).toMatch(/start at 09:00/);
    expect(check('America/New_York', [w('09:00', '20:00')], ['FL'])).toEqual([]);
  });
  it('Florida on Chicago time ends by 19:00', () => {
    expect(check('America/Chicago', [w('08:00', '20:00')], ['FL']).join('\n')).toMatch(/end by 19:00/);
    expect(check('America/Chicago', [w('08:00', '19:00')], ['FL'])).toEqual([]);
  });
  it('Texas on Chicago time: Sunday starts at 13:00 for El Paso', () => {
    expect(check('America/Chicago', [w('12:00', '21:00', ['sun'])], ['TX']).join('\n')).toMatch(
      /start at 13:00/,
    );
    expect(check('America/Chicago', [w('13:00', '21:00', ['sun'])], ['TX'])).toEqual([]);
  });
  it('Arizona on Denver time starts at 09:00 (Phoenix an hour behind in summer)', () => {
    expect(check('America/Denver', [w('08:00', '21:00')], ['AZ']).join('\n')).toMatch(/start at 09:00/);
  });
  it('Arizona on Phoenix time ends by 20:00 (Navajo Nation an hour ahead in summer)', () => {
    expect(check('America/Phoenix', [w('08:00', '21:00')], ['AZ']).join('\n')).toMatch(/end by 20:00/);
  });
  it('Florida on Los Angeles time is refused', () => {
    expect(check('America/Los_Angeles', [w('09:00', '17:00')], ['FL']).join('\n')).toMatch(
      /recipientStates.0/,
    );
  });
});
