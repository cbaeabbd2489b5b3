import type { CommandStatus } from '../lifecycle/commands.js';
import { isCxoneError } from '../errors.js';

/**
 * The abandonment guard's fail-safe for a campaign it cannot see. The guard measures abandonment from
 * CXone's statistics; while every poll of them fails (a 5xx, a 429 past the budget, a timeout, an
 * auth failure) it measures nothing, and the campaign would dial on unchecked for as long as that
 * lasts. Once an active campaign has had no statistics read for `GUARD_BLIND_PAUSE_AFTER_MS`, the
 * guard pauses it ("blind pause"); when the statistics come back it measures, and resumes the
 * campaign if nobody else acted on it meanwhile and it is under the cap. Pure: the I/O is in
 * blind-actions.ts.
 */

/** What an operator needs of the failure that left the guard blind; never a message or a body. */
export interface PollErrorSummary {
  /**
   * The CXone error's kind (`unavailable`, `rate_limit`, `timeout`, `auth`, …), else `other`;
   * `late`: the statistics came back after another tick had taken the poll over, unused.
   */
  kind: string;
  /** The HTTP status CXone answered, when it answered. */
  status?: number;
  /** The system error code of a failure below HTTP (`ECONNREFUSED`, …), when there is one. */
  code?: string;
  /** For `late`: how long the poll waited for its statistics (the fleet limiter's queue, mostly). */
  waitedMs?: number;
}

/** The failure in a few words, for the reason of a blind pause. */
export function describePollError(error: PollErrorSummary): string {
  if (error.kind === 'late' && error.waitedMs !== undefined) {
    return `answered after ${Math.round(error.waitedMs / 1000)} s, too late to be used`;
  }
  return `${error.kind}${error.status ? ` ${error.status}` : ''}`;
}

/** The guard's blind pause, from its command until the statistics come back and decide on it. */
export interface BlindPause {
  commandId: string;
  atMs: number;
  /** When the statistics were last read (the record's `lastStats.at`); null when never. */
  lastStatsAt: string | null;
  failedPolls: number;
  lastError: PollErrorSummary;
  /** The streak it was issued in (its `okAt`). */
  okAt: string | null;
  /** How many pauses of this one's failed before it (it was issued again): the next wait doubles. */
  reissues?: number;
  /**
   * A command of someone else's that changed the campaign's status since (a resume, a pause, a stop),
   * noted by the lifecycle: the campaign is no longer paused by this pause alone.
   */
  overtakenBy?: { actor: string; reason: string; commandId: string };
  /**
   * The resume that lifted it, recorded as `guard_blind_pause_lifted`: an operator's through the API
   * (its command), or one made in CXone's console, seen by a poll (`requestedBy` `outside`). Closed in
   * the trail; kept only so that its streak is not paused again (blindPauseDecision's `pause_lifted`),
   * and forgotten, unrecorded, by the next decision on it.
   */
  liftedBy?: { requestedBy: string; reason: string; commandId?: string };
}

/**
 * The failing polls since the campaign's statistics were last read. It belongs to that read: a
 * successful poll moves the record's `lastStats.at`, and the next failure starts a new streak, so a
 * successful poll writes nothing here.
 */
export interface BlindWatch {
  /** The record's `lastStats.at` when the streak began (null: never read). */
  okAt: string | null;
  /** The streak's first failure (epoch ms): blind since then when the statistics were never read. */
  sinceMs: number;
  failedPolls: number;
  lastError: PollErrorSummary;
  /** The blind pause issued, kept across streaks until a successful poll of the paused campaign decides on it. */
  pause?: BlindPause;
  /** The poll job (scheduler tick) whose failure was counted last: its re-runs count with it. */
  tick?: string;
}

/** Failed polls in a streak before it pauses: one failure after a poll interval the budget stretched past the span is a blip. */
export const BLIND_MIN_FAILED_POLLS = 2;

/**
 * The wait after a blind pause's command failed before it is issued again, doubling with each reissue
 * up to the blind span. A command fails at once when CXone refuses the credentials (not retried):
 * issued again on every failing poll, each tick of such an outage wrote a command and a record.
 */
export const BLIND_REISSUE_WAIT_MS = 30_000;

