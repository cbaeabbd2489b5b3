import { describe, expect, it } from 'vitest';
import { closedBy, complianceRefusal } from '../../src/shared/compliance/command-guard.js';
import { config } from './fixtures.js';

/*
 * A state whose recipients keep two clocks (Florida's panhandle on Central time, Indiana's border
 * counties, El Paso): at 08:30 in New York it is 07:30 in Pensacola, before the calling hours there.
 * The rule that closes the hour is the law in that other zone, not "its own allowedCallTimes; the law
 * allows calls at this hour" — which is what a compliance officer would read in the refusal and in the
 * window's pause record.
 */
const ALL = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const florida = config({
  recipientStates: ['FL'],
  allowedCallTimes: [{ days: [...ALL], start: '09:00', end: '20:00' }],
});

describe("QA: closedBy names the law in a declared state's other zone", () => {
  it('Florida on New York time at 08:30 EDT: 07:30 in the panhandle', () => {
    const at = Date.parse('2026-03-09T12:30:00Z'); // Monday 08:30 EDT = 07:30 CDT
    const why = closedBy(florida, at);
    expect(why).not.toMatch(/the law allows calls at this hour/);
    expect(why).toBe(
      'Florida (FL) calling hours 08:00–20:00 on mon in America/Chicago (07:30 there), Fla. Stat. § 501.616(6)(a)–(b) (Florida Telemarketing Act, as amended 2021)',
    );
    expect(complianceRefusal({ action: 'resume', reason: 'operator', config: florida, atMs: at })).toContain(
      '07:30 there',
    );
  });

  it('a state without a row of its own: the federal hours in its other zone', () => {
    const indiana = config({
      recipientStates: ['IN'],
      allowedCallTimes: [{ days: [...ALL], start: '09:00', end: '21:00' }],
    });
    const at = Date.parse('2026-03-09T12:30:00Z'); // 08:30 EDT = 07:30 CDT
    expect(closedBy(indiana, at)).toBe(
      'IN recipients in America/Chicago (07:30 there): calling hours 08:00–21:00 local, TCPA 47 CFR 64.1200(c)(1); FTC TSR 16 CFR 310.4(c)',
    );
  });

  it('still says the law allows the hour when every zone of every declared state allows it', () => {
    const at = Date.parse('2026-03-09T13:30:00Z'); // 09:30 EDT = 08:30 CDT: inside the window, but ask anyway
    expect(closedBy(florida, at)).toBe('its own allowedCallTimes; the law allows calls at this hour');
  });
});
