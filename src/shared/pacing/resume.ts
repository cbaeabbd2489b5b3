import type { CampaignConfig } from '../campaign-config.js';
import type { AbandonmentControllerState } from './abandonment-target.js';
import type { StartAnchor } from './reanchor.js';
import { startingCallRate } from './start.js';
import type { PacingDecision } from './types.js';

export const PAUSED_SAFE_START_REASON = 'paused: resumes at the safe start';

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
 */
export function pausedSafeStart(
  config: Pick<CampaignConfig, 'dialerStrategy' | 'pacing'>,
  state: AbandonmentControllerState | null,
  obs: { atMs: number; stats: { answeredCalls: number; abandonedCalls: number } },
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
    reason: `${PAUSED_SAFE_START_REASON}; pacing re-anchors on the measured answer rate, up to ${current}`,
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
    },
    anchor,
  };
}
