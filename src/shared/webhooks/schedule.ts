import type { JobsOptions } from 'bullmq';

/**
 * Delay before each retry of a webhook delivery, after the first attempt fails: immediately, 5 s,
 * 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (the Standard Webhooks schedule). With the first attempt that
 * makes nine attempts over about 28 hours, long enough to ride out a receiver's bad day.
 */
export const DEFAULT_RETRY_SCHEDULE_MS: readonly number[] = [
  0,
  5_000,
  5 * 60_000,
  30 * 60_000,
  2 * 3_600_000,
  5 * 3_600_000,
  10 * 3_600_000,
  10 * 3_600_000,
];

/** Name of the worker's custom BullMQ backoff strategy for webhook jobs. */
export const WEBHOOK_BACKOFF_TYPE = 'webhook-schedule';

/** Jitter spreads retries of events that failed together so a recovering receiver is not stampeded. */
export const DEFAULT_JITTER_RATIO = 0.2;

/** A Retry-After beyond this is treated as this (a receiver cannot park an event for days). */
export const MAX_RETRY_AFTER_MS = 24 * 3_600_000;

/**
 * Delay before retry number `retry` (1-based: 1 = the retry after the first failed attempt).
 * A receiver's Retry-After, when it sent one, is a floor: the retry waits at least as long as asked
 * (plus a small jitter, never earlier), and never less than the schedule's own delay. Replacing the
 * schedule outright let a `Retry-After: 1` — what proxies and maintenance pages often send — spend
 * all nine attempts in about ten seconds, dead-lettering every event of a receiver that is down for
 * hours, which is what the 28-hour schedule exists to ride out.
 */
export function retryDelayMs(input: {
  retry: number;
  schedule?: readonly number[];
  retryAfterMs?: number | undefined;
  jitterRatio?: number;
  random?: () => number;
}): number {
  const schedule = input.schedule ?? DEFAULT_RETRY_SCHEDULE_MS;
  const jitterRatio = input.jitterRatio ?? DEFAULT_JITTER_RATIO;
  const random = input.random ?? Math.random;
  const jitter = random();
  const base = schedule[Math.min(Math.max(input.retry - 1, 0), schedule.length - 1)] ?? 0;
  const scheduled = Math.max(0, Math.round(base * (1 + jitterRatio * (2 * jitter - 1))));
  if (input.retryAfterMs === undefined) return scheduled;
  const asked = Math.min(Math.max(input.retryAfterMs, 0), MAX_RETRY_AFTER_MS);
  return Math.max(scheduled, Math.round(asked + asked * jitterRatio * 0.5 * jitter));
}

/** Job options for a webhook delivery: same id as the event, one attempt per schedule step, bounded history. */
export function webhookJobOptions(
  eventId: string,
  schedule: readonly number[] = DEFAULT_RETRY_SCHEDULE_MS,
): JobsOptions {
  return {
    jobId: eventId,
    attempts: schedule.length + 1,
    backoff: { type: WEBHOOK_BACKOFF_TYPE },
    removeOnComplete: { count: 1000, age: 24 * 3600 },
    removeOnFail: { count: 5000, age: 7 * 24 * 3600 },
  };
}
