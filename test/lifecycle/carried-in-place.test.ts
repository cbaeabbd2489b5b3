import { describe, expect, it } from 'vitest';
import { carriedInPlace, type SavedCarried } from '../../src/shared/lifecycle/executor.js';
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
