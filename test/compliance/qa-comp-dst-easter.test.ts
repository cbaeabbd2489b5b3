import { DateTime, IANAZone } from 'luxon';
import { describe, expect, it } from 'vitest';
import type { CampaignConfig } from '../../src/shared/campaign-config.js';
import { windowIntervals } from '../../src/shared/compliance/windows.js';

/**
 * docs/compliance.md, Daylight-saving rule: the legal hours (08:00–21:00) meet a clock change in one
 * zone only, Easter Island, whose clocks fall back from 22:00 to 21:00 on a Saturday night in April,
 * so 21:00 happens twice there and a 21:00 end closes at the first. Everywhere else a transition lies
 * outside those hours (at night, or at midnight).
 */

const HOUR = 3_600_000;
const WEEK = 7 * 24 * HOUR;

/**
 * Every instant in [fromMs, toMs) at which the zone's UTC offset changes: weekly samples (no zone
 * changes its clock twice within a week), then bisection.
 */
function transitions(zone: IANAZone, fromMs: number, toMs: number): number[] {
  const out: number[] = [];
  let offset = zone.offset(fromMs);
  for (let t = fromMs; t < toMs; t += WEEK) {
    const next = zone.offset(t + WEEK);
    if (next === offset) continue;
    offset = next;
    let lo = t;
    let hi = t + WEEK;
    while (hi - lo > 1000) {
      const mid = Math.floor((lo + hi) / 2);
      if (zone.offset(mid) === zone.offset(lo)) lo = mid;
      else hi = mid;
    }
    out.push(hi);
  }
  return out;
}

/** Whether the local times a transition skips or repeats meet [08:00, 21:00] (both bounds included). */
function touchesLegalHours(zoneName: string, atMs: number): boolean {
  const before = DateTime.fromMillis(atMs - 1000, { zone: zoneName });
  const after = DateTime.fromMillis(atMs, { zone: zoneName });
  const minute = (dt: DateTime) => dt.hour * 60 + dt.minute + dt.second / 60;
  const [a, b] = [minute(before), minute(after)];
  const start = 8 * 60;
  const end = 21 * 60;
  if (before.toISODate() !== after.toISODate()) {
    // Across midnight: the skipped or repeated stretch runs to midnight and on from it.
    return a <= end || b >= start;
  }
  return Math.max(a, b) >= start && Math.min(a, b) <= end;
}

describe('the legal hours against the tz database', () => {
  it('meet a clock change in 2026 and 2027 in Pacific/Easter only', () => {
    const from = Date.UTC(2026, 0, 1);
    const to = Date.UTC(2028, 0, 1);
    const touching = new Set<string>();
    for (const name of Intl.supportedValuesOf('timeZone')) {
      const zone = IANAZone.create(name);
      for (const at of transitions(zone, from, to)) {
        if (touchesLegalHours(name, at)) touching.add(name);
      }
    }
    expect([...touching]).toEqual(['Pacific/Easter']);
  });

  it('close a 21:00 end on Easter Island at the first 21:00 of its fall-back night', () => {
    const config = {
      complianceTimeZone: 'Pacific/Easter',
      allowedCallTimes: [{ days: ['sat'], start: '08:00', end: '21:00' }],
    } as Pick<CampaignConfig, 'complianceTimeZone' | 'allowedCallTimes'>;
    const iso = (ms: number) => new Date(ms).toISOString();
    // 2026-04-04 and 2027-04-03, Saturdays: 22:00 −05 becomes 21:00 −06 at 03:00Z.
    expect(
      windowIntervals(config, Date.parse('2026-04-04T00:00:00Z'), Date.parse('2026-04-05T12:00:00Z')).map(
        (i) => [iso(i.openMs), iso(i.closeMs)],
      ),
    ).toEqual([['2026-04-04T13:00:00.000Z', '2026-04-05T02:00:00.000Z']]);
    expect(
      windowIntervals(config, Date.parse('2027-04-03T00:00:00Z'), Date.parse('2027-04-04T12:00:00Z')).map(
        (i) => [iso(i.openMs), iso(i.closeMs)],
      ),
    ).toEqual([['2027-04-03T13:00:00.000Z', '2027-04-04T02:00:00.000Z']]);
  });
});
