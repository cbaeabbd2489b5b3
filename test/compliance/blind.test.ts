import { describe, expect, it } from 'vitest';
import {
  blindPauseDecision,
  blindResumeDecision,
  noteFailedPoll,
  summarizePollError,
  type BlindWatch,
} from '../../src/shared/compliance/blind.js';
import { CxoneRateLimitError, CxoneUnavailableError } from '../../src/shared/errors.js';

/*
 * The guard's blind pause, decided with no I/O (src/shared/compliance/blind.ts): when failing polls
 * pause an active campaign, and what the first successful poll of it paused then does.
 */
const T0 = Date.parse('2026-03-03T15:00:00Z');
const OK_AT = '2026-03-03T15:00:00.000Z';
const MIN = 60_000;
const err503 = { kind: 'unavailable', status: 503 };

const streak = (failures: number, atMs = T0 + MIN): BlindWatch => {
  let w: BlindWatch | undefined;
  for (let i = 0; i < failures; i++) w = noteFailedPoll(w, OK_AT, atMs, err503);
  return w!;
};

const pauseInput = (over: Partial<Parameters<typeof blindPauseDecision>[0]> = {}) => ({
  watch: streak(3),
  nowMs: T0 + 5 * MIN,
  afterMs: 5 * MIN,
  status: 'active',
  ended: false,
  withinWindow: true,
  windowPaused: false,
  pauseCommand: undefined,
  ...over,
});

describe('failed polls', () => {
  it('count within the streak of one successful read and start again after the next one', () => {
    const a = noteFailedPoll(undefined, OK_AT, T0 + MIN, err503);
    const b = noteFailedPoll(a, OK_AT, T0 + 2 * MIN, { kind: 'rate_limit', status: 429 });
    expect(b).toEqual({
      okAt: OK_AT,
      sinceMs: T0 + MIN,
      failedPolls: 2,
      lastError: { kind: 'rate_limit', status: 429 },
    });
    const pause = {
      commandId: 'c1',
      atMs: T0,
      lastStatsAt: OK_AT,
      failedPolls: 2,
      lastError: err503,
      okAt: OK_AT,
    };
    const after = noteFailedPoll({ ...b, pause }, '2026-03-03T16:00:00.000Z', T0 + 61 * MIN, err503);
    // A new streak, the pause not yet decided on carried into it.
    expect(after).toMatchObject({ failedPolls: 1, sinceMs: T0 + 61 * MIN, pause });
  });

  it('keep the error kind and status, never its message', () => {
    const ctx = { endpoint: 'GET /api/v2/outbound/campaigns/:id/stats', status: 503, campaignId: 'c' };
    expect(summarizePollError(new CxoneUnavailableError('CXone answered 503', ctx))).toEqual({
      kind: 'unavailable',
      status: 503,
    });
    const limited = new CxoneRateLimitError({ ...ctx, status: 429 }, 1_000);
    expect(summarizePollError(limited)).toEqual({ kind: 'rate_limit', status: 429 });
    const reset = Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:443 token=abc'), {
      code: 'ECONNREFUSED',
    });
    expect(summarizePollError(reset)).toEqual({ kind: 'other', code: 'ECONNREFUSED' });
  });
});

