import { randomUUID } from 'node:crypto';
import type { CreateCampaignRequest } from '../../src/shared/cxone/wire.js';
import { SANDBOX_SKILL_GROUP_ID, SANDBOX_TARGET_LIST_ID } from '../../src/sandbox/directory.js';

/**
 * A valid create body for the sandbox's default directory (20 agents, New York's 08:00–21:00 under
 * the TCPA). Apart from helpers.ts, which needs vitest, so the benchmarks can build the same one.
 */
export function createBody(overrides: Partial<CreateCampaignRequest> = {}): CreateCampaignRequest {
  return {
    name: `test campaign ${randomUUID().slice(0, 8)}`,
    type: 'predictive',
    startDateTime: '2026-12-01T09:00:00-05:00',
    targetListId: SANDBOX_TARGET_LIST_ID,
    dialerSettings: {
      strategy: 'predictive',
      agentCapacity: 20,
      callRate: 0.5,
      answerRate: 0.35,
      wrapUpTime: 30,
      skillGroupId: SANDBOX_SKILL_GROUP_ID,
    },
    complianceSettings: {
      timeZone: 'America/New_York',
      allowedCallTimes: [
        { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '08:00', end: '21:00' },
      ],
      doNotCallListCheck: true,
      regulatoryCompliance: 'TCPA',
    },
    ...overrides,
  };
}
