import { describe, expect, it } from 'vitest';
import type { CallWindow, Weekday } from '../../src/shared/campaign-config.js';
import {
  currentWindowClose,
  isWithinWindow,
  nextAllowedStart,
  nextWindowOpen,
  nextWindowTransition,
  windowIntervals,
  type WindowConfig,
} from '../../src/shared/compliance/windows.js';
import { complianceRefusal } from '../../src/shared/compliance/command-guard.js';

const ALL: Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const cfg = (zone: string, windows: CallWindow[], recipientStates?: string[]): WindowConfig => ({
  complianceTimeZone: zone,
  allowedCallTimes: windows,
  ...(recipientStates ? { recipientStates } : {}),
});
const legal = (zone: string, states?: string[]) =>
  cfg(zone, [{ days: ALL, start: '08:00', end: '21:00' }], states);
const t = (s: string) => Date.parse(s);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function dayOf(config: WindowConfig, fromIso: string, toIso: string) {
  return windowIntervals(config, t(fromIso), t(toIso)).map((i) => [iso(i.openMs), iso(i.closeMs)]);
}

describe('QA: zones whose DST changes at local midnight', () => {
  it('Santiago spring forward (Sun 2026-09-06 00:00 -04 -> 01:00 -03)', () => {
    // Sat Sep 5 (-04): 12:00Z–01:00Z; Sun Sep 6 (-03): 11:00Z–00:00Z
    expect(dayOf(legal('America/Santiago'), '2026-09-05T12:00:00Z', '2026-09-07T00:00:00Z')).toEqual([
      ['2026-09-05T12:00:00.000Z', '2026-09-06T01:00:00.000Z'],
      ['2026-09-06T11:00:00.000Z', '2026-09-07T00:00:00.000Z'],
    ]);
  });
  it('Havana (DST at 00:00 local) 2026-03-08 and 2026-11-01', () => {
    // Havana: CST -05 / CDT -04; spring 2026-03-08 00:00 -> 01:00; fall 2026-11-01 01:00 -> 00:00
    expect(dayOf(legal('America/Havana'), '2026-03-08T03:00:00Z', '2026-03-08T23:00:00Z')).toEqual([
      ['2026-03-08T12:00:00.000Z', '2026-03-09T01:00:00.000Z'],
    ]);
    expect(dayOf(legal('America/Havana'), '2026-11-01T06:00:00Z', '2026-11-01T23:00:00Z')).toEqual([
      ['2026-11-01T13:00:00.000Z', '2026-11-02T02:00:00.000Z'],
    ]);
  });
  it('Sydney fall back 2026-04-05 and Auckland spring forward 2026-09-27', () => {
    expect(dayOf(legal('Australia/Sydney'), '2026-04-04T23:00:00Z', '2026-04-05T10:00:00Z')).toEqual([
      ['2026-04-04T22:00:00.000Z', '2026-04-05T11:00:00.000Z'],
    ]);
    expect(dayOf(legal('Pacific/Auckland'), '2026-09-26T20:00:00Z', '2026-09-27T07:00:00Z')).toEqual([
      ['2026-09-26T19:00:00.000Z', '2026-09-27T08:00:00.000Z'],
    ]);
  });
});

