import { describe, expect, it } from 'vitest';
import { classifyDelivery } from '../../src/shared/webhooks/outcome.js';
import {
  DEFAULT_RETRY_SCHEDULE_MS,
  MAX_RETRY_AFTER_MS,
  retryDelayMs,
  webhookJobOptions,
} from '../../src/shared/webhooks/schedule.js';
import { WebhookRetryError, webhookBackoffStrategy } from '../../src/workers/webhook-worker.js';

const NOW = Date.parse('2026-01-01T00:00:00Z');

describe('classifyDelivery', () => {
  it('treats only 2xx as delivered', () => {
    expect(classifyDelivery({ status: 200 }, NOW)).toEqual({ kind: 'delivered' });
    expect(classifyDelivery({ status: 204 }, NOW)).toEqual({ kind: 'delivered' });
    expect(classifyDelivery({ status: 301 }, NOW)).toEqual({ kind: 'dead', cause: 'redirect' });
  });

  it('disables on 410 and dead-letters other 4xx', () => {
    expect(classifyDelivery({ status: 410 }, NOW)).toEqual({ kind: 'disable' });
    for (const status of [400, 401, 403, 404, 413, 422]) {
      expect(classifyDelivery({ status }, NOW)).toEqual({ kind: 'dead', cause: 'rejected' });
    }
  });

  it('retries 429/502/503/504 with Retry-After, other 5xx and network errors on the schedule', () => {
    expect(classifyDelivery({ status: 429, retryAfter: '7' }, NOW)).toEqual({
      kind: 'retry',
      cause: 'rate_limited',
      retryAfterMs: 7000,
    });
    expect(classifyDelivery({ status: 503, retryAfter: 'Thu, 01 Jan 2026 00:00:30 GMT' }, NOW)).toEqual({
      kind: 'retry',
      cause: 'unavailable',
      retryAfterMs: 30_000,
    });
    expect(classifyDelivery({ status: 502 }, NOW)).toEqual({ kind: 'retry', cause: 'unavailable' });
    expect(classifyDelivery({ status: 500, retryAfter: '5' }, NOW)).toEqual({
      kind: 'retry',
      cause: 'server_error',
    });
    expect(classifyDelivery({}, NOW)).toEqual({ kind: 'retry', cause: 'network_error' });
  });

  it('retries 408 Request Timeout: the request did not reach the receiver in time, a retry can', () => {
    // Load balancers and servers answer 408 for a request body that arrived too slowly: nothing was
    // wrong with the event, so dead-lettering it at once lost an event a retry would have delivered.
    expect(classifyDelivery({ status: 408 }, NOW)).toEqual({ kind: 'retry', cause: 'unavailable' });
    expect(classifyDelivery({ status: 408, retryAfter: '3' }, NOW)).toEqual({
      kind: 'retry',
      cause: 'unavailable',
      retryAfterMs: 3000,
    });
  });

  it('reads Retry-After with the shared parser: fractions, past dates, garbage', () => {
    const retry = (retryAfter: string) => classifyDelivery({ status: 503, retryAfter }, NOW);
    expect(retry(' 2.5 ')).toEqual({ kind: 'retry', cause: 'unavailable', retryAfterMs: 2500 });
    expect(retry('Wed, 31 Dec 2025 23:00:00 GMT')).toEqual({
      kind: 'retry',
      cause: 'unavailable',
      retryAfterMs: 0,
    });
    for (const garbage of ['-3', 'soon', '']) {
      expect(retry(garbage)).toEqual({ kind: 'retry', cause: 'unavailable' });
    }
  });
});

describe('retry schedule', () => {
  it('follows immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h over nine attempts', () => {
    const mid = () => 0.5; // no jitter at the midpoint
    const delays = Array.from({ length: 8 }, (_, i) => retryDelayMs({ retry: i + 1, random: mid }));
    expect(delays).toEqual([0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000]);
    expect(webhookJobOptions('evt_1')).toMatchObject({ jobId: 'evt_1', attempts: 9 });
    expect(webhookJobOptions('evt_1', [1, 2])).toMatchObject({ attempts: 3 });
  });

  it('jitters each delay within ±20%', () => {
    expect(retryDelayMs({ retry: 2, random: () => 0 })).toBe(4_000);
    expect(retryDelayMs({ retry: 2, random: () => 1 })).toBe(6_000);
    expect(retryDelayMs({ retry: 1, random: () => 1 })).toBe(0);
  });

  it('takes Retry-After as a floor: never earlier than asked, never shorter than the schedule, capped at 24 h', () => {
    expect(retryDelayMs({ retry: 1, retryAfterMs: 3_000, random: () => 0 })).toBe(3_000);
    expect(retryDelayMs({ retry: 1, retryAfterMs: 3_000, random: () => 1 })).toBe(3_300);
    expect(retryDelayMs({ retry: 1, retryAfterMs: 10 * MAX_RETRY_AFTER_MS, random: () => 0 })).toBe(
      MAX_RETRY_AFTER_MS,
    );
    // A proxy's "Retry-After: 1" (or 0) must not compress the 28-hour schedule into seconds.
    const mid = () => 0.5;
    const withShortRetryAfter = Array.from({ length: 8 }, (_, i) =>
      retryDelayMs({ retry: i + 1, retryAfterMs: 1_000, random: mid }),
    );
    expect(withShortRetryAfter).toEqual([
      1_050, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
    ]);
    expect(retryDelayMs({ retry: 3, retryAfterMs: 0, random: mid })).toBe(300_000);
  });

  it('the worker backoff strategy reads Retry-After from the failing error', () => {
    const strategy = webhookBackoffStrategy({ retrySchedule: DEFAULT_RETRY_SCHEDULE_MS, random: () => 0.5 });
    expect(strategy(2, 'webhook-schedule', new Error('ECONNREFUSED'))).toBe(5_000);
    expect(strategy(2, 'webhook-schedule', new WebhookRetryError('429', 'evt', 2, 429, 60_000))).toBe(63_000);
    expect(webhookBackoffStrategy({ retrySchedule: [10, 20], random: () => 0.5 })(5)).toBe(20);
  });
});