export function summarizePollError(err: unknown): PollErrorSummary {
  if (isCxoneError(err)) {
    return { kind: err.kind, ...(err.status !== undefined ? { status: err.status } : {}) };
  }
  const code = (err as { code?: unknown } | null)?.code;
  return { kind: 'other', ...(typeof code === 'string' ? { code } : {}) };
}

/**
 * The watch after one more failed poll, `okAt` being the record's `lastStats.at` now. `retry`: a
 * BullMQ retry of a tick already counted (a second from its first attempt): the tick is one failed
 * poll, else one 503 burst and its retry were two, and a campaign polled less often than the span (a
 * large fleet's share of the stats budget) was paused for a blip. `tick`, the poll job's id, tells a
 * re-run the attempt number does not: a 429 puts the job back without spending an attempt, so its
 * re-run a Retry-After later is attempt 1 again.
 */
export function noteFailedPoll(
  prev: BlindWatch | undefined,
  okAt: string | null,
  nowMs: number,
  error: PollErrorSummary,
  retry = false,
  tick?: string,
): BlindWatch {
  const ticked = tick !== undefined ? { tick } : {};
  if (prev && prev.okAt === okAt) {
    const again = retry || (tick !== undefined && prev.tick === tick);
    return { ...prev, failedPolls: prev.failedPolls + (again ? 0 : 1), lastError: error, ...ticked };
  }
  return {
    okAt,
    sinceMs: nowMs,
    failedPolls: 1,
    lastError: error,
    ...(prev?.pause ? { pause: prev.pause } : {}),
    ...ticked,
  };
}

/** Since when the guard has been blind: the last read, or the first failure when there was none. */
export function blindSinceMs(watch: BlindWatch): number {
  const okMs = watch.okAt === null ? Number.NaN : Date.parse(watch.okAt);
  return Number.isFinite(okMs) ? okMs : watch.sinceMs;
}

export type BlindPauseDecision =
  | { kind: 'pause'; blindForMs: number; reissued?: { failedCommandId: string; reissues: number } }
  | {
      kind: 'none';
      why:
        'not_active' | 'ended' | 'window' | 'not_yet' | 'pause_on_its_way' | 'pause_lifted' | 'reissue_wait';
    };

/**
 * Whether a failed poll pauses the campaign. Only an active campaign in its calling window that no
 * pause of the window holds: a campaign paused (by an operator, the guard, the window) is not dialing,
 * and one outside its window is the window's to pause, on its own schedule. One blind pause per
 * streak: a pause on its way is waited for, one that failed for good (CXone refused it, a conflict) is
 * issued again, and one that went through and was resumed since (by an operator, or in CXone's
 * console, read back by a sync) was lifted by that person's decision, not paused again until the
 * statistics have come back once.
 */
export function blindPauseDecision(input: {
  watch: BlindWatch;
  nowMs: number;
  afterMs: number;
  /** The campaign's status as the orchestrator last knew it. */
  status: string;
  ended: boolean;
  withinWindow: boolean;
  /** The window holds a pause of the campaign (issued, landed, or being verified). */
  windowPaused: boolean;
  /** The status of `watch.pause`'s command, undefined when there is none or its record expired. */
  pauseCommand: CommandStatus | undefined;
  /** When that command finished (epoch ms), when it has. */
  pauseFinishedAtMs?: number | undefined;
}): BlindPauseDecision {
  const { watch } = input;
  if (input.ended) return { kind: 'none', why: 'ended' };
  if (input.status !== 'active') return { kind: 'none', why: 'not_active' };
  if (!input.withinWindow || input.windowPaused) return { kind: 'none', why: 'window' };
  const blindForMs = input.nowMs - blindSinceMs(watch);
  if (blindForMs < input.afterMs || watch.failedPolls < BLIND_MIN_FAILED_POLLS) {
    return { kind: 'none', why: 'not_yet' };
  }
  const pause = watch.pause;
  if (!pause) return { kind: 'pause', blindForMs };
  if (input.pauseCommand === 'failed' || input.pauseCommand === 'conflict') {
    // A conflict is someone's change in between, issued again at once; a failure waits (BLIND_REISSUE_WAIT_MS).
    const reissues = pause.reissues ?? 0;
    const waitMs = Math.min(input.afterMs, BLIND_REISSUE_WAIT_MS * 2 ** reissues);
    const failedAt = input.pauseFinishedAtMs;
    if (input.pauseCommand === 'failed' && failedAt !== undefined && input.nowMs - failedAt < waitMs) {
      return { kind: 'none', why: 'reissue_wait' };
    }
    return {
      kind: 'pause',
      blindForMs,
      reissued: { failedCommandId: pause.commandId, reissues: reissues + 1 },
    };
  }
  if (input.pauseCommand === 'succeeded') {
    // Went through and the campaign is dialing again: someone resumed it. In this streak that was
    // their decision; a pause of an earlier streak (resumed while the statistics were being read) is
    // spent, and this blindness is a new one.
    return pause.okAt === watch.okAt ? { kind: 'none', why: 'pause_lifted' } : { kind: 'pause', blindForMs };
  }
  // Queued or running (or its record gone, a week on: too old to tell).
  return { kind: 'none', why: 'pause_on_its_way' };
}