describe('blindPauseDecision', () => {
  it('pauses an active campaign in its window once the span since the last read has passed', () => {
    expect(blindPauseDecision(pauseInput({ nowMs: T0 + 5 * MIN - 1 }))).toEqual({
      kind: 'none',
      why: 'not_yet',
    });
    expect(blindPauseDecision(pauseInput())).toEqual({ kind: 'pause', blindForMs: 5 * MIN });
  });

  it('counts a retry of a tick once: the tick is one failed poll', () => {
    const a = noteFailedPoll(undefined, OK_AT, T0 + MIN, err503);
    const retried = noteFailedPoll(a, OK_AT, T0 + MIN + 1_000, err503, true);
    expect(retried).toMatchObject({ failedPolls: 1, sinceMs: T0 + MIN });
    expect(noteFailedPoll(retried, OK_AT, T0 + 2 * MIN, err503)).toMatchObject({ failedPolls: 2 });
    // A retry that opens a streak (its first attempt was not counted) still counts once.
    expect(noteFailedPoll(undefined, OK_AT, T0 + MIN, err503, true)).toMatchObject({ failedPolls: 1 });
    // A 429 puts the job back without spending an attempt: its re-run is attempt 1 again, same job id.
    const t = noteFailedPoll(undefined, OK_AT, T0 + MIN, err503, false, 'repeat:poll:c1:60000');
    const rerun = noteFailedPoll(t, OK_AT, T0 + MIN + 5_000, err503, false, 'repeat:poll:c1:60000');
    expect(rerun).toMatchObject({ failedPolls: 1 });
    expect(noteFailedPoll(rerun, OK_AT, T0 + 2 * MIN, err503, false, 'repeat:poll:c1:120000')).toMatchObject({
      failedPolls: 2,
    });
  });

  it('counts from the first failure when the statistics were never read', () => {
    let w: BlindWatch | undefined;
    for (const at of [T0, T0 + MIN]) w = noteFailedPoll(w, null, at, err503);
    expect(blindPauseDecision(pauseInput({ watch: w!, nowMs: T0 + 4 * MIN }))).toMatchObject({
      why: 'not_yet',
    });
    expect(blindPauseDecision(pauseInput({ watch: w!, nowMs: T0 + 5 * MIN }))).toMatchObject({
      kind: 'pause',
    });
  });

  it('waits for a second failure: one failure after a long poll interval is a blip', () => {
    expect(blindPauseDecision(pauseInput({ watch: streak(1), nowMs: T0 + 20 * MIN }))).toMatchObject({
      why: 'not_yet',
    });
  });

  it('leaves alone a campaign not dialing, ended, outside its window or held by the window', () => {
    expect(blindPauseDecision(pauseInput({ status: 'paused' }))).toMatchObject({ why: 'not_active' });
    expect(blindPauseDecision(pauseInput({ ended: true }))).toMatchObject({ why: 'ended' });
    expect(blindPauseDecision(pauseInput({ withinWindow: false }))).toMatchObject({ why: 'window' });
    expect(blindPauseDecision(pauseInput({ windowPaused: true }))).toMatchObject({ why: 'window' });
  });

  it('waits for its pause on its way, issues one that failed again, and does not repeat a lifted one', () => {
    const pause = {
      commandId: 'p1',
      atMs: T0,
      lastStatsAt: OK_AT,
      failedPolls: 2,
      lastError: err503,
      okAt: OK_AT,
    };
    const watch = { ...streak(4), pause };
    expect(blindPauseDecision(pauseInput({ watch, pauseCommand: 'queued' }))).toMatchObject({
      why: 'pause_on_its_way',
    });
    expect(blindPauseDecision(pauseInput({ watch, pauseCommand: 'failed' }))).toEqual({
      kind: 'pause',
      blindForMs: 5 * MIN,
      reissued: { failedCommandId: 'p1', reissues: 1 },
    });
    // Failed at once (CXone refusing the credentials): issued again 30 s after, then 60 s after the
    // next failure, …, never more than the span apart; a conflict (someone's change) at once.
    const failedAt = (ago: number) => ({
      pauseCommand: 'failed' as const,
      pauseFinishedAtMs: T0 + 5 * MIN - ago,
    });
    expect(blindPauseDecision(pauseInput({ watch, ...failedAt(29_000) }))).toMatchObject({
      why: 'reissue_wait',
    });
    expect(blindPauseDecision(pauseInput({ watch, ...failedAt(30_000) }))).toMatchObject({ kind: 'pause' });
    const third = { ...watch, pause: { ...pause, reissues: 2 } };
    expect(blindPauseDecision(pauseInput({ watch: third, ...failedAt(119_000) }))).toMatchObject({
      why: 'reissue_wait',
    });
    expect(blindPauseDecision(pauseInput({ watch: third, ...failedAt(120_000) }))).toMatchObject({
      reissued: { reissues: 3 },
    });
    const many = { ...watch, pause: { ...pause, reissues: 9 } };
    expect(blindPauseDecision(pauseInput({ watch: many, ...failedAt(5 * MIN) }))).toMatchObject({
      kind: 'pause',
    });
    expect(
      blindPauseDecision(pauseInput({ watch, pauseCommand: 'conflict', pauseFinishedAtMs: T0 + 5 * MIN })),
    ).toMatchObject({ kind: 'pause' });
    // Went through, and the campaign dials again: someone resumed it in this streak.
    expect(blindPauseDecision(pauseInput({ watch, pauseCommand: 'succeeded' }))).toMatchObject({
      why: 'pause_lifted',
    });
    // A pause of an earlier streak is spent: this blindness is a new one.
    const earlier = { ...watch, pause: { ...pause, okAt: '2026-03-03T14:00:00.000Z' } };
    expect(blindPauseDecision(pauseInput({ watch: earlier, pauseCommand: 'succeeded' }))).toMatchObject({
      kind: 'pause',
    });
  });
});

describe('blindResumeDecision', () => {
  const input = (over: Partial<Parameters<typeof blindResumeDecision>[0]> = {}) => ({
    pause: {},
    pauseCommand: 'succeeded' as const,
    pauseWroteStatus: true,
    ended: false,
    changedOutside: false,
    withinWindow: true,
    windowPaused: false,
    rate: 0.01,
    cap: 0.03,
    ...over,
  });

  it('resumes a campaign paused by it alone, in its window, under the cap', () => {
    expect(blindResumeDecision(input())).toEqual({ kind: 'resume' });
    expect(blindResumeDecision(input({ rate: null }))).toEqual({ kind: 'resume' });
  });

  it('waits for a pause still on its way, and for the window to open', () => {
    expect(blindResumeDecision(input({ pauseCommand: 'running' }))).toEqual({ kind: 'wait' });
    expect(blindResumeDecision(input({ withinWindow: false }))).toEqual({ kind: 'wait' });
  });

  it.each([
    [{ ended: true }, 'ended'],
    [{ pauseCommand: 'failed' as const }, 'not_paused_by_it'],
    [{ pauseWroteStatus: false }, 'not_paused_by_it'],
    [{ pause: { overtakenBy: { actor: 'api:ops', reason: 'operator', commandId: 'x' } } }, 'overtaken'],
    [{ changedOutside: true }, 'changed_in_cxone'],
    [{ windowPaused: true }, 'window_paused'],
    [{ rate: 0.03 }, 'over_cap'],
  ])('keeps it paused when %j (%s)', (over, reason) => {
    expect(blindResumeDecision(input(over))).toMatchObject({ kind: 'keep', reason });
  });
});
