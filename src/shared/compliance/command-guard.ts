import type { CampaignConfig } from '../campaign-config.js';
import type { CampaignAction } from '../lifecycle/state-machine.js';
import { FEDERAL_WINDOW } from './config-rules.js';
import { isWithinWindow, localIso, nextWindowOpen } from './windows.js';

export interface CommandGuardInput {
  action?: CampaignAction | undefined;
  /** The command's reason: "operator", "pacing", "compliance-window", "abandonment-guard", … */
  reason: string;
  config: Pick<CampaignConfig, 'complianceTimeZone' | 'allowedCallTimes'>;
  /** When the command would take effect (the API: now; the adjust worker: when it applies it). */
  atMs: number;
}

/**
 * Why compliance forbids this command now, or null when it may proceed. Pure. The API answers 409
 * with the string; the adjust worker checks again when it applies the command, because a resume
 * queued at 20:59 may only run after the window closed.
 *   - resume outside the calling window: refused, naming the local time and the next open;
 *   - resume asked by pacing: refused always — pacing steers the rate; lifting a pause (the
 *     compliance worker's or an operator's) is never its call.
 */
export function complianceRefusal(input: CommandGuardInput): string | null {
  if (input.action !== 'resume') return null;
  if (input.reason === 'pacing') {
    return 'pacing may not resume a campaign; a paused campaign is resumed by an operator or, after a calling-window pause, by the compliance worker';
  }
  const { config, atMs } = input;
  if (isWithinWindow(config, atMs)) return null;
  const next = nextWindowOpen(config, atMs);
  return (
    `cannot resume at ${localIso(config.complianceTimeZone, atMs)} (${config.complianceTimeZone}): outside the campaign's calling windows ` +
    `(calling hours, ${FEDERAL_WINDOW.source}); ` +
    (next === null
      ? 'no window opens in the next 15 days'
      : `the next window opens at ${localIso(config.complianceTimeZone, next)}, when the compliance worker resumes it`)
  );
}
