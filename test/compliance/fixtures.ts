import type { CampaignConfig, CampaignConfigInput } from '../../src/shared/campaign-config.js';
import { SANDBOX_SKILL_GROUP_ID, SANDBOX_TARGET_LIST_ID } from '../../src/sandbox/directory.js';

/** A valid campaign config (API input shape); tests override what they exercise. */
export function configInput(overrides: Partial<CampaignConfigInput> = {}): CampaignConfigInput {
  return {
    name: 'Spring renewals',
    startDateTime: '2026-03-02T09:00:00-05:00',
    targetListId: SANDBOX_TARGET_LIST_ID,
    skillGroupId: SANDBOX_SKILL_GROUP_ID,
    complianceTimeZone: 'America/New_York',
    allowedCallTimes: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00' }],
    dialerStrategy: { strategy: 'predictive', agentCapacity: 20, callRate: 0.8, answerRate: 0.3 },
    ...overrides,
  };
}

/** The same, as the parsed config workers see (defaults filled in). */
export function config(overrides: Partial<CampaignConfig> = {}): CampaignConfig {
  return {
    ...(configInput() as CampaignConfig),
    pacing: { strategy: 'abandonment-target', targetAbandonment: 0.025, pollIntervalMs: 15_000 },
    compliance: { regime: 'TCPA', doNotCallCheck: true },
    ...overrides,
  };
}

/**
 * CXone statistics at `version` with the answered and abandoned counts the abandonment guard measures
 * (total calls are three times the answered: the guard does not read them).
 */
export function guardStats(answeredCalls: number, abandonedCalls: number, version = 3) {
  return { version, totalCalls: answeredCalls * 3, answeredCalls, abandonedCalls, complianceViolations: 0 };
}