/** Why a blind pause is not lifted when the statistics come back. */
export type BlindKeptReason =
  'ended' | 'not_paused_by_it' | 'overtaken' | 'changed_in_cxone' | 'window_paused' | 'over_cap';

export type BlindResumeDecision =
  { kind: 'resume' } | { kind: 'keep'; reason: BlindKeptReason; note: string };

/**
 * What the first successful poll of the paused campaign after a blind pause does with it. Resumed only
 * when the pause is still the campaign's last word — it went through, no command of someone else's
 * changed the status since (no operator resumed, paused or stopped it), nothing was changed in CXone's
 * console since (this poll re-read no newer version), its window is open and holds no pause of its
 * own — and the period's rate, measured on the statistics just read, is under the cap. Otherwise it
 * stays paused, and the record says why. `wait`: the pause's command has not finished yet.
 */
export function blindResumeDecision(input: {
  pause: Pick<BlindPause, 'overtakenBy'>;
  pauseCommand: CommandStatus | undefined;
  /**
   * The pause's command wrote the paused status itself. One that succeeded finding the campaign
   * already paused (someone else's pause landed first: the lifecycle counts that as done) paused
   * nothing, and that pause is not its to lift.
   */
  pauseWroteStatus: boolean;
  ended: boolean;
  /**
   * The campaign changed since the blind pause left it: this poll found a version newer than the
   * record's (and re-read it), or statistics of a version newer than the one the pause left (a change
   * another read synced into the record first, a resume and a pause in CXone's console, say).
   */
  changedOutside: boolean;
  withinWindow: boolean;
  windowPaused: boolean;
  /** The period's rate on these statistics (null: no live answer yet) and the cap. */
  rate: number | null;
  cap: number;
}): BlindResumeDecision | { kind: 'wait' } {
  const keep = (reason: BlindKeptReason, note: string): BlindResumeDecision => ({
    kind: 'keep',
    reason,
    note,
  });
  if (input.ended) return keep('ended', 'the campaign ended');
  if (input.pauseCommand !== undefined && !['succeeded', 'failed', 'conflict'].includes(input.pauseCommand)) {
    return { kind: 'wait' };
  }
  if (input.pauseCommand !== 'succeeded') {
    return keep('not_paused_by_it', 'the blind pause did not go through: someone else paused the campaign');
  }
  if (!input.pauseWroteStatus) {
    return keep(
      'not_paused_by_it',
      'the blind pause found the campaign already paused (someone else’s pause, or its own write whose answer was lost): it lifts no pause it did not write',
    );
  }
  const by = input.pause.overtakenBy;
  if (by)
    return keep('overtaken', `${by.actor} changed its status since (${by.reason}, command ${by.commandId})`);
  if (input.changedOutside) {
    return keep(
      'changed_in_cxone',
      'the campaign was changed since the blind pause (a newer CXone version); that change stands',
    );
  }
  if (input.windowPaused) return keep('window_paused', 'the calling window holds a pause of the campaign');
  // Outside its window nothing may dial, and the window resumes only the pauses it made: kept now, the
  // pause would be forgotten and the campaign left paused through every open after. Decided at the open.
  if (!input.withinWindow) return { kind: 'wait' };
  if (input.rate !== null && input.rate >= input.cap) {
    return keep('over_cap', 'the period’s abandonment rate is at or over the cap');
  }
  return { kind: 'resume' };
}
