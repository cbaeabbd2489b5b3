import { randomUUID } from 'node:crypto';
import type { CampaignConfigInput } from '../../src/shared/campaign-config.js';
import { SANDBOX_SKILL_GROUP_ID, SANDBOX_TARGET_LIST_ID } from '../../src/sandbox/directory.js';

/**
 * A valid campaign config whose start lies a month ahead, so a launch ends at "scheduled" with a
 * delayed activation job: the benchmark measures the launch path, not dialing.
 */
export function benchCampaignConfig(index: number, nowMs: number): CampaignConfigInput {
  const start = new Date(nowMs + 30 * 24 * 3600 * 1000);
  return {
    name: `bench-${index}-${randomUUID().slice(0, 8)}`,
    startDateTime: start.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    targetListId: SANDBOX_TARGET_LIST_ID,
    skillGroupId: SANDBOX_SKILL_GROUP_ID,
    complianceTimeZone: 'America/New_York',
    allowedCallTimes: [
      { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '09:00', end: '20:00' },
    ],
    dialerStrategy: { strategy: 'predictive', agentCapacity: 25, callRate: 0.6, answerRate: 0.35 },
    pacing: { strategy: 'abandonment-target', targetAbandonment: 0.025, pollIntervalMs: 15_000 },
  };
}
