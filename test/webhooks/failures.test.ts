import type { ServerResponse } from 'node:http';
import type { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { createEventPublisher } from '../../src/shared/events/publisher.js';
import { silentLogger } from '../../src/shared/logger.js';
import { jobDuration, webhookOutcomes } from '../../src/shared/metrics.js';
import { deliverOnce } from '../../src/shared/webhooks/deliver.js';
import { webhookJobOptions } from '../../src/shared/webhooks/schedule.js';
import {
  countSend,
  deadLetterUndecided,
  listDeadLetters,
  markDelivered,
  recordAttempt,
} from '../../src/shared/webhooks/store.js';
import { webhookPendingKey } from '../../src/shared/webhooks/pending.js';
import { Receiver, startHarness, waitFor, type Harness, cleanupsAfterEach } from './harness.js';

/**
 * Every delivery job ends with an outcome on its event: delivered or dead-lettered, never `pending`
 * with no job left to change it, whatever failed it.
 */

const cleanups = cleanupsAfterEach();

async function setup(schedule: number[]): Promise<{ h: Harness; receiver: Receiver }> {
  const receiver = await new Receiver().start();
  const h = await startHarness(receiver.url, { retrySchedule: schedule });
  cleanups.push(
    () => receiver.stop(),
    () => h.close(),
  );
  return { h, receiver };
}

/** Every run counted, whatever its outcome. */
async function allOutcomes(): Promise<number> {
  return (await webhookOutcomes.get()).values.reduce((sum, v) => sum + v.value, 0);
}

/** Processor runs of webhook jobs that have ended (the stall limit's failure runs no processor). */
async function webhookRuns(): Promise<number> {
  return (await jobDuration.get()).values
    .filter((v) => v.metricName?.endsWith('_count') && v.labels.queue === 'webhook')
    .reduce((sum, v) => sum + v.value, 0);
}

async function outcomeCount(outcome: string): Promise<number> {
  return (await webhookOutcomes.get()).values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
}

/** An event stored as `pending` whose job was never added (the publisher's enqueue failed). */
async function orphan(h: Harness, campaignId: string) {
  const failing = createEventPublisher({
    redis: h.redis,
    keys: h.keys,
    logger: silentLogger,
    webhookQueue: {
      add: () => Promise.reject(new Error('connection lost')),
    } as unknown as Queue,
    enabled: true,
  });
  await expect(failing.publish('campaign.state.changed', campaignId, { to: 'paused' })).rejects.toThrow(
    'connection lost',
  );
  const [entry] = await h.events.recent(1, campaignId);
  return entry!;
}

describe('webhook jobs that fail unexpectedly', () => {
  it('returns a secret that cannot sign as a failed attempt instead of throwing', async () => {
    const attempt = await deliverOnce({
      url: 'http://127.0.0.1:9/hook',
      secret: 'whsec_',
      eventId: 'evt_nosign',
      body: '{}',
      nowMs: Date.now(),
    });
    expect(attempt).toMatchObject({ error: expect.stringContaining('empty key') });
    expect(attempt.status).toBeUndefined();
  });

  it('dead-letters the event on the last attempt of any error, audits it and counts every run', async () => {
    const { h, receiver } = await setup([0, 20]);
    const errorsBefore = await outcomeCount('error');
    // Any error the worker did not decide on: here reading the destination throws on every run.
    Object.defineProperty(h.ctx.config, 'webhook', {
      get() {
        throw new Error('configuration exploded');
      },
    });
    const e = await h.events.publish('campaign.state.changed', 'camp-err', { to: 'paused' });
    await waitFor(async () => (await listDeadLetters(h)).length === 1, 10_000, 'dead letter');
    const [letter] = await listDeadLetters(h);
    expect(letter).toMatchObject({
      eventId: e.id,
      reason: 'exhausted',
      attempts: 3,
      error: 'configuration exploded',
    });
    expect(await h.redis.hget(h.keys.webhookEvent(e.id), 'state')).toBe('dead');
    await waitFor(async () => (await h.audit.list('camp-err')).length > 0, 10_000, 'audit record');
    expect(await h.audit.list('camp-err')).toEqual([
      expect.objectContaining({
        action: 'webhook_failure',
        details: expect.objectContaining({ eventId: e.id, reason: 'exhausted' }),
      }),
    ]);
    await waitFor(
      async () => (await outcomeCount('error')) - errorsBefore === 3,
      5_000,
      'three runs counted',
    );
    expect(await h.queue.getJob(e.id).then((j) => j?.getState())).toBe('failed');
    expect(receiver.received).toHaveLength(0);
  });

  it('dead-letters an event whose job BullMQ fails for its stall limit, without running the processor', async () => {
    const { h, receiver } = await setup([0]);
    const e = await orphan(h, 'camp-stall');
    const errorsBefore = await outcomeCount('error');
    // What BullMQ 6 leaves on a job that stalled more than maxStalledCount times: a deferred failure,
    // applied by the next worker that takes the job, which fails it without calling the processor.
    await h.queue.add(e.type, { eventId: e.id }, { ...webhookJobOptions(e.id, [0]), delay: 300 });
    await h.redis.hset(h.queue.toKey(e.id), 'defa', 'job stalled more than allowable limit');
    await waitFor(async () => (await listDeadLetters(h)).length === 1, 10_000, 'dead letter');
    expect(await listDeadLetters(h)).toEqual([
      expect.objectContaining({
        eventId: e.id,
        reason: 'exhausted',
        error: 'job stalled more than allowable limit',
      }),
    ]);
    expect(await h.redis.hget(h.keys.webhookEvent(e.id), 'state')).toBe('dead');
    await waitFor(async () => (await h.audit.list('camp-stall')).length > 0, 10_000, 'audit record');
    expect((await h.audit.list('camp-stall')).map((r) => r.action)).toEqual(['webhook_failure']);
    expect((await outcomeCount('error')) - errorsBefore).toBe(1);
    expect(receiver.received).toHaveLength(0);
  });

  for (const late of [500, 200]) {
    it(`a run whose job BullMQ fails for its stall limit mid-send is counted and audited once (late ${late})`, async () => {
      const receiver = await new Receiver().start();
      // A send that cannot time out before the test answers it.
      const h = await startHarness(receiver.url, { retrySchedule: [], timeoutMs: 600_000 });
      cleanups.push(
        () => receiver.stop(),
        () => h.close(),
      );
      // The worker's own lock-renewal and finishing errors for the job it no longer holds.
      h.worker.on('error', () => undefined);
      const held: ServerResponse[] = [];
      receiver.respond = (_req, _body, res) => {
        held.push(res);
        return 'hang';
      };
      const e = await h.events.publish('campaign.state.changed', 'camp-stall-mid', { to: 'paused' });
      await waitFor(() => held.length === 1, 10_000, 'the send');
      const before = await allOutcomes();
      const runsBefore = await webhookRuns();
      // What BullMQ's stalled checker does to a job whose lock expired past maxStalledCount (2, so on
      // its third stall): back to wait with a deferred failure, which the next worker to take it applies.
      await h.redis.del(`${h.queue.toKey(e.id)}:lock`);
      await h.redis.hset(h.queue.toKey(e.id), 'stc', '2');
      await h.redis.sadd(h.queue.toKey('stalled'), e.id);
      await h.redis.del(h.queue.toKey('stalled-check'));
      await (h.worker as unknown as { moveStalledJobsToWait(): Promise<void> }).moveStalledJobsToWait();
      await waitFor(async () => (await listDeadLetters(h)).length === 1, 10_000, 'dead letter');
      await waitFor(async () => (await h.audit.list('camp-stall-mid')).length > 0, 10_000, 'audit record');
      expect((await allOutcomes()) - before).toBe(1);

      // The send that was under way answers only now.
      held[0]!.writeHead(late).end();
      await waitFor(async () => (await webhookRuns()) > runsBefore, 10_000, 'the run to finish');
      expect((await allOutcomes()) - before).toBe(1);
      expect((await h.audit.list('camp-stall-mid')).map((r) => r.action)).toEqual(['webhook_failure']);
      if (late === 200) {
        // The receiver has it: the event says so, even though the run was settled without it.
        expect(await h.redis.hget(h.keys.webhookEvent(e.id), 'state')).toBe('delivered');
      } else {
        expect(await listDeadLetters(h)).toEqual([
          expect.objectContaining({ eventId: e.id, error: 'job stalled more than allowable limit' }),
        ]);
      }
    });
  }

  it('a run that delivered after losing its lock is not counted again when the stall limit then fails its job', async () => {
    const receiver = await new Receiver().start();
    const h = await startHarness(receiver.url, { retrySchedule: [], timeoutMs: 600_000 });
    cleanups.push(
      () => receiver.stop(),
      () => h.close(),
    );
    const errors: Error[] = [];
    h.worker.on('error', (err) => errors.push(err));
    const held: ServerResponse[] = [];
    receiver.respond = (_req, _body, res) => {
      held.push(res);
      return 'hang';
    };
    const e = await h.events.publish('campaign.state.changed', 'camp-stall-after', { to: 'paused' });
    await waitFor(() => held.length === 1, 10_000, 'the send');
    const before = await allOutcomes();
    // The run's lock expires while it sends (a blocked event loop); its delivery is recorded and
    // counted, but BullMQ refuses to complete a job whose lock is gone.
    await h.redis.del(`${h.queue.toKey(e.id)}:lock`);
    held[0]!.writeHead(200).end();
    await waitFor(() => errors.some((err) => /lock/i.test(err.message)), 10_000, 'the refused completion');
    expect(await h.redis.hget(h.keys.webhookEvent(e.id), 'state')).toBe('delivered');
    expect((await allOutcomes()) - before).toBe(1);

    // Then the stalled checker fails the job for its stall limit (see above).
    let settled!: () => void;
    const settledOnce = new Promise<void>((resolve) => (settled = resolve));
    const redis = h.redis as unknown as { evalsha: (...args: unknown[]) => Promise<unknown> };
    const evalsha = redis.evalsha.bind(redis);
    redis.evalsha = async (...args: unknown[]) => {
      const out = await evalsha(...args);
      if (String(args[2]).endsWith(':webhook:dead')) settled();
      return out;
    };
    await h.redis.hset(h.queue.toKey(e.id), 'stc', '2');
    await h.redis.sadd(h.queue.toKey('stalled'), e.id);
    await h.redis.del(h.queue.toKey('stalled-check'));
    await (h.worker as unknown as { moveStalledJobsToWait(): Promise<void> }).moveStalledJobsToWait();
    await settledOnce;
    await new Promise((r) => setImmediate(r));
    expect(await h.queue.getJob(e.id).then((j) => j?.getState())).toBe('failed');
    expect(await h.redis.hget(h.keys.webhookEvent(e.id), 'state')).toBe('delivered');
    expect((await allOutcomes()) - before).toBe(1);
  });

  it("a stale run's late delivery leaves the send to the run that holds the job now", async () => {
    const { h } = await setup([0]);
    const e = await orphan(h, 'camp-two-runs');
    // Run A lost its lock mid-send; the job went back to wait and run B took it and is sending.
    await countSend(h, e.id, Date.now(), 'run-a');
    await countSend(h, e.id, Date.now(), 'run-b');
    // A's receiver answers 2xx first: recorded, but not A's to count.
    expect(await markDelivered(h, e.id, { status: 200, nowMs: Date.now(), run: 'run-a' })).toEqual({
      first: true,
      own: false,
      backoffEnded: false,
      holdCut: false,
    });
    // B's answer is still B's to count (once, as a resend).
    expect(await markDelivered(h, e.id, { status: 200, nowMs: Date.now(), run: 'run-b' })).toEqual({
      first: false,
      own: true,
      backoffEnded: false,
      holdCut: false,
    });
  });

  it('a send finishing after its event was settled leaves the outcome, and the sweep does not dead-letter it again', async () => {
    const receiver = await new Receiver().start();
    const h = await startHarness(receiver.url, { retrySchedule: [0], sweepIntervalMs: 100, sweepGraceMs: 0 });
    cleanups.push(
      () => receiver.stop(),
      () => h.close(),
    );
    const e = await orphan(h, 'camp-late');
    // The stall limit failed the job while its run was still sending; the fallback dead-lettered it.
    const letter = {
      eventId: e.id,
      reason: 'exhausted' as const,
      attempts: 1,
      at: new Date().toISOString(),
      error: 'job stalled more than allowable limit',
    };
    expect(await deadLetterUndecided(h, letter)).not.toBeNull();
    // Then the run's send answers 500, and it records its attempt.
    await recordAttempt(h, e.id, { status: 500, nowMs: Date.now() });
    expect(await h.redis.hmget(h.keys.webhookEvent(e.id), 'state', 'lastStatus')).toEqual(['dead', '500']);
    // Sweeps pass (the job is missing): nothing is dead-lettered or sent again.
    await new Promise((r) => setTimeout(r, 500));
    expect(await listDeadLetters(h)).toEqual([expect.objectContaining({ at: letter.at })]);
    expect(receiver.received).toHaveLength(0);

    // A delivered event stays delivered too, and its delivery clears a stale dead letter.
    expect(await markDelivered(h, e.id, { status: 200, nowMs: Date.now() })).toEqual({
      first: true,
      own: true,
      backoffEnded: false,
      holdCut: false,
    });
    await recordAttempt(h, e.id, { error: 'timeout', nowMs: Date.now() });
    expect(await h.redis.hmget(h.keys.webhookEvent(e.id), 'state', 'deadLetter')).toEqual([
      'delivered',
      null,
    ]);
    // A replay of the delivered event that fails before its clean-up ran: pending again and indexed,
    // so that its failing for good is dead-lettered rather than lost behind `delivered`.
    await recordAttempt(h, e.id, { status: 503, nowMs: Date.now(), replay: true });
    expect(await h.redis.hget(h.keys.webhookEvent(e.id), 'state')).toBe('pending');
    expect(await h.redis.zscore(webhookPendingKey(h.keys), e.id)).not.toBeNull();
  });

  it('counts a run that failed while Redis did once, when the sweep dead-letters it after Redis recovers', async () => {
    const receiver = await new Receiver().start();
    const h = await startHarness(receiver.url, { retrySchedule: [0], sweepIntervalMs: 100, sweepGraceMs: 0 });
    cleanups.push(
      () => receiver.stop(),
      () => h.close(),
    );
    const errorsBefore = await outcomeCount('error');
    const config = h.ctx.config;
    const webhook = config.webhook;
    // The run fails unexpectedly, and so does every dead letter the worker tries to write then.
    Object.defineProperty(config, 'webhook', {
      configurable: true,
      get() {
        throw new Error('connection lost');
      },
    });
    let failing = true;
    const redis = h.redis as unknown as { evalsha: (...args: unknown[]) => Promise<unknown> };
    const evalsha = redis.evalsha.bind(redis);
    redis.evalsha = (...args: unknown[]) =>
      failing && String(args[2]).endsWith(':webhook:dead')
        ? Promise.reject(new Error('connection lost'))
        : evalsha(...args);
    const e = await h.events.publish('campaign.state.changed', 'camp-recover', {});
    await waitFor(
      async () => (await h.queue.getJob(e.id).then((j) => j?.getState())) === 'failed',
      10_000,
      'job failed',
    );
    await new Promise((r) => setTimeout(r, 200));
    expect(await h.redis.hget(h.keys.webhookEvent(e.id), 'state')).toBe('pending');
    // Redis recovers: the sweep dead-letters the event.
    Object.defineProperty(config, 'webhook', { configurable: true, value: webhook });
    failing = false;
    await waitFor(async () => (await listDeadLetters(h)).length === 1, 10_000, 'dead letter');
    await new Promise((r) => setTimeout(r, 300));
    // Each run counted once, as it failed; the sweep's dead letter adds none.
    const runs = (await h.queue.getJob(e.id))!.attemptsMade;
    expect(runs).toBe(2);
    expect((await outcomeCount('error')) - errorsBefore).toBe(runs);
  });

  it('close() waits for a sweep still running from an earlier tick', async () => {
    const receiver = await new Receiver().start();
    const h = await startHarness(receiver.url, { sweepIntervalMs: 100, sweepGraceMs: 0 });
    cleanups.push(
      () => receiver.stop(),
      () => h.close(),
    );
    // The first sweep's turn-taking is slow (a Redis hiccup); the ticks after it are not.
    const redis = h.redis as unknown as { set: (...args: unknown[]) => Promise<unknown> };
    const set = redis.set.bind(redis);
    let calls = 0;
    let slowDone = false;
    redis.set = async (...args: unknown[]) => {
      if (!String(args[0]).endsWith('sweep-lock') || ++calls > 1) return set(...args);
      await new Promise((r) => setTimeout(r, 700));
      const out = await set(...args);
      slowDone = true;
      return out;
    };
    await waitFor(() => calls > 0, 5_000, 'a sweep');
    await new Promise((r) => setTimeout(r, 300));
    await h.worker.close();
    expect(slowDone).toBe(true);
  });
});
