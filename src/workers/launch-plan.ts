import type { CampaignConfig } from '../shared/campaign-config.js';
import type { CampaignRecord } from '../shared/campaign-store.js';
import { nextAllowedStart, type WindowConfig } from '../shared/compliance/windows.js';
import type { CampaignStatus } from '../shared/cxone/wire.js';
import { startedOutsideFrom, startedOutsideOrchestrator } from '../shared/launch-store.js';

/**
 * Pure decisions of the launch pipeline, kept apart from the I/O in launch-worker.ts and the modules
 * beside it (launch-activation.ts, launch-takeover.ts, ...) so they can be tested alone.
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

/**
 * A scheduled campaign can be activated behind the orchestrator's back before its start (CXone's
 * console, another tool), and would then dial with nobody pacing it or keeping it to its calling
 * windows. So its delayed activation job does not sleep until the start: it wakes this often to look
 * at the campaign, and takes it over (polling, window enforcement) as soon as it finds it active.
 */
export const SCHEDULED_CHECK_MIN_MS = 2 * 60_000;

/**
 * Share of the campaign-read endpoint's budget those looks may use, so that many scheduled campaigns
 * stretch the interval instead of crowding out launches, commands and operators' reads.
 */
export const SCHEDULED_CHECK_BUDGET_SHARE = 0.2;

/** How often each scheduled campaign is looked at, given how many there are and CXone's limit. */
export function scheduledCheckIntervalMs(input: {
  /** Scheduled campaigns waiting for their start (delayed activation jobs). */
  scheduled: number;
  /** Requests CXone allows per endpoint per window, and the window. */
  perWindow: number;
  windowMs: number;
}): number {
  const usable = Math.max(1, Math.floor(input.perWindow * SCHEDULED_CHECK_BUDGET_SHARE));
  const budgetFloor = Math.ceil((input.windowMs * Math.max(1, input.scheduled)) / usable);
  return Math.max(SCHEDULED_CHECK_MIN_MS, budgetFloor);
}

/** When the activation job runs next: the start itself, or the next look at the campaign before it. */
export function nextActivationWakeMs(activateAtMs: number, nowMs: number, checkIntervalMs: number): number {
  return Math.min(activateAtMs, nowMs + checkIntervalMs);
}

/**
 * For a later run that finds the campaign active: the callRate its launch planned the safe start
 * from, when the campaign record, as the earlier runs left it, holds no pacing yet — so no safe start
 * was recorded (the activation's sync writes it) and no poll has run. Undefined otherwise: recorded
 * (again) it would reset a controller that already paces the campaign. `requestedCallRate` is the
 * rate the activation's start was planned from: the launch's config, or for a delayed activation the
 * rate its activating run saved in the job before sending the write (`startPlannedFrom`; the record's
 * would not do: a GET's refresh from CXone since shows CXone's start there). Pure.
 */
export function unrecordedStartFrom(
  record: Pick<CampaignRecord, 'pacing'> | null,
  requestedCallRate: number | undefined,
): number | undefined {
  return record !== null && record.pacing == null ? requestedCallRate : undefined;
}

/**
 * Whose start it was, for a campaign found running on CXone — the one rule both paths that find it so
 * decide by: a launch's run (a first read, or the re-read after its schedule write) and the delayed
 * activation job (its look before the start, or its run at the start). Two rules used to answer it,
 * and they parted on a record already marked `startedOutside` whose safe start was never recorded: the
 * launch carried the takeover on, the activation job took the campaign for the launch's own start and
 * left it dialing at the operator's rate with no statistic seen. The answer is
 * - `startedOutside`: not marked yet, and no activating write of ours noted on the record (every one
 *   is, before it is sent; launch-store.ts startedOutsideOrchestrator), or found running before its
 *   start (`beforeStart`: the orchestrator activates only when the start is due) — an operator started
 *   it in CXone, from the status the orchestrator last knew it in;
 * - `takeoverUnfinished`: active, marked already, and no pacing on the record (so no safe start
 *   recorded and no poll run): an earlier run's takeover died, or lost its safe-start write's answer,
 *   before recording it — carried on from the rate it was taken over at, as that run's mark names it
 *   (`takenOverFrom`; a mark of an earlier release: the record's rate, else the `callRate` given);
 *   unless the mark says the takeover left the rate to the operator (`safeStart: 'left'`): `neither`;
 * - `active`: the launch's own activation, with the callRate an earlier run's unrecorded safe start
 *   was planned from (unrecordedStartFrom);
 * - `neither`: otherwise (paused, taken over or not, is left as it is; so is a takeover settled `left`).
 * `callRate`: the rate the caller's start was planned from (the launch's config; the activation job's
 * saved `startPlannedFrom`, else the record's). Pure.
 */
export function runningFoundOnRead(
  status: CampaignStatus,
  record:
    | (Pick<CampaignRecord, 'startedOutside' | 'activationSent' | 'status' | 'pacing'> & {
        config?: Pick<CampaignRecord['config'], 'dialerStrategy'>;
      })
    | null,
  callRate: number | undefined,
  opts: { beforeStart?: boolean } = {},
):
  | { kind: 'startedOutside'; from: CampaignStatus }
  | { kind: 'active'; plannedFrom: number | undefined }
  | { kind: 'takeoverUnfinished'; plannedFrom: number }
  | { kind: 'neither' } {
  const running = status === 'active' || status === 'paused';
  if (
    running &&
    !record?.startedOutside &&
    (opts.beforeStart === true || startedOutsideOrchestrator(status, record))
  ) {
    return { kind: 'startedOutside', from: startedOutsideFrom(record) };
  }
  if (status !== 'active') return { kind: 'neither' };
  if (record?.startedOutside && record.pacing == null) {
    // Left as the operator set it by the takeover that decided on it: nothing of its to finish.
    if (record.startedOutside.safeStart === 'left') return { kind: 'neither' };
    const takenOverAt =
      record.startedOutside.takenOverFrom?.callRate ?? record.config?.dialerStrategy.callRate ?? callRate;
    if (takenOverAt !== undefined) return { kind: 'takeoverUnfinished', plannedFrom: takenOverAt };
  }
  return { kind: 'active', plannedFrom: unrecordedStartFrom(record, callRate) };
}
