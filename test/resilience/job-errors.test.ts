import { DelayedError, type Job, type Queue, RateLimitError, UnrecoverableError } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { CxoneNotFoundError, CxoneRateLimitError, CxoneUnavailableError } from '../../src/shared/errors.js';
import { silentLogger } from '../../src/shared/logger.js';
import { rethrowForBullmq, thrownOutcome } from '../../src/workers/job-errors.js';

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