describe('QA: days of week far from UTC', () => {
  it('Kiritimati (+14): a Monday-only window opens Sunday 18:00Z', () => {
    const c = cfg('Pacific/Kiritimati', [{ days: ['mon'], start: '08:00', end: '21:00' }]);
    // 2026-12-06 is a Sunday (UTC); local Monday 2026-12-07 08:00 +14 = 2026-12-06T18:00Z
    expect(iso(nextWindowOpen(c, t('2026-12-06T00:00:00Z')))).toBe('2026-12-06T18:00:00.000Z');
    expect(isWithinWindow(c, t('2026-12-07T06:59:59.999Z'))).toBe(true);
    expect(isWithinWindow(c, t('2026-12-07T07:00:00Z'))).toBe(false);
  });
  it('Pago Pago (-11): a Monday-only window closes on Tuesday 08:00Z', () => {
    const c = cfg('Pacific/Pago_Pago', [{ days: ['mon'], start: '08:00', end: '21:00' }]);
    expect(iso(currentWindowClose(c, t('2026-12-08T07:00:00Z')))).toBe('2026-12-08T08:00:00.000Z');
    expect(isWithinWindow(c, t('2026-12-07T18:59:59Z'))).toBe(false);
    expect(isWithinWindow(c, t('2026-12-07T19:00:00Z'))).toBe(true);
  });
  it('Chatham (+13:45 in summer) windows on quarter-hour offsets', () => {
    const c = legal('Pacific/Chatham');
    // 2026-12-07 (Mon): 08:00 +13:45 = 2026-12-06T18:15Z; 21:00 = 2026-12-07T07:15Z
    expect(dayOf(c, '2026-12-06T19:00:00Z', '2026-12-06T20:00:00Z')).toEqual([
      ['2026-12-06T18:15:00.000Z', '2026-12-07T07:15:00.000Z'],
    ]);
  });
});

describe('QA: bounds exactly', () => {
  const ny = cfg('America/New_York', [
    { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00' },
  ]);
  const mon = '2026-12-07';
  it('open is inclusive, close exclusive', () => {
    expect(isWithinWindow(ny, t(`${mon}T14:00:00Z`))).toBe(true);
    expect(isWithinWindow(ny, t(`${mon}T13:59:59.999Z`))).toBe(false);
    expect(isWithinWindow(ny, t(`${mon}T21:59:59.999Z`))).toBe(true);
    expect(isWithinWindow(ny, t(`${mon}T22:00:00Z`))).toBe(false);
  });
  it('nextAllowedStart at the 30 s margin', () => {
    expect(nextAllowedStart(ny, t(`${mon}T21:59:30Z`))).toBe(t(`${mon}T21:59:30Z`));
    expect(iso(nextAllowedStart(ny, t(`${mon}T21:59:30.001Z`)))).toBe('2026-12-08T14:00:00.000Z');
    expect(nextAllowedStart(ny, t(`${mon}T14:00:00Z`))).toBe(t(`${mon}T14:00:00Z`));
    expect(iso(nextAllowedStart(ny, t(`${mon}T13:59:59Z`)))).toBe(`${mon}T14:00:00.000Z`);
  });
  it('a start on Friday evening waits for Monday; on Saturday too', () => {
    expect(iso(nextAllowedStart(ny, t('2026-12-11T22:00:00Z')))).toBe('2026-12-14T14:00:00.000Z');
    expect(iso(nextAllowedStart(ny, t('2026-12-12T15:00:00Z')))).toBe('2026-12-14T14:00:00.000Z');
  });
  it('a sunday-only Texas window opens at noon', () => {
    const tx = cfg('America/Chicago', [{ days: ['sun'], start: '12:00', end: '21:00' }], ['TX']);
    expect(iso(nextAllowedStart(tx, t('2026-12-06T15:00:00Z')))).toBe('2026-12-06T18:00:00.000Z');
    expect(nextWindowTransition(tx, t('2026-12-06T18:00:00Z'))).toEqual({
      kind: 'close',
      atMs: t('2026-12-07T03:00:00Z'),
    });
  });
  it('the resume refusal at the margin agrees with nextAllowedStart', () => {
    const config = { ...ny, startDateTime: '2026-12-01T09:00:00-05:00' };
    const at = t(`${mon}T21:59:30Z`);
    expect(complianceRefusal({ action: 'resume', reason: 'operator', config, atMs: at })).toBeNull();
    expect(complianceRefusal({ action: 'resume', reason: 'operator', config, atMs: at + 1 })).toMatch(
      /less than 30 s/,
    );
  });
});
