import type { z } from 'zod';
import { MAX_CALL_RATE, MIN_CALL_RATE } from './dial-ratio.js';
import type { pacingDecisionSchema } from './record-schema.js';

/** What a pacing strategy sees on each poll: the CXone statistics and the callRate in effect. */
export interface PacingObservation {
  /** When the statistics were read (epoch ms; simulated ms in the benchmark). */
  atMs: number;
  /** The campaign's callRate as CXone reports it now. */
  callRate: number;
  /** The config's agentCapacity now (absent: not known; the re-anchor uses its anchor's). */
  agents?: number;
  /**
   * `totalCalls` as the threshold rule's previous decision saw them (absent: none, or another strategy).
   * The rule keeps no memory of its own; it tells from this whether any call was placed since.
   */
  callsAtLastDecision?: number;
  /** Since when counters have read below `callsAtLastDecision` (epoch ms; absent: they have not). */
  callsBackSinceMs?: number;
  /** Cumulative counters since the campaign started, as the stats endpoint returns them. */
  stats: {
    totalCalls: number;
    answeredCalls: number;
    abandonedCalls: number;
    /** Percent 0..100. */
    agentUtilization: number;
  };
}

export type PacingDirection = 'up' | 'down' | 'hold';

/** One decision, kept whole in the audit trail and the campaign record (record-schema.ts). */
export type PacingDecision = z.infer<typeof pacingDecisionSchema>;

/**
 * How a decision reads in its `pacing_decision` audit record and `campaign.pacing.adjusted` event;
 * callers add what is particular to them (the command it queued, the launch it started).
 */
export function decisionDetails(decision: PacingDecision): Record<string, unknown> {
  return {
    strategy: decision.strategy,
    inputs: decision.inputs,
    output: { callRate: decision.callRate },
    previousCallRate: decision.previousCallRate,
    direction: decision.direction,
    reason: decision.reason,
  };
}

// One definition of the contract's bounds, next to the callRate → dial-ratio mapping.
export { MAX_CALL_RATE, MIN_CALL_RATE };

export function clampCallRate(rate: number): number {
  return Math.min(MAX_CALL_RATE, Math.max(MIN_CALL_RATE, rate));
}

/** Rounds as the seed does (`parseFloat(x.toFixed(2))`), so the baseline is reproduced exactly. */
export function round2(value: number): number {
  return Number(value.toFixed(2));
}

export function directionOf(from: number, to: number): PacingDirection {
  return to > from ? 'up' : to < from ? 'down' : 'hold';
}
