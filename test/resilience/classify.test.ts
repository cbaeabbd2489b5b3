import { UnrecoverableError } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  CxoneAuthError,
  CxoneBadRequestError,
  CxoneConflictError,
  CxoneForbiddenError,
  CxoneMalformedResponseError,
  CxoneNotFoundError,
  CxoneRateLimitError,
  CxoneUnavailableError,
  CxoneValidationError,
  FleetBudgetBusyError,
} from '../../src/shared/errors.js';
import { LimiterClosedError } from '../../src/shared/limiter/types.js';
import { classifyError } from '../../src/shared/retry/classify.js';
import { isLastAttempt } from '../../src/workers/job-errors.js';
import { makeBackoffStrategy } from '../../src/workers/worker-options.js';

const ctx = { endpoint: 'POST /api/v2/campaigns', status: 0 };
const half = () => 0.5;

describe('classifyError', () => {
  it('honours Retry-After on 429 and falls back to jittered backoff without one', () => {
    expect(classifyError(new CxoneRateLimitError(ctx, 4_000))).toMatchObject({
      kind: 'rate_limited',
      delayMs: 4_000,
    });
    const d = classifyError(new CxoneRateLimitError(ctx, undefined), { attempt: 3, random: half });
    expect(d).toMatchObject({ kind: 'rate_limited', delayMs: 2_000 });
    // The fleet's own busy budget (a bounded call's refusal) is re-queued the same way, saying why.
    const busy = classifyError(new FleetBudgetBusyError(ctx, 6_000, 3_000));
    expect(busy).toMatchObject({ kind: 'rate_limited', delayMs: 6_000 });
    expect(busy.kind === 'rate_limited' && busy.reason).toMatch(/fleet's CXone budget/);
  });

  it("takes the limiter closing under a waiting call as this process's shutdown, never a last attempt", () => {
    const decision = classifyError(new LimiterClosedError(), { attempt: 10 });
    expect(decision).toMatchObject({ kind: 'interrupted', delayMs: 0 });
    expect(isLastAttempt(decision, { attemptsMade: 9, opts: { attempts: 10 } })).toBe(false);
  });

  it('retries 5xx, timeouts and resets with backoff', () => {
    expect(classifyError(new CxoneUnavailableError('503', ctx), { attempt: 2, random: half })).toMatchObject({
      kind: 'transient',
      delayMs: 1_000,
    });
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    expect(classifyError(reset)).toMatchObject({ kind: 'transient' });
    expect(classifyError(new Error('something odd'))).toMatchObject({ kind: 'transient' });
  });

  it('never retries 400/401/403/404/409/422 or malformed answers, and says what to fix', () => {
    const cases: Array<[Error, RegExp]> = [
      [
        new CxoneValidationError([{ field: 'name', message: 'required' }], ctx),
        /name: required.*Fix these fields/,
      ],
      [new CxoneBadRequestError(ctx), /check the payload/],
      [new CxoneAuthError('refused', ctx), /CXONE_CLIENT_ID and CXONE_CLIENT_SECRET/],
      [new CxoneForbiddenError(ctx), /grant it in CXone admin/],
      [new CxoneNotFoundError({ ...ctx, campaignId: 'c-9' }), /c-9.*no longer exists/],
      [new CxoneConflictError(ctx, 4), /re-read it/],
      [new CxoneMalformedResponseError(['id: required'], ctx), /CXONE_BASE_URL/],
    ];
    for (const [err, fix] of cases) {
      const d = classifyError(err);
      expect(d.kind).toBe('permanent');
      expect(d.kind === 'permanent' && d.message).toMatch(fix);
    }
  });

  it('treats invalid job data and UnrecoverableError as permanent', () => {
    const zerr = z.object({ campaignId: z.string() }).safeParse({}).error;
    const d = classifyError(zerr);
    expect(d.kind).toBe('permanent');
    expect(d.kind === 'permanent' && d.message).toMatch(/invalid job data: campaignId/);
    expect(classifyError(new UnrecoverableError('nope')).kind).toBe('permanent');
  });
});

describe('worker backoff strategy', () => {
  const strategy = makeBackoffStrategy({ baseMs: 100, capMs: 1_000 }, half);
  it('waits jittered exponential delays for transient errors', () => {
    const err = new CxoneUnavailableError('503', ctx);
    expect([1, 2, 3, 4, 5, 6].map((n) => strategy(n, 'cxone-jitter', err))).toEqual([
      50, 100, 200, 400, 500, 500,
    ]);
  });
  it('waits for Retry-After when a 429 is thrown as-is, and refuses to retry permanent errors', () => {
    expect(strategy(1, 'cxone-jitter', new CxoneRateLimitError(ctx, 3_000))).toBe(3_000);
    expect(strategy(1, 'cxone-jitter', new CxoneValidationError([], ctx))).toBe(-1);
  });
});
