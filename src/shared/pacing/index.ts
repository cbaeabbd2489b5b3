import type { PacingConfig } from '../campaign-config.js';
import {
  abandonmentTargetDecision,
  type AbandonmentControllerState,
  type AbandonmentTargetParams,
} from './abandonment-target.js';
import type { StartAnchor } from './reanchor.js';
import { thresholdDecision } from './threshold.js';
import type { PacingDecision, PacingObservation } from './types.js';

export * from './types.js';
export * from './abandonment-target.js';
export { thresholdDecision, thresholdRecall } from './threshold.js';
export { callRateForDialRatio, DEFAULT_MAX_DIAL_RATIO, dialRatioFor } from './dial-ratio.js';
export * from './start.js';
export * from './reanchor.js';

/** Controller memory of any strategy, as stored between polls. */
export type PacingControllerState = AbandonmentControllerState | null;

export interface PacingStep {
  decision: PacingDecision;
  state: PacingControllerState;
}

/**
 * Runs the campaign's pacing strategy on one observation. 'off' returns null. The only entry point
 * the poll worker and the benchmark use, so both run exactly the same logic. `startAnchor` is the
 * safe start the campaign was activated with, taken by the controller's first step (state null).
 */
export function decidePacing(
  pacing: Pick<PacingConfig, 'strategy' | 'targetAbandonment'> & Partial<Pick<PacingConfig, 'thresholds'>>,
  obs: PacingObservation,
  state: PacingControllerState,
  params: Partial<AbandonmentTargetParams> = {},
  startAnchor: StartAnchor | null = null,
): PacingStep | null {
  switch (pacing.strategy) {
    case 'off':
      return null;
    case 'threshold':
      return { decision: thresholdDecision(obs, pacing.thresholds), state: null };
    case 'abandonment-target': {
      const result = abandonmentTargetDecision(
        obs,
        state,
        {
          targetAbandonment: pacing.targetAbandonment,
          ...params,
        },
        startAnchor,
      );
      return { decision: result.decision, state: result.state };
    }
  }
}
