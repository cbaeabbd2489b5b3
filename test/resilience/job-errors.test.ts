import { DelayedError, type Job, type Queue, RateLimitError, UnrecoverableError } from 'bullmq';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CxoneNotFoundError, CxoneRateLimitError, CxoneUnavailableError } from '../../src/shared/errors.js';
import { LimiterClosedError } from '../../src/shared/limiter/types.js';
import { silentLogger } from '../../src/shared/logger.js';
import {
  failedForStallLimit,
  isLastAttempt,
  putBackIfInterrupted,
  rethrowForBullmq,
  thrownOutcome,
} from '../../src/workers/job-errors.js';

const ctx = { logger: silentLogger };
const job = {
  id: '1',
  name: 'poll',
  attemptsMade: 0,
  attemptsStarted: 1,
  opts: { attempts: 3 },
} as unknown as Job;

function fakeQueue(rateLimit: (ms: number) => Promise<void>) {
  const limits: number[] = [];
  const queue = {
    name: 'poll',
    rateLimit: async (ms: number) => {
      limits.push(ms);
      return rateLimit(ms);
    },
  } as unknown as Queue;
  return { queue, limits };
}

describe('rethrowForBullmq', () => {
  it('stores the queue-wide pause for the Retry-After, then throws RateLimitError', async () => {
    const { queue, limits } = fakeQueue(async () => undefined);
    const err = new CxoneRateLimitError({ endpoint: 'GET /x' }, 2_500);
    await expect(rethrowForBullmq(err, job, queue, ctx)).rejects.toBeInstanceOf(RateLimitError);
    expect(limits).toEqual([2_500]);
  });

  it('falls back to an ordinary retry when the pause cannot be stored', async () => {
    const { queue } = fakeQueue(async () => {
      throw new Error('Redis down');
    });
    const err = new CxoneRateLimitError({ endpoint: 'GET /x' }, 2_500);
    await expect(rethrowForBullmq(err, job, queue, ctx)).rejects.toBe(err);
  });

  it('rethrows transient errors unchanged so BullMQ backs off', async () => {
    const { queue, limits } = fakeQueue(async () => undefined);
    const err = new CxoneUnavailableError('503', { endpoint: 'GET /x', status: 503 });
    await expect(rethrowForBullmq(err, job, queue, ctx)).rejects.toBe(err);
    await expect(rethrowForBullmq('a string', job, queue, ctx)).rejects.toThrow('a string');
    expect(limits).toEqual([]);
  });

  it('says a transient failure on the last attempt has failed the job, not that it will be retried', async () => {
    const lines: Array<{ fields: Record<string, unknown>; msg: string }> = [];
    const logger = {
      ...silentLogger,
      warn: (fields: Record<string, unknown>, msg: string) => void lines.push({ fields, msg }),
    } as unknown as typeof silentLogger;
    const { queue } = fakeQueue(async () => undefined);
    const err = new CxoneUnavailableError('503', { endpoint: 'GET /x', status: 503 });
    const attempt = (made: number) => ({ ...job, attemptsMade: made, attemptsStarted: made + 1 }) as Job;

    await expect(rethrowForBullmq(err, attempt(1), queue, { logger })).rejects.toBe(err);
    await expect(rethrowForBullmq(err, attempt(2), queue, { logger })).rejects.toBe(err);

    expect(lines.map((l) => [l.fields.attempt, l.msg])).toEqual([
      [2, 'transient failure; the job will be retried with backoff'],
      [3, 'transient failure on the last attempt; the job has failed (failed set)'],
    ]);
    expect(lines[0]!.fields.delayMs).toEqual(expect.any(Number));
    expect(lines[1]!.fields).not.toHaveProperty('delayMs');
  });

  it('turns permanent errors into UnrecoverableError carrying the fix', async () => {
    const { queue } = fakeQueue(async () => undefined);
    const err = new CxoneNotFoundError({
      endpoint: 'GET /api/v2/campaigns/:id',
      campaignId: 'c-7',
      status: 404,
    });
    const thrown = await rethrowForBullmq(err, job, queue, ctx).catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(UnrecoverableError);
    expect((thrown as Error).message).toMatch(/c-7.*no longer exists/);
  });

  it('passes BullMQ control errors through', async () => {
    const { queue } = fakeQueue(async () => undefined);
    for (const err of [new UnrecoverableError('x'), new DelayedError(), new RateLimitError()]) {
      await expect(rethrowForBullmq(err, job, queue, ctx)).rejects.toBe(err);
    }
  });
});

describe("thrownOutcome (the job duration metric's label for a run that threw)", () => {
  it('counts a job put back to run later as delayed, and only real failures as failed', () => {
    // A scheduled launch's next look, a window job's next transition, a queue-wide rate limit.
    expect(thrownOutcome(new DelayedError())).toBe('delayed');
    expect(thrownOutcome(new RateLimitError())).toBe('delayed');
    // From another copy of bullmq (instanceof fails): recognised by name.
    expect(thrownOutcome(Object.assign(new Error('x'), { name: 'DelayedError' }))).toBe('delayed');
    expect(thrownOutcome(Object.assign(new Error('x'), { name: 'RateLimitError' }))).toBe('delayed');
    // CXone's 429 as such is what BullMQ retries as a failure (spending an attempt); where
    // rethrowForBullmq turned it into a queue rate limit, that RateLimitError is what is labelled.
    expect(thrownOutcome(new CxoneRateLimitError({ endpoint: 'GET /x' }, 1_000))).toBe('failed');
    expect(thrownOutcome(new UnrecoverableError('bad payload'))).toBe('failed');
    expect(thrownOutcome(new CxoneUnavailableError('503', { endpoint: 'GET /x', status: 503 }))).toBe(
      'failed',
    );
    expect(thrownOutcome(new Error('boom'))).toBe('failed');
  });
});

