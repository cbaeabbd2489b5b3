import { describe, expect, it } from 'vitest';
import {
  beforeOwnSafeStart,
  carriedInPlace,
  type SavedCarried,
} from '../../src/shared/lifecycle/executor.js';
import { resource } from './fixtures.js';

const dialerStrategy = { strategy: 'predictive', agentCapacity: 20, callRate: 0.5, answerRate: 0.3 };
const saved: SavedCarried = {
  step: 'status',
  callRate: 0.1,
  reason: 'resume: resumes at the safe start',
  config: { dialerStrategy },
};
const at = (callRate: number) => {
  const r = resource({ id: 'c1', version: 7, status: 'active' });
  return { ...r, dialerSettings: { ...r.dialerSettings, callRate } };
};

describe('carriedInPlace', () => {
  it("gives back an earlier run's carried safe start when CXone runs at it", () => {
    expect(carriedInPlace(saved, 'status', at(0.1))).toEqual({
      callRate: 0.1,
      reason: saved.reason,
      config: saved.config,
    });
  });

  it('is null for another step, another rate in place, nothing saved, or no drop at all', () => {
    expect(carriedInPlace(saved, 'settings', at(0.1))).toBeNull();
    expect(carriedInPlace(saved, 'status', at(0.3))).toBeNull();
    expect(carriedInPlace(undefined, 'status', at(0.1))).toBeNull();
    const noDrop: SavedCarried = {
      ...saved,
      config: { dialerStrategy: { ...dialerStrategy, callRate: 0.1 } },
    };
    expect(carriedInPlace(noDrop, 'status', at(0.1))).toBeNull();
  });
});

describe('beforeOwnSafeStart', () => {
  it("shows a later run of a resume the rate its earlier run's status write capped", () => {
    expect(beforeOwnSafeStart({ action: 'resume' }, true, saved, at(0.1)).dialerSettings.callRate).toBe(0.5);
  });

  it('leaves the campaign as read on a first run, for another action, a paused campaign or no cap in place', () => {
    const active = at(0.1);
    expect(beforeOwnSafeStart({ action: 'resume' }, false, saved, active)).toBe(active);
    expect(beforeOwnSafeStart({ action: 'pause' }, true, saved, active)).toBe(active);
    expect(beforeOwnSafeStart({}, true, saved, active)).toBe(active);
    // The status write was never applied (its settings undone to the base): still paused.
    const paused = { ...active, status: 'paused' as const };
    expect(beforeOwnSafeStart({ action: 'resume' }, true, saved, paused)).toBe(paused);
    const elsewhere = at(0.3);
    expect(beforeOwnSafeStart({ action: 'resume' }, true, saved, elsewhere)).toBe(elsewhere);
  });
});
