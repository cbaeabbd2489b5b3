import type { CampaignConfig } from '../campaign-config.js';
import type { CampaignStatus } from '../cxone/wire.js';
import type { AbandonmentControllerState } from './abandonment-target.js';
import type { StartAnchor } from './reanchor.js';
import { startingCallRate } from './start.js';
import type { PacingDecision } from './types.js';

export const PAUSED_SAFE_START_REASON = 'paused: resumes at the safe start';
/** The reason of the drop a resume command carries in its own CXone write (carriedSafeStart). */
export const RESUME_SAFE_START_REASON = 'resume: resumes at the safe start';
/** The reason of the drop a PATCH raising agentCapacity carries in its own CXone write. */
export const CAPACITY_SAFE_START_REASON = 'agentCapacity raised: the new agents start at the safe start';

/**
 * What pacing does to a paused predictive campaign so that its resume is a safe start: a campaign
 * resumed at the rate it was paused at finds every agent idle (those on calls finished them during
 * the pause) and dials `agents × dialRatio` lines at once — the burst the safe start exists to
 * prevent. On the dialer model (50 seeds, 1 h paused) that cost 3.3 abandons in the 10 minutes after
 * the resume for 25 agents at 0.45 on a 0.35 list (3.9% of those minutes' live answers) and 60 for 100
 * agents at 0.67, 40 of them in the first 15 s, before any poll could react; resumed at 0.1, under
 * one. So the rate drops to the safe start while the campaign is paused, and the controller's memory
 * gets an anchor that re-anchors it on the measured answer rate once it runs again, never above the
 * rate it was paused at.
 *
 * Null when nothing is to change: the strategies and dialers the activation's safe start leaves
 * alone, or a rate already at the start (the guard's own pause has dropped it there).
 *
 * The same drop, with the same memory, is what a resume or an agentCapacity raise carries in its own
 * CXone write (carriedSafeStart): `reason` then names that cause instead of the pause.
 */
export function pausedSafeStart(
  config: Pick<CampaignConfig, 'dialerStrategy' | 'pacing'>,
  state: AbandonmentControllerState | null,
  obs: { atMs: number; stats: { answeredCalls: number; abandonedCalls: number } },
  reason: string = PAUSED_SAFE_START_REASON,
): { decision: PacingDecision; state: AbandonmentControllerState | null; anchor: StartAnchor } | null {
  const start = startingCallRate(config);
  if (start === null) return null;
  const current = config.dialerStrategy.callRate;
  // Lines of the rate it was paused at may still ring when the first polls after the resume measure
  // the answer rate: the in-flight bound must count them.
  const anchor: StartAnchor = { ...start.anchor, priorCallRate: current };
  const decision: PacingDecision = {
    strategy: 'abandonment-target',
    inputs: { ...start.inputs },
    previousCallRate: current,
    callRate: start.callRate,
    direction: 'down',
    reason: `${reason}; pacing re-anchors on the measured answer rate, up to ${current}`,
  };
  if (state === null) return { decision, state: null, anchor };
  const now = { atMs: obs.atMs, answered: obs.stats.answeredCalls, abandoned: obs.stats.abandonedCalls };
  // Counters read below the last ones are left to the controller's reset handling after the resume.
  const mark =
    now.answered >= state.last.answered && now.abandoned >= state.last.abandoned ? now : state.last;
  // The period, the guard and the ceilings stay: the pause ends none of them. The rate is the
  // controller's own change, so the first poll after the resume does not take it for an operator's
  // (which would drop the anchor), and the window judges the start's calls alone.
  return {
    decision,
    state: {
      ...state,
      callRate: start.callRate,
      window: { ...mark, atMs: obs.atMs },
      checkpoint: { ...mark, atMs: obs.atMs },
      last: mark,
      lastChangeAtMs: obs.atMs,
      anchor,
      anchorMarks: [],
      anchorStageDials: null,
      anchorSince: null,
    },
    anchor,
  };
}

/** A campaign command's CXone write, as carriedSafeStart judges it. */
export interface CarriedChange {
  /** `resume`: the status write of a resume; `settings`: a settings write (a PATCH, or a command's first step). */
  kind: 'resume' | 'settings';
  /** CXone's status on the version the write is based on. */
  status: CampaignStatus;
  /** The campaign's config on that version (CXone's settings with the orchestrator-only fields). */
  before: Pick<CampaignConfig, 'dialerStrategy' | 'pacing'>;
  /** The config the write leaves, before any carried callRate (the same as `before` for a status write). */
  after: Pick<CampaignConfig, 'dialerStrategy' | 'pacing'>;
  /** The command sets callRate itself in this write: an operator's explicit rate is theirs. */
  setsCallRate: boolean;
}

export interface CarriedSafeStart {
  /** The callRate the write carries. */
  callRate: number;
  /** The config whose callRate it drops from (its agentCapacity the one it will run with): pausedSafeStart's input. */
  config: Pick<CampaignConfig, 'dialerStrategy' | 'pacing'>;
  /** The decision's reason prefix (pausedSafeStart's `reason`). */
  reason: string;
}

/**
 * The safe start a command's own CXone write must carry, so that a change that leaves agents idle all
 * at once does not dial `idle agents × dialRatio` lines before any poll can react. Pure. Two cases, both
 * for an `abandonment-target` campaign on a predictive dialer above its safe start (startingCallRate):
 *
 * - **a resume**: the paused poll drops such a campaign to the safe start (pausedSafeStart), but a pause
 *   and resume that both fall between two polls are never seen paused, and the resume would find every
 *   agent idle at the old rate. The status write carries the start, as the activation's does. A callRate
 *   set with the resume (its patch, written just before) is the rate it re-anchors up to, as at
 *   activation: the burst comes from the idle agents, whoever chose the rate.
 * - **a raise of agentCapacity on an active campaign** that does not set callRate: the new agents join
 *   idle, and the dialer places `callRate`'s lines for each of them at once (100 → 200 agents at 0.6 on
 *   a 0.35 list: ≈4% abandonment over the next 10 minutes on the dialer model). The safe start for the
 *   new capacity is one line per idle agent whatever the team (start.ts), so the write carries it and
 *   pacing re-anchors from there, up to the rate it ran at. A PATCH that sets callRate itself is the
 *   operator's decision on the rate for the new team and is written as asked, uncapped: the controller
 *   takes it as an operator's rate (docs/pacing.md), and the abandonment guard still caps or pauses.
 *
 * Null when nothing is to carry: other strategies or dialers, a rate at or under the start, a paused
 * campaign's settings write (its resume, or the paused poll, carries the drop), a lowered or unchanged
 * capacity.
 */
export function carriedSafeStart(change: CarriedChange): CarriedSafeStart | null {
  if (change.kind === 'resume') {
    if (change.status !== 'paused') return null;
    const start = startingCallRate(change.after);
    return start === null
      ? null
      : { callRate: start.callRate, config: change.after, reason: RESUME_SAFE_START_REASON };
  }
  if (change.status !== 'active' || change.setsCallRate) return null;
  const from = change.before.dialerStrategy.agentCapacity;
  const to = change.after.dialerStrategy.agentCapacity;
  if (!(to > from)) return null;
  const start = startingCallRate(change.after);
  if (start === null) return null;
  return {
    callRate: start.callRate,
    config: change.after,
    reason: `${CAPACITY_SAFE_START_REASON} (${from} → ${to})`,
  };
}
