import { describe, expect, it } from 'vitest';
import { isLawfulDial, lawfulDialJudge } from '../../src/sandbox/call-windows.js';
import type { WireComplianceSettings } from '../../src/shared/cxone/wire.js';
import { createRng } from '../../src/sandbox/dialer/prng.js';

const EVERY_DAY = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

function settings(
  timeZone: string,
  start: string,
  end: string,
  regulatoryCompliance: WireComplianceSettings['regulatoryCompliance'] = 'TCPA',
): WireComplianceSettings {
  return {
    timeZone,
    regulatoryCompliance,
    doNotCallListCheck: true,
    allowedCallTimes: [{ days: [...EVERY_DAY], start, end }],
  };
}

const HOUR = 3_600_000;

/**
 * The judge keeps an answer for the rest of its local minute. It must answer as isLawfulDial does at
 * every instant: across windows ending on odd minutes, daylight-saving changes (Lord Howe's moves
 * the clock half an hour) and zones a quarter of an hour off UTC, in time order and out of it.
 */
describe('lawfulDialJudge', () => {
  const cases: Array<[string, WireComplianceSettings, string]> = [
    ['New York, spring forward', settings('America/New_York', '07:59', '20:45'), '2026-03-08T00:00:00Z'],
    ['New York, fall back', settings('America/New_York', '01:30', '20:45'), '2026-11-01T00:00:00Z'],
    [
      'Lord Howe, half an hour back',
      settings('Australia/Lord_Howe', '01:45', '20:31', 'OFCOM'),
      '2026-04-04T12:00:00Z',
    ],
    ['Kathmandu, +05:45', settings('Asia/Kathmandu', '08:14', '20:46'), '2026-12-02T00:00:00Z'],
  ];

  it.each(cases)('answers as isLawfulDial at every instant, in time order (%s)', (_name, s, from) => {
    const judge = lawfulDialJudge();
    const start = Date.parse(from);
    let changes = 0;
    let last: boolean | undefined;
    for (let t = start; t < start + 48 * HOUR; t += 13_001) {
      const expected = isLawfulDial(s, t);
      expect(judge(s, t), new Date(t).toISOString()).toBe(expected);
      if (last !== undefined && expected !== last) changes += 1;
      last = expected;
    }
    // The sweep crossed the window's edges (two days: four at least), so a stale answer would show.
    expect(changes).toBeGreaterThanOrEqual(4);
  });

  it.each(cases)('answers as isLawfulDial at every instant, out of order (%s)', (_name, s, from) => {
    const judge = lawfulDialJudge();
    const rng = createRng(7);
    const start = Date.parse(from);
    for (let i = 0; i < 20_000; i++) {
      // Near the last instant half the time (the same minute, either side), anywhere otherwise.
      const t = Math.floor(start + rng.next() * 48 * HOUR);
      expect(judge(s, t), new Date(t).toISOString()).toBe(isLawfulDial(s, t));
      const near = t + Math.floor((rng.next() - 0.5) * 120_000);
      expect(judge(s, near), new Date(near).toISOString()).toBe(isLawfulDial(s, near));
    }
  });

  it('judges new settings afresh within the same minute', () => {
    const judge = lawfulDialJudge();
    const at = Date.parse('2026-12-02T15:00:30Z'); // 10:00:30 in New York
    const open = settings('America/New_York', '09:00', '17:00');
    expect(judge(open, at)).toBe(true);
    // An update replaces the settings: the campaign's windows now close at 10:00.
    expect(judge(settings('America/New_York', '09:00', '10:00'), at + 1_000)).toBe(false);
    expect(judge(open, at + 2_000)).toBe(true);
  });

  it('finds no dial lawful in a zone it does not know, and judges the next known one afresh', () => {
    const judge = lawfulDialJudge();
    const at = Date.parse('2026-12-02T15:00:30Z');
    expect(judge(settings('Mars/Olympus_Mons', '00:00', '23:59'), at)).toBe(false);
    expect(judge(settings('America/New_York', '09:00', '17:00'), at + 1_000)).toBe(true);
  });
});
