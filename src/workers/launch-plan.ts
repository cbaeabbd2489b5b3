import type { CampaignConfig } from '../shared/campaign-config.js';
import { nextAllowedStart, type WindowConfig } from '../shared/compliance/windows.js';
import type { CampaignStatus } from '../shared/cxone/wire.js';

/**
 * Pure decisions of the launch pipeline, kept apart from the I/O in launch-worker.ts so they can be
 * tested alone.
 */

export interface ActivationPlan {
  /** When the campaign goes active (epoch ms). */
  activateAtMs: number;
  /** True when the requested start lay outside every calling window and was moved to the next open. */
  movedToWindow: boolean;
  /** Milliseconds to wait; 0 = activate now. */
  delayMs: number;
}

/**
 * When to activate: at startDateTime, or now when that has passed, moved to the next calling-window
 * open when the moment lies outside the campaign's windows (never dial outside them).
 */
export function planActivation(
  config: Pick<CampaignConfig, 'startDateTime'> & WindowConfig,
  nowMs: number,
): ActivationPlan {
  const requested = Math.max(Date.parse(config.startDateTime), nowMs);
  const activateAtMs = nextAllowedStart(config, requested);
  // No early activation, not even by a few milliseconds: the moment may be a window's opening.
  return {
    activateAtMs,
    movedToWindow: activateAtMs !== requested,
    delayMs: Math.max(0, activateAtMs - nowMs),
  };
}

/**
 * What the launch does next for a campaign in `status` on CXone:
 * - schedule: created but still draft;
 * - activate: scheduled, waiting for its start;
 * - done: already active or paused — an earlier run of this launch (or an operator) got there;
 * - gone: completed or cancelled behind the launch's back; nothing left to launch.
 */
export type LaunchStep = 'schedule' | 'activate' | 'done' | 'gone';

export function nextLaunchStep(status: CampaignStatus): LaunchStep {
  switch (status) {
    case 'draft':
      return 'schedule';
    case 'scheduled':
      return 'activate';
    case 'active':
    case 'paused':
      return 'done';
    case 'completed':
    case 'cancelled':
      return 'gone';
  }
}
