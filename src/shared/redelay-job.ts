import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';

/**
 * The field of a job's hash in which BullMQ counts the job's stalls (its moveStalledJobsToWait
 * script: `HINCRBY <job key> stc 1`, and the job is failed once the count passes maxStalledCount).
 * BullMQ never resets it; test/e2e/stalls-across-looks.test.ts fails if a BullMQ upgrade renames it.
 */
const STALL_COUNT_FIELD = 'stc';

/**
 * Moves a job that lives as long as its campaign — a scheduled campaign's `activate` job between its
 * looks, a campaign's calling-window job between its transitions — back to delayed after a run that
 * got to its end, and forgets the stalls of its earlier runs.
 *
 * BullMQ counts a job's stalls over its whole life, so three worker crashes that each caught a
 * different run (a look every 2 minutes for weeks, a window job twice a day for months) failed the
 * job for good — "job stalled more than allowable limit" — although every run in between had ended
 * well: a campaign never activated, a window never enforced again. The limit is for a run that
 * keeps killing its workers (maxStalledCount, worker-options.ts); a run that crashes every time never
 * gets here, so its stalls still add up and still fail it.
 *
 * Forgotten only once the job is delayed: a run that lost its lock (another worker took the job
 * over) fails the move and forgets nothing. Best effort: should Redis refuse the second command, the
 * job keeps its count, as before.
 */
export async function redelayAfterRun(job: Job, redis: Redis, atMs: number, token?: string): Promise<void> {
  await job.moveToDelayed(atMs, token);
  await redis.hdel(`${job.queueQualifiedName}:${job.id}`, STALL_COUNT_FIELD).catch(() => 0);
}
