import { describe, expect, it } from 'vitest';
import { complianceRefusal } from '../../src/shared/compliance/command-guard.js';
import { config } from './fixtures.js';

const c = config(); // New York, Mon–Fri 09:00–17:00

describe('complianceRefusal', () => {
  it('refuses a manual resume outside the window, naming local time and the next open', () => {
    // Saturday 2026-03-07 12:00 EST.
    const reason = complianceRefusal({
      action: 'resume',
      reason: 'operator',
      config: c,
      atMs: Date.parse('2026-03-07T17:00:00Z'),
    });
    expect(reason).toBe(
      "cannot resume at 2026-03-07T12:00:00-05:00 (America/New_York): outside the campaign's calling windows " +
        '(its own allowedCallTimes; the law allows calls at this hour); ' +
        'the next window opens at 2026-03-09T09:00:00-04:00; resume it then ' +
        '(a campaign the window itself paused is resumed by the compliance worker at that time)',
    );
  });

  it('names the rule that closes the hour: federal hours, a declared state, in any of its zones', () => {
    const daily = config({
      recipientStates: ['FL'],
      allowedCallTimes: [
        { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '09:00', end: '20:00' },
      ],
    });
    const refuse = (iso: string) =>
      complianceRefusal({ action: 'resume', reason: 'operator', config: daily, atMs: Date.parse(iso) });
    // 21:30 EDT: the federal hours.
    expect(refuse('2026-03-10T01:30:00Z')).toContain(
      '(calling hours 08:00–21:00 local, TCPA 47 CFR 64.1200(c)(1); FTC TSR 16 CFR 310.4(c))',
    );
    // 20:30 EDT on a Monday: federal law allows it, Florida's 08:00–20:00 does not.
    expect(refuse('2026-03-10T00:30:00Z')).toContain(
      '(Florida (FL) calling hours 08:00–20:00 on mon, Fla. Stat. § 501.616(6)(a)–(b)',
    );
    // 08:30 EDT: both laws allow it in New York time, but it is 07:30 in Florida's panhandle (Central
    // time), which is why the window starts at 09:00: the refusal names that, not "the law allows it".
    expect(refuse('2026-03-09T12:30:00Z')).toContain(
      '(Florida (FL) calling hours 08:00–20:00 on mon in America/Chicago (07:30 there), Fla. Stat. § 501.616(6)(a)–(b)',
    );
  });

  it('allows a resume inside the window and any pause or stop', () => {
    const monday = Date.parse('2026-03-09T14:00:00Z');
    expect(complianceRefusal({ action: 'resume', reason: 'operator', config: c, atMs: monday })).toBeNull();
    const saturday = Date.parse('2026-03-07T17:00:00Z');
    expect(complianceRefusal({ action: 'pause', reason: 'operator', config: c, atMs: saturday })).toBeNull();
    expect(complianceRefusal({ action: 'stop', reason: 'operator', config: c, atMs: saturday })).toBeNull();
    expect(complianceRefusal({ reason: 'operator', config: c, atMs: saturday })).toBeNull();
  });

  it('refuses a resume in the last stretch before a close the window paused the campaign ahead of', () => {
    // Monday 2026-03-09 16:59:30 EDT; the window closes at 17:00 EDT (21:00Z).
    const atMs = Date.parse('2026-03-09T20:59:30Z');
    const closeMs = Date.parse('2026-03-09T21:00:00Z');
    expect(
      complianceRefusal({ action: 'resume', reason: 'operator', config: c, atMs, closingAt: closeMs }),
    ).toBe(
      'cannot resume at 2026-03-09T16:59:30-04:00 (America/New_York): the calling window closes at ' +
        '2026-03-09T17:00:00-04:00, and the campaign was paused ahead of that close so that every campaign ' +
        'closing then is paused by it; the next window opens at 2026-03-10T09:00:00-04:00, when the ' +
        'compliance worker resumes it',
    );
    // A closingAt of another close (yesterday's, left in the state) does not bind today's window.
    expect(
      complianceRefusal({
        action: 'resume',
        reason: 'operator',
        config: c,
        atMs,
        closingAt: closeMs - 86_400_000,
      }),
    ).toBeNull();
    // Pauses and stops are never refused for it.
    expect(
      complianceRefusal({ action: 'pause', reason: 'operator', config: c, atMs, closingAt: closeMs }),
    ).toBeNull();
  });

  it('refuses a resume so close to a close that the pause which must follow could not land by it', () => {
    // Monday 2026-03-09, window closes at 17:00 EDT (21:00Z). The campaign was paused by an operator,
    // so the window holds no close it paused ahead of (no closingAt): 10 s before the close.
    const atMs = Date.parse('2026-03-09T20:59:50Z');
    expect(complianceRefusal({ action: 'resume', reason: 'operator', config: c, atMs })).toBe(
      'cannot resume at 2026-03-09T16:59:50-04:00 (America/New_York): the calling window closes at ' +
        '2026-03-09T17:00:00-04:00, less than 30 s away, too late for the pause that must follow to land ' +
        'by it (its own allowedCallTimes; the law allows calls at this hour); the next window opens at ' +
        '2026-03-10T09:00:00-04:00; resume it then',
    );
    // A minute before the close is enough for the window's own pause ahead of it.
    expect(
      complianceRefusal({ action: 'resume', reason: 'operator', config: c, atMs: atMs - 50_000 }),
    ).toBeNull();
  });

  it('never lets pacing resume a campaign, even inside the window', () => {
    const monday = Date.parse('2026-03-09T14:00:00Z');
    expect(complianceRefusal({ action: 'resume', reason: 'pacing', config: c, atMs: monday })).toMatch(
      /pacing may not resume/,
    );
  });
});
