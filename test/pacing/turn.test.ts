import { describe, expect, it } from 'vitest';
import type { CampaignRecord } from '../../src/shared/campaign-store.js';
import { changeSinceRead } from '../../src/shared/pacing/turn.js';
import { campaignConfig, resource } from '../lifecycle/fixtures.js';

const seen: CampaignRecord = {
  campaignId: 'c1',
  status: 'active',
  version: 4,
  config: campaignConfig(),
  cxone: resource({ id: 'c1', version: 4, status: 'active' }),
  configRev: 2,
  pacing: { strategy: 'abandonment-target', state: null, pendingCommandId: null },
  updatedAt: '2026-01-01T00:00:00.000Z',
};

describe('changeSinceRead', () => {
  it("ignores what the poll's own statistics moved", () => {
    expect(
      changeSinceRead(seen, { ...seen, version: 5, lastStats: undefined, updatedAt: 'later' }),
    ).toBeNull();
  });

  it('names a CXone write, new orchestrator-only settings, a new pacing memory, an end', () => {
    expect(changeSinceRead(seen, { ...seen, cxone: { ...seen.cxone, version: 5 } })).toMatch(/version 4 → 5/);
    expect(changeSinceRead(seen, { ...seen, configRev: 3 })).toMatch(/settings/);
    expect(
      changeSinceRead(seen, { ...seen, pacing: { ...(seen.pacing as object), pendingCommandId: 'cmd_x' } }),
    ).toMatch(/memory/);
    expect(changeSinceRead(seen, { ...seen, status: 'completed' })).toMatch(/ended \(completed\)/);
    expect(changeSinceRead(seen, null)).toMatch(/gone/);
  });
});
