import { afterEach, describe, expect, it } from 'vitest';
import { OperatorMetrics, operatorGiveUpReason } from '../../src/shared/limiter/operator-metrics.js';
import {
  LimiterAbortedError,
  LimiterClosedError,
  LimiterUnavailableError,
  LimiterWaitExceededError,
} from '../../src/shared/limiter/types.js';
import type { CxoneEndpoint } from '../../src/shared/cxone/wire.js';
import { limiterFleets, metricValue } from './fleet-helpers.js';

/** The operators' calls' metrics without Redis: what each ending counts as, and in which unit. */
const EP = 'GET /api/v2/test-only/:id';

describe("operators' calls' metrics", () => {
  it('name why a call gave up from the error it ended with, from a fixed set of reasons', () => {
    expect(operatorGiveUpReason(new LimiterWaitExceededError(EP, 1_000, 3_000, 'budget'))).toBe('budget');
    expect(operatorGiveUpReason(new LimiterWaitExceededError(EP, 9_000, 3_000, 'penalty'))).toBe('penalty');
    expect(operatorGiveUpReason(new LimiterUnavailableError(EP))).toBe('redis_unavailable');
    expect(operatorGiveUpReason(new LimiterAbortedError(EP))).toBe('aborted');
    expect(operatorGiveUpReason(new LimiterClosedError())).toBe('closed');
    // Anything else is one bounded value, never the error's own text.
    expect(operatorGiveUpReason(new Error('ECONNRESET 10.0.0.7:6379'))).toBe('error');
    expect(operatorGiveUpReason('thrown string')).toBe('error');
  });

  it('record waits in seconds by path, give-ups by reason and yields, per endpoint', async () => {
    const metrics = new OperatorMetrics(EP);
    const wait = 'cxo_limiter_operator_wait_seconds';
    const ahead = { endpoint: EP, path: 'ahead_of_jobs' };
    metrics.served('ahead_of_jobs', 250);
    metrics.served('ahead_of_jobs', 750);
    metrics.served('share_spent', 2_000);
    metrics.gaveUp(new LimiterWaitExceededError(EP, 1_000, 3_000, 'budget'));
    metrics.gaveUp(new LimiterUnavailableError(EP));
    metrics.yielded();
    metrics.yielded();
    metrics.yielded();

    expect(await metricValue(wait, ahead, 'count')).toBe(2);
    expect(await metricValue(wait, ahead, 'sum')).toBeCloseTo(1, 6);
    expect(await metricValue(wait, { endpoint: EP, path: 'share_spent' }, 'count')).toBe(1);
    const gaveUp = 'cxo_limiter_operator_gave_up_total';
    expect(await metricValue(gaveUp, { endpoint: EP, reason: 'budget' })).toBe(1);
    expect(await metricValue(gaveUp, { endpoint: EP, reason: 'redis_unavailable' })).toBe(1);
    expect(await metricValue(gaveUp, { endpoint: EP })).toBe(2);
    expect(await metricValue('cxo_limiter_operator_yields_total', { endpoint: EP })).toBe(3);
  });
});

describe("an operator's call made after the fleet limiter closed (real Redis)", () => {
  const fleets = limiterFleets('opclosed', 600, 60_000);
  afterEach(() => fleets.close());

  it('is counted as given up (closed); a job refused the same way is not counted', async () => {
    const endpoint = 'PATCH /api/v2/campaigns/:id' as CxoneEndpoint;
    const gaveUp = 'cxo_limiter_operator_gave_up_total';
    const closed = { endpoint, reason: 'closed' };
    const [limiter] = fleets.start(1);
    await limiter!.close();
    const before = await metricValue(gaveUp, closed);
    let called = false;
    const call = () => {
      called = true;
      return Promise.resolve();
    };

    // A shutting-down API still answering a pause: refused before any endpoint limiter saw it.
    await expect(limiter!.schedule(endpoint, 'control', call, { maxWaitMs: 5_000 })).rejects.toBeInstanceOf(
      LimiterClosedError,
    );
    expect(await metricValue(gaveUp, closed)).toBe(before + 1);
    // A control call with no bound (a job's) and a poll are not operators' calls.
    await expect(limiter!.schedule(endpoint, 'control', call)).rejects.toBeInstanceOf(LimiterClosedError);
    await expect(limiter!.schedule(endpoint, 'poll', call, { maxWaitMs: 5_000 })).rejects.toBeInstanceOf(
      LimiterClosedError,
    );
    expect(await metricValue(gaveUp, closed)).toBe(before + 1);
    expect(called).toBe(false);
  });
});
