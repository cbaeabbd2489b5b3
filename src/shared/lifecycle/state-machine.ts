import type { CampaignStatus } from '../cxone/wire.js';

/**
 * The campaign state machine, shared by the sandbox (which enforces it as CXone does) and the
 * producer API (which refuses a forbidden action before enqueueing anything).
 *
 *   draft ──► scheduled ──► active ◄──► paused
 *     │                       ▲ │           │
 *     └───────────────────────┘ └─► completed ◄┘
 *   any non-final state ──► cancelled
 *
 * completed and cancelled are final. draft → active is the reference's own lifecycle ("draft,
 * active, paused, and completed", seed-tutorial.txt Step 2): CXone lets a draft be started at once
 * (from its console too), so the sandbox must not refuse it. The orchestrator itself still goes
 * through scheduled, and takes over a draft found started when it comes to schedule it
 * (launch-takeover.ts takeOverStartedDraft) instead of failing and cancelling it.
 */
const TRANSITIONS: Record<CampaignStatus, readonly CampaignStatus[]> = {
  draft: ['scheduled', 'active', 'cancelled'],
  scheduled: ['active', 'cancelled'],
  active: ['paused', 'completed', 'cancelled'],
  paused: ['active', 'completed', 'cancelled'],
  completed: [],
  cancelled: [],
};

export const FINAL_STATUSES: readonly CampaignStatus[] = ['completed', 'cancelled'];

export function isFinal(status: CampaignStatus): boolean {
  return FINAL_STATUSES.includes(status);
}

/**
 * Whether the campaign has started dialing and not ended (active, or paused and resumable): its
 * statistics are polled, a stop completes it. Draft and scheduled ones have not dialed yet.
 */
export function isRunning(status: CampaignStatus): boolean {
  return status === 'active' || status === 'paused';
}

export function canTransition(from: CampaignStatus, to: CampaignStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

export function allowedTransitions(from: CampaignStatus): readonly CampaignStatus[] {
  return TRANSITIONS[from];
}

export const CAMPAIGN_ACTIONS = ['pause', 'resume', 'stop'] as const;
export type CampaignAction = (typeof CAMPAIGN_ACTIONS)[number];

export type ActionPlan = { ok: true; target: CampaignStatus } | { ok: false; reason: string };

/**
 * What an operator action means in each state.
 * - pause: active → paused. Dialing stops; calls in progress finish; the campaign can resume.
 * - resume: paused → active.
 * - stop: ends the campaign for good. A campaign that has dialed (active or paused) becomes
 *   `completed`, keeping its statistics and history; one that never dialed (draft or scheduled)
 *   becomes `cancelled`. There is no way back from either.
 */
/**
 * Whether a requested action is accepted for a campaign that is `from` now: what `planAction` plans,
 * and also a pause of a campaign already paused. That one writes nothing, but makes the pause the
 * requester's: the calling window, which may hold the campaign paused until its next open, then never
 * resumes it (compliance/enforcement.ts, releaseWindowPause). An operator can thus keep a campaign
 * paused past the window's open.
 */
export function acceptsAction(
  action: CampaignAction,
  from: CampaignStatus,
): { ok: true } | { ok: false; reason: string } {
  if (action === 'pause' && from === 'paused') return { ok: true };
  const plan = planAction(action, from);
  return plan.ok ? { ok: true } : plan;
}

export function planAction(action: CampaignAction, from: CampaignStatus): ActionPlan {
  switch (action) {
    case 'pause':
      return from === 'active'
        ? { ok: true, target: 'paused' }
        : {
            ok: false,
            reason: `cannot pause a campaign that is ${from}; only an active (or paused) campaign can be paused`,
          };
    case 'resume':
      return from === 'paused'
        ? { ok: true, target: 'active' }
        : {
            ok: false,
            reason: `cannot resume a campaign that is ${from}; only a paused campaign can be resumed`,
          };
    case 'stop':
      if (isRunning(from)) return { ok: true, target: 'completed' };
      if (from === 'draft' || from === 'scheduled') return { ok: true, target: 'cancelled' };
      return { ok: false, reason: `cannot stop a campaign that is already ${from}` };
  }
}