describe('putBackIfInterrupted (a run this shutdown stopped goes back without spending an attempt)', () => {
  /** A job that records the moves to delayed it is asked for. */
  const movable = () => {
    const moves: Array<string | undefined> = [];
    const j = {
      ...job,
      queueName: 'poll',
      moveToDelayed: async (_at: number, token?: string) => void moves.push(token),
    } as unknown as Job;
    return { j, moves };
  };

  it('moves an interrupted run back with its token, then throws DelayedError', async () => {
    const { j, moves } = movable();
    await expect(
      putBackIfInterrupted(new LimiterClosedError(), j, 'tok', silentLogger),
    ).rejects.toBeInstanceOf(DelayedError);
    expect(moves).toEqual(['tok']);
  });

  it('leaves every other failure to BullMQ: a 5xx, a 429, a bug spend their attempt as usual', async () => {
    const { j, moves } = movable();
    const { queue } = fakeQueue(async () => undefined);
    const unavailable = new CxoneUnavailableError('503', { endpoint: 'GET /x', status: 503 });
    await expect(putBackIfInterrupted(unavailable, j, 'tok', silentLogger)).resolves.toBeUndefined();
    await expect(putBackIfInterrupted(new Error('bug'), j, 'tok', silentLogger)).resolves.toBeUndefined();
    // Through rethrowForBullmq with the run's token, as the processors call it.
    await expect(rethrowForBullmq(unavailable, j, queue, ctx, 'tok')).rejects.toBe(unavailable);
    expect(moves).toEqual([]);
  });

  it("without the run's token (BullMQ would refuse the move) fails the run as before", async () => {
    const { j, moves } = movable();
    const { queue } = fakeQueue(async () => undefined);
    const err = new LimiterClosedError();
    await expect(putBackIfInterrupted(err, j, undefined, silentLogger)).resolves.toBeUndefined();
    await expect(rethrowForBullmq(err, j, queue, ctx)).rejects.toBe(err);
    expect(moves).toEqual([]);
  });
});

describe('rethrowForBullmq on control errors and repeated 429s', () => {
  afterEach(() => vi.restoreAllMocks());

  it('passes a control error of another copy of bullmq through (recognised by name), not as a failure', async () => {
    const { queue, limits } = fakeQueue(async () => undefined);
    const warned: string[] = [];
    const logger = {
      ...silentLogger,
      warn: (_fields: unknown, msg: string) => void warned.push(msg),
    } as unknown as typeof silentLogger;
    const foreign = Object.assign(new Error('moved'), { name: 'DelayedError' });
    await expect(rethrowForBullmq(foreign, job, queue, { logger }, 'tok')).rejects.toBe(foreign);
    expect(limits).toEqual([]);
    // Not logged as a transient failure to be retried: BullMQ only delayed the job.
    expect(warned).toEqual([]);
  });

  it('backs off further on each 429 without Retry-After, counted by attemptsStarted (attemptsMade stays)', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.999);
    const { queue, limits } = fakeQueue(async () => undefined);
    const err = new CxoneRateLimitError({ endpoint: 'GET /x' }, undefined);
    const started = (n: number) => ({ ...job, attemptsMade: 0, attemptsStarted: n }) as Job;
    await expect(rethrowForBullmq(err, started(1), queue, ctx)).rejects.toBeInstanceOf(RateLimitError);
    await expect(rethrowForBullmq(err, started(4), queue, ctx)).rejects.toBeInstanceOf(RateLimitError);
    expect(limits[1]!).toBeGreaterThan(limits[0]! * 4);
  });
});

describe('isLastAttempt', () => {
  const transient = { kind: 'transient', delayMs: 1, reason: 'x' } as const;
  it('gives up at once on a permanent failure, whatever attempts are left', () => {
    expect(
      isLastAttempt({ kind: 'permanent', message: 'x' }, { attemptsMade: 0, opts: { attempts: 10 } }),
    ).toBe(true);
  });

  it('counts a job added without attempts as having one', () => {
    expect(isLastAttempt(transient, { attemptsMade: 0, opts: {} })).toBe(true);
    expect(isLastAttempt(transient, { attemptsMade: 0, opts: { attempts: 2 } })).toBe(false);
  });
});

describe('failedForStallLimit', () => {
  const limit = 'job stalled more than allowable limit';
  it("is BullMQ's own failure only when the error is the job's deferred failure", () => {
    expect(failedForStallLimit({ deferredFailure: limit }, new Error(limit))).toBe(true);
    // A run that failed on its own, on a job that once stalled: its failure is its own.
    expect(failedForStallLimit({ deferredFailure: limit }, new Error('503 from CXone'))).toBe(false);
    expect(failedForStallLimit({ deferredFailure: '' }, new Error(limit))).toBe(false);
    expect(failedForStallLimit(undefined, new Error(limit))).toBe(false);
  });
});
