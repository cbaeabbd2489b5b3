import type { z } from 'zod';
import type { PacingConfig } from '../campaign-config.js';
import type { AbandonmentControllerState } from './abandonment-target.js';
import type { StartAnchor } from './reanchor.js';
import type { pacingRecordSchema } from './record-schema.js';

/**
 * What pacing keeps in the campaign record's `pacing` field (shown by GET /v1/campaigns/{id}).
 * The controller's memory lives here rather than in a worker, so whichever worker takes the next
 * poll continues where the last one stopped. The shape is pacingRecordSchema's (record-schema.ts).
 */
export type PacingRecord = z.infer<typeof pacingRecordSchema>;

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
