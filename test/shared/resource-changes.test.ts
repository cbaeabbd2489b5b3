import { describe, expect, it } from 'vitest';
import { resourceChanges } from '../../src/shared/cxone/resource-changes.js';
import type { CampaignResource } from '../../src/shared/cxone/wire.js';

const base: CampaignResource = {
  id: 'c-1',
  version: 3,
  status: 'active',
  name: 'Winter renewals',
  type: 'predictive',
  startDateTime: '2026-12-01T09:00:00-05:00',
  targetListId: '7f1c2a4e-3b5d-4c6e-8f90-1a2b3c4d5e6f',
  dialerSettings: { callRate: 0.5, agentCapacity: 20, answerRate: 0.3 } as CampaignResource['dialerSettings'],
  complianceSettings: {
    timeZone: 'America/New_York',
    callWindows: [],
  } as unknown as CampaignResource['complianceSettings'],
  createdAt: '2026-11-01T00:00:00Z',
  updatedAt: '2026-11-01T00:00:00Z',
};

describe('resourceChanges (what changed outside the orchestrator between two reads)', () => {
  it('names each changed field by its wire path, status included, bookkeeping left out', () => {
    const after = {
      ...base,
      version: 5,
      updatedAt: '2026-11-02T00:00:00Z',
      status: 'paused' as const,
      dialerSettings: { ...base.dialerSettings, callRate: 0.7 },
    };
    expect(resourceChanges(base, after)).toEqual([
      { field: 'dialerSettings.callRate', from: 0.5, to: 0.7 },
      { field: 'status', from: 'active', to: 'paused' },
    ]);
    expect(resourceChanges(base, { ...base, version: 4, updatedAt: 'later' })).toEqual([]);
  });

  it('treats a list as one field, and a field one side lacks as null there', () => {
    const windows = [{ days: ['mon'], start: '09:00', end: '17:00' }];
    const after = {
      ...base,
      complianceSettings: {
        ...base.complianceSettings,
        callWindows: windows,
        holidayCalendar: ['2026-12-25'],
      },
    } as CampaignResource;
    expect(resourceChanges(base, after)).toEqual([
      { field: 'complianceSettings.callWindows', from: [], to: windows },
      { field: 'complianceSettings.holidayCalendar', from: null, to: ['2026-12-25'] },
    ]);
  });
});
