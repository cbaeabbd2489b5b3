import { IANAZone } from 'luxon';
import { describe, expect, it } from 'vitest';
import { placelessKind } from '../../src/shared/compliance/placeless-zones.js';
import { PLACE_ZONES, zoneAtNight, zoneInDaytime } from './stack.js';

const QUARTER_HOUR = 15 * 60 * 1000;

const DAY = 86_400_000;

/**
 * The local hour in `zone` at `ms`, from the zone's offset then (daylight saving included). The
 * offset is read at the day's two ends and only at `ms` itself on a day it changes (a zone changes
 * at most once a day): reading it at every quarter hour of three years takes half a minute.
 */
function hourReader(zone: IANAZone): (ms: number) => number {
  let day = Number.NaN;
  let steady: number | undefined;
  return (ms) => {
    const start = Math.floor(ms / DAY) * DAY;
    if (start !== day) {
      day = start;
      const first = zone.offset(start);
      steady = first === zone.offset(start + DAY - 1) ? first : undefined;
    }
    const local = ms + (steady ?? zone.offset(ms)) * 60_000;
    return Math.floor((((local % DAY) + DAY) % DAY) / 3_600_000);
  };
}

describe('the e2e suite picks zones of places', () => {
  it('finds a daytime and a night zone in PLACE_ZONES alone at every quarter hour of three years, DST shifts included', () => {
    const readers = PLACE_ZONES.map((name) => hourReader(IANAZone.create(name)));
    const from = Date.UTC(2026, 0, 1);
    const to = Date.UTC(2029, 0, 1);
    const gaps: string[] = [];
    for (let ms = from; ms < to && gaps.length < 5; ms += QUARTER_HOUR) {
      const hours = readers.map((hourAt) => hourAt(ms));
      if (!hours.some((h) => h >= 10 && h < 18)) gaps.push(`${new Date(ms).toISOString()}: no daytime zone`);
      if (!hours.some((h) => h >= 22 || h < 6)) gaps.push(`${new Date(ms).toISOString()}: no night zone`);
    }
    expect(gaps).toEqual([]);
  });

  it('never picks a fixed offset (Etc/…, UTC), which the API refuses as a campaign zone', () => {
    for (const zone of PLACE_ZONES) expect(placelessKind(zone), zone).toBeUndefined();
    const picked = new Set<string>();
    for (let ms = Date.UTC(2026, 2, 1); ms < Date.UTC(2026, 2, 3); ms += QUARTER_HOUR) {
      picked.add(zoneInDaytime(ms));
      picked.add(zoneAtNight(ms));
    }
    for (const zone of picked) expect(placelessKind(zone), zone).toBeUndefined();
    // Over two days the picks move round the world: more than a handful of zones.
    expect(picked.size).toBeGreaterThan(5);
  });
});
