import type { CampaignConfig } from '../../src/shared/campaign-config.js';
import type { CampaignResource, CampaignStats } from '../../src/shared/cxone/wire.js';

/** CXone statistics of a paused campaign that has placed no call yet (version 3), with overrides. */
export function statsOf(overrides: Partial<CampaignStats> = {}): CampaignStats {
  return {
    version: 3,
    status: 'paused',
    totalCalls: 0,
    answeredCalls: 0,
    abandonedCalls: 0,
    complianceViolations: 0,
    agentUtilization: 0,
    ...overrides,
  };
}

/** A CXone campaign resource as the v2 API returns it; override any part. */
export function resource(overrides: Partial<CampaignResource> = {}): CampaignResource {
  const base: CampaignResource = {
    id: 'cmp-1',
    version: 7,
    status: 'active',
    name: 'Spring renewals',
    type: 'predictive',
    startDateTime: '2026-12-01T09:00:00-05:00',
    targetListId: '7b6f7f8e-1c2d-4e5f-8a9b-0c1d2e3f4a5b',
    dialerSettings: {
      strategy: 'predictive',
      agentCapacity: 20,
      callRate: 0.5,
      answerRate: 0.3,
      wrapUpTime: 30,
      skillGroupId: '1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d',
    },
    complianceSettings: {
      timeZone: 'America/New_York',
      allowedCallTimes: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '20:00' }],
      doNotCallListCheck: true,
      regulatoryCompliance: 'TCPA',
    },
    createdAt: '2026-11-01T00:00:00.000Z',
    updatedAt: '2026-11-01T00:00:00.000Z',
  };
  return {
    ...base,
    ...overrides,
    dialerSettings: { ...base.dialerSettings, ...(overrides.dialerSettings ?? {}) },
    complianceSettings: { ...base.complianceSettings, ...(overrides.complianceSettings ?? {}) },
  };
}

/** A valid API campaign config (the launch body). */
export function campaignConfig(overrides: Partial<CampaignConfig> = {}): CampaignConfig {
  return {
    name: 'Spring renewals',
    startDateTime: '2026-12-01T09:00:00-05:00',
    targetListId: '7b6f7f8e-1c2d-4e5f-8a9b-0c1d2e3f4a5b',
    skillGroupId: '1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d',
    complianceTimeZone: 'America/New_York',
    allowedCallTimes: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '20:00' }],
    dialerStrategy: { strategy: 'predictive', agentCapacity: 20, callRate: 0.5, answerRate: 0.3 },
    ...overrides,
  };
}
