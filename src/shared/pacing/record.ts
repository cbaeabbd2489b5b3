import type { PacingConfig } from '../campaign-config.js';
import type { AbandonmentControllerState } from './abandonment-target.js';
import type { StartAnchor } from './reanchor.js';
import type { PacingDecision } from './types.js';

/**
 * What pacing keeps in the campaign record's `pacing` field (shown by GET /v1/campaigns/{id}).
 * The controller's memory lives here rather than in a worker, so whichever worker takes the next
 * poll continues where the last one stopped.
 */
export interface PacingRecord {
  strategy: PacingConfig['strategy'];
  /** Controller memory (abandonment-target); null for stateless strategies. */
  state: AbandonmentControllerState | null;
  /** The latest decision, hold or change. */
  lastDecision: (PacingDecision & { at: string }) | null;
  /** The latest change that was sent through the lifecycle. */
  lastAdjustment: { at: string; commandId: string; from: number; to: number; reason: string } | null;
  /** A change still on its way through the adjust queue; pacing waits for it before deciding again. */
  pendingCommandId: string | null;
  /** The abandonment guard's cap on callRate while it throttles, else null. */
  guardCap: { maxCallRate: number; reason: string } | null;
  /**
   * The safe start the campaign was activated with, until the controller's first step takes it into
   * its memory (which then re-anchors on the measured answer rate). Absent in older records.
   */
  startAnchor?: StartAnchor | null;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

function isControllerState(v: unknown): v is AbandonmentControllerState {
  if (!isObject(v)) return false;
  const counters = (c: unknown) =>
    isObject(c) &&
    typeof c.atMs === 'number' &&
    typeof c.answered === 'number' &&
    typeof c.abandoned === 'number';
  return (
    typeof v.callRate === 'number' &&
    counters(v.window) &&
    counters(v.checkpoint) &&
    counters(v.period) &&
    counters(v.last)
  );
}

function isStartAnchor(v: unknown): v is StartAnchor {
  return (
    isObject(v) &&
    typeof v.requestedCallRate === 'number' &&
    typeof v.startCallRate === 'number' &&
    typeof v.declaredAnswerRate === 'number' &&
    typeof v.agents === 'number' &&
    typeof v.maxAnswersPerIdleAgent === 'number' &&
    (v.priorCallRate === undefined || typeof v.priorCallRate === 'number')
  );
}

/** Reads the stored field defensively: a record written by an older release starts afresh. */
export function readPacingRecord(raw: unknown, strategy: PacingConfig['strategy']): PacingRecord {
  const empty: PacingRecord = {
    strategy,
    state: null,
    lastDecision: null,
    lastAdjustment: null,
    pendingCommandId: null,
    guardCap: null,
    startAnchor: null,
  };
  if (!isObject(raw)) return empty;
  return {
    strategy,
    // A strategy switch starts the new controller with a clean memory.
    state: raw.strategy === strategy && isControllerState(raw.state) ? raw.state : null,
    lastDecision: isObject(raw.lastDecision)
      ? (raw.lastDecision as unknown as PacingRecord['lastDecision'])
      : null,
    lastAdjustment: isObject(raw.lastAdjustment)
      ? (raw.lastAdjustment as PacingRecord['lastAdjustment'])
      : null,
    pendingCommandId: typeof raw.pendingCommandId === 'string' ? raw.pendingCommandId : null,
    guardCap: isObject(raw.guardCap) ? (raw.guardCap as unknown as PacingRecord['guardCap']) : null,
    startAnchor: strategy === 'abandonment-target' && isStartAnchor(raw.startAnchor) ? raw.startAnchor : null,
  };
}
