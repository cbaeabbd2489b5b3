import { type CampaignConfig, doNotCallCheckOf, regimeOf } from '../campaign-config.js';
import type { CreateCampaignRequest } from './wire.js';

/** Seconds of after-call work the seed sends for every campaign. */
export const DEFAULT_WRAP_UP_SECONDS = 30;

/**
 * Maps a validated API config onto CXone's create payload. Pure. The orchestrator-only fields
 * (description, pacing, recipientStates, blackoutDates) have no place in it and are not sent.
 */
export function toCreateCampaignRequest(config: CampaignConfig): CreateCampaignRequest {
  return {
    name: config.name,
    type: config.dialerStrategy.strategy,
    startDateTime: config.startDateTime,
    targetListId: config.targetListId,
    dialerSettings: {
      strategy: config.dialerStrategy.strategy,
      agentCapacity: config.dialerStrategy.agentCapacity,
      callRate: config.dialerStrategy.callRate,
      answerRate: config.dialerStrategy.answerRate,
      wrapUpTime: DEFAULT_WRAP_UP_SECONDS,
      skillGroupId: config.skillGroupId,
    },
    complianceSettings: {
      timeZone: config.complianceTimeZone,
      allowedCallTimes: config.allowedCallTimes,
      doNotCallListCheck: doNotCallCheckOf(config),
      regulatoryCompliance: regimeOf(config),
    },
  };
}
