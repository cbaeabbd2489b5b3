import type { Clock } from '../clock.js';
import type { CampaignConfig } from '../campaign-config.js';
import { closedBy } from './command-guard.js';
import { ComplianceError } from './errors.js';
import { currentWindowClose, localIso, nextWindowOpen, START_CLOSE_MARGIN_MS } from './windows.js';

/**
 * An activation is decided when its job reads the clock, but its PATCH leaves only once the fleet's
 * CXone budget grants it a permit, and with many campaigns closing at the same minute that wait can
 * outlast the window. So the decision is made again at the moment of sending (CallOptions.beforeSend),
 * by the rule the decision used (nextAllowedStart): inside a window and at least
 * START_CLOSE_MARGIN_MS before its close.
 */

/** Why a campaign may not start dialing at `atMs`, or null when it may. Pure. */
export function startRefusalAt(config: CampaignConfig, atMs: number): string | null {
  const close = currentWindowClose(config, atMs);
  if (close !== null && close - atMs >= START_CLOSE_MARGIN_MS) return null;
  const zone = config.complianceTimeZone;
  const why =
    close === null
      ? `outside its calling windows (${closedBy(config, atMs)})`
      : `its calling window closes at ${localIso(zone, close)}, less than ${START_CLOSE_MARGIN_MS / 1000} s away, ` +
        `too late for the pause that must follow to land by it (${closedBy(config, close)})`;
  return `not activated at ${localIso(zone, atMs)} (${zone}): ${why}`;
}

/**
 * The activating write was not sent: when its permit came, the campaign could no longer start. The
 * launch moves the activation to the next open (`nextStartMs`; null when none opens within 15 days).
 */
export class StartWindowPassedError extends ComplianceError {
  constructor(
    campaignId: string,
    readonly atMs: number,
    readonly nextStartMs: number | null,
    reason: string,
  ) {
    super(`campaign ${campaignId} ${reason}; the wait for CXone's rate-limit budget outlasted its moment`, {
      rule: 'calling-window',
      campaignId,
    });
    this.name = 'StartWindowPassedError';
  }
}

/**
 * The `beforeSend` of a campaign's activating write: throws StartWindowPassedError when `clock` says
 * the campaign may no longer start under `config`, so the write stays unsent.
 */
export function startWindowCheck(config: CampaignConfig, clock: Clock, campaignId: string): () => void {
  return () => {
    const atMs = clock.now();
    const refusal = startRefusalAt(config, atMs);
    if (refusal !== null) {
      throw new StartWindowPassedError(campaignId, atMs, nextWindowOpen(config, atMs), refusal);
    }
  };
}
