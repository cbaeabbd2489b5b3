import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { EVENT_TTL_SECONDS } from '../../src/shared/events/publisher.js';
import type { EventEnvelope } from '../../src/shared/events/types.js';
import { webhookPendingKey } from '../../src/shared/webhooks/pending.js';
import { deadLetter, listDeadLetters, replayEvent } from '../../src/shared/webhooks/store.js';
import { sweepOrphanedEvents } from '../../src/shared/webhooks/sweep.js';
import {
  Receiver,
  startHarness,
  waitFor,
  type Harness,
  cleanupsAfterEach,
  publishOrphan,
} from './harness.js';

/**
 * The publisher stores an event, then queues its job: when the second step fails, the sweep queues
 * the job later, and never resends an event that was delivered or dead-lettered.
 */

const cleanups = cleanupsAfterEach();

describe('webhook sweep', () => {
  it('queues the job of a pending event that has none, and resends nothing delivered or dead', async () => {
    const receiver = await new Receiver().start();
    receiver.respond = (_req, body) =>
      (JSON.parse(body) as EventEnvelope).campaignId === 'camp-rejected' ? { status: 400 } : { status: 200 };
    const h = await startHarness(receiver.url, { sweepIntervalMs: 100, sweepGraceMs: 300 });
    cleanups.push(
      () => receiver.stop(),
      () => h.close(),
    );
    const delivered = await h.events.publish('campaign.state.changed', 'camp-ok', {});
    const dead = await h.events.publish('campaign.state.changed', 'camp-rejected', {});
    const orphan = await publishOrphan(h, 'camp-orphan');
    expect(await h.redis.hget(h.keys.webhookEvent(orphan.id), 'state')).toBe('pending');
    expect(await h.queue.getJob(orphan.id)).toBeUndefined();

    await waitFor(
      async () => (await h.redis.hget(h.keys.webhookEvent(orphan.id), 'state')) === 'delivered',
      10_000,
      'the orphan delivered by the sweep',
    );
    // Several more sweeps: nothing is sent twice.
    await new Promise((r) => setTimeout(r, 800));
    const sent = receiver.received.map((r) => r.id).sort();
    expect(sent).toEqual([delivered.id, dead.id, orphan.id].sort());
    expect(receiver.received.find((r) => r.id === orphan.id)!.signatureValid).toBe(true);
    expect((await listDeadLetters(h)).map((l) => l.eventId)).toEqual([dead.id]);
  });

  it("keeps a requeued orphan's bytes for the whole retry schedule, however old the orphan", async () => {
    const h = await startHarness(undefined);
    // A queue no worker takes from: the job the sweep queues stays as queued.
    const queue = new Queue('webhook-idle', { connection: h.redis, prefix: h.ctx.config.keyPrefix });
    cleanups.push(
      () => h.close(),
      () => queue.close(),
    );
    const e = await publishOrphan(h, 'camp-old-orphan');
    // Found after a long stretch without sweeps: an hour of its bytes left, not the 28 h its job retries for.
    await h.redis.expire(h.keys.webhookEvent(e.id), 3600);
    const result = await sweepOrphanedEvents({
      redis: h.redis,
      keys: h.keys,
      queue,
      nowMs: Date.now() + 120_000,
    });
    expect(result.requeued).toEqual([e.id]);
    expect(await h.redis.ttl(h.keys.webhookEvent(e.id))).toBeGreaterThan(EVENT_TTL_SECONDS - 60);
  });

  it('dead-letters a pending event whose job failed for good without settling it', async () => {
    const receiver = await new Receiver().start();
    const h = await startHarness(receiver.url, { sweepIntervalMs: 100, sweepGraceMs: 300 });
    cleanups.push(
      () => receiver.stop(),
      () => h.close(),
    );
    const e = await publishOrphan(h, 'camp-failed');
    // A job left failed while its event stayed pending (the worker's own fallback could not write).
    await h.redis.hset(h.queue.toKey(e.id), {
      name: e.type,
      data: JSON.stringify({ eventId: e.id }),
      opts: '{}',
      timestamp: String(Date.now()),
      finishedOn: String(Date.now()),
      failedReason: 'job stalled more than allowable limit',
      atm: '3',
    });
    await h.redis.zadd(h.queue.toKey('failed'), Date.now(), e.id);
    await waitFor(async () => (await listDeadLetters(h)).length === 1, 10_000, 'dead letter');
    expect(await listDeadLetters(h)).toEqual([
      expect.objectContaining({
        eventId: e.id,
        reason: 'exhausted',
        attempts: 3,
        error: 'job stalled more than allowable limit',
      }),
    ]);
    await waitFor(async () => (await h.audit.list('camp-failed')).length > 0, 10_000, 'audit record');
    expect(receiver.received).toHaveLength(0);
  });

  it('looks only past the grace, and two sweeps at once queue one job', async () => {
    const h = await startHarness(undefined);
    cleanups.push(() => h.close());
    // Its own queue with no worker, so the jobs the sweep queues stay put.
    const queue = new Queue('sweep-probe', { connection: h.redis, prefix: h.queue.opts.prefix! });
    cleanups.push(() => queue.close());
    const orphans = [];
    for (let i = 0; i < 4; i++) orphans.push(await publishOrphan(h, `camp-${i}`, { i }));
    const [first, , , last] = orphans;
    const lastAt = await newestPending(h);

    // Within the grace: left alone.
    const young = await sweepOrphanedEvents({ ...h, queue, nowMs: lastAt + 1_000, graceMs: 60_000 });
    expect(young).toEqual({ scanned: 0, requeued: [], failed: [] });

    // Delivered and dead events are never queued, whatever their job, and leave the index.
    await h.redis.hset(h.keys.webhookEvent(orphans[1]!.id), 'state', 'delivered');
    await h.redis.hset(h.keys.webhookEvent(orphans[2]!.id), 'state', 'dead');
    // A pending event whose job failed for good is reported for the worker to dead-letter.
    await h.redis.hset(queue.toKey(first!.id), {
      name: first!.type,
      finishedOn: '1',
      failedReason: 'job stalled more than allowable limit',
      atm: '1',
    });
    const [a, b] = await Promise.all([
      sweepOrphanedEvents({ ...h, queue, nowMs: lastAt + 120_000 }),
      sweepOrphanedEvents({ ...h, queue, nowMs: lastAt + 120_000 }),
    ]);
    expect(a.scanned).toBe(4);
    expect(a.requeued).toEqual([last!.id]);
    expect(b.requeued).toEqual([last!.id]);
    expect(a.failed).toEqual([
      { eventId: first!.id, reason: 'job stalled more than allowable limit', attempts: 1 },
    ]);
    expect(await queue.getJobCounts('waiting')).toEqual({ waiting: 1 });
    expect((await queue.getJob(last!.id))!.data).toEqual({ eventId: last!.id });
    // Compared as a set: events published in the same millisecond share a score, and the index
    // orders those by their random ids.
    expect((await h.redis.zrange(webhookPendingKey(h.keys), 0, '-1')).sort()).toEqual(
      [first!.id, last!.id].sort(),
    );
    await queue.obliterate({ force: true });
  });

  it('reads pending events oldest first, of any age, and each sweep continues past the last', async () => {
    const h = await startHarness(undefined);
    cleanups.push(() => h.close());
    const queue = new Queue('sweep-probe', { connection: h.redis, prefix: h.queue.opts.prefix! });
    cleanups.push(() => queue.close());
    const orphans = [];
    for (let i = 0; i < 6; i++) orphans.push((await publishOrphan(h, `camp-${i}`, { i })).id);
    // Two days after: the worker was down (no sweeps) for longer than a day.
    const nowMs = (await newestPending(h)) + 2 * 86_400_000;
    const requeued: string[][] = [];
    for (let i = 0; i < 4; i++) {
      requeued.push((await sweepOrphanedEvents({ ...h, queue, nowMs, maxScan: 2 })).requeued);
    }
    // Those already queued stay pending (their jobs wait): the next sweeps look further, then start over.
    // (In the index's order: publish time, then id for events published in the same millisecond.)
    const order = await h.redis.zrange(webhookPendingKey(h.keys), '0', '-1');
    expect([...order].sort()).toEqual([...orphans].sort());
    expect(requeued).toEqual([order.slice(0, 2), order.slice(2, 4), order.slice(4, 6), []]);
    expect(await queue.getJobCounts('waiting')).toEqual({ waiting: 6 });
    await queue.obliterate({ force: true });
  });

  it('reads on past any number of events published in the same millisecond', async () => {
    const h = await startHarness(undefined);
    cleanups.push(() => h.close());
    const queue = new Queue('sweep-ties', { connection: h.redis, prefix: h.queue.opts.prefix! });
    cleanups.push(() => queue.close());
    const index = webhookPendingKey(h.keys);
    const orphans = [];
    for (let i = 0; i < 6; i++) orphans.push((await publishOrphan(h, `camp-tie-${i}`, { i })).id);
    // Five share one millisecond, more than a sweep reads; the sixth is a millisecond later.
    const tie = Number(await h.redis.zscore(index, orphans[0]!));
    for (const id of orphans.slice(0, 5)) await h.redis.zadd(index, 'XX', tie, id);
    await h.redis.zadd(index, 'XX', tie + 1, orphans[5]!);
    const order = await h.redis.zrange(index, '0', '-1');
    const nowMs = tie + 2 * 86_400_000;
    const requeued: string[][] = [];
    for (let i = 0; i < 4; i++) {
      requeued.push((await sweepOrphanedEvents({ ...h, queue, nowMs, maxScan: 2 })).requeued);
    }
    expect(requeued).toEqual([order.slice(0, 2), order.slice(2, 4), order.slice(4, 6), []]);
    expect(await queue.getJobCounts('waiting')).toEqual({ waiting: 6 });
    await queue.obliterate({ force: true });
  });

  it('never reads delivered events, drops expired ones, and a replay puts an event back', async () => {
    const receiver = await new Receiver().start();
    receiver.respond = (_req, body) =>
      (JSON.parse(body) as EventEnvelope).campaignId === 'camp-no' ? { status: 400 } : { status: 200 };
    const h = await startHarness(receiver.url, { sweepIntervalMs: 0 });
    cleanups.push(
      () => receiver.stop(),
      () => h.close(),
    );
    const queue = new Queue('sweep-probe', { connection: h.redis, prefix: h.queue.opts.prefix! });
    cleanups.push(() => queue.close());
    for (let i = 0; i < 20; i++) await h.events.publish('campaign.state.changed', 'camp-ok', { i });
    const refused = await h.events.publish('campaign.state.changed', 'camp-no', {});
    await waitFor(
      async () =>
        (await h.redis.zcard(h.keys.webhookDelivered())) === 20 && (await listDeadLetters(h)).length === 1,
      10_000,
      'deliveries',
    );
    expect(await h.redis.zcard(webhookPendingKey(h.keys))).toBe(0);
    const nowMs = Date.now() + 120_000;
    expect(await sweepOrphanedEvents({ ...h, queue, nowMs })).toEqual({
      scanned: 0,
      requeued: [],
      failed: [],
    });

    // An entry whose event expired is dropped.
    await h.redis.zadd(webhookPendingKey(h.keys), 1, 'evt_expired');
    expect((await sweepOrphanedEvents({ ...h, queue, nowMs })).scanned).toBe(1);
    expect(await h.redis.zcard(webhookPendingKey(h.keys))).toBe(0);

    // So is one whose event is `pending` but names no type: no job could ever deliver it, and
    // keeping it would have every sweep read it again until the hash expired.
    await h.redis.hset(h.keys.webhookEvent('evt_typeless'), 'state', 'pending', 'body', '{}');
    await h.redis.expire(h.keys.webhookEvent('evt_typeless'), 60);
    await h.redis.zadd(webhookPendingKey(h.keys), 1, 'evt_typeless');
    expect(await sweepOrphanedEvents({ ...h, queue, nowMs })).toEqual({
      scanned: 1,
      requeued: [],
      failed: [],
    });
    expect(await h.redis.zcard(webhookPendingKey(h.keys))).toBe(0);
    await h.redis.del(h.keys.webhookEvent('evt_typeless'));

    // A replay marks the dead letter pending and indexes it again, until its job settles it.
    expect(await replayEvent({ ...h, queue }, refused.id)).toBe('queued');
    expect(await h.redis.zscore(webhookPendingKey(h.keys), refused.id)).not.toBeNull();
    await deadLetter(h, {
      eventId: refused.id,
      reason: 'rejected',
      attempts: 2,
      at: new Date().toISOString(),
    });
    expect(await h.redis.zscore(webhookPendingKey(h.keys), refused.id)).toBeNull();
    await queue.obliterate({ force: true });
  });

  it('queues the job of a pending event published before the index existed', async () => {
    const receiver = await new Receiver().start();
    const h = await startHarness(receiver.url, { sweepIntervalMs: 100, sweepGraceMs: 300 });
    cleanups.push(
      () => receiver.stop(),
      () => h.close(),
    );
    const e = await publishOrphan(h, 'camp-old');
    await h.redis.zrem(webhookPendingKey(h.keys), e.id);
    // As before the upgrade that brought the index: not yet backfilled. The harness's sweep may have
    // run its one backfill before the orphan existed, which would leave this event unindexed for good.
    await h.redis.del(h.keys.custom('webhook', 'pending-index-backfilled'));
    await waitFor(
      async () => (await h.redis.hget(h.keys.webhookEvent(e.id), 'state')) === 'delivered',
      10_000,
      'the old orphan delivered',
    );
    expect(receiver.received.map((r) => r.id)).toEqual([e.id]);
    expect(await h.redis.zcard(webhookPendingKey(h.keys))).toBe(0);
  });
});

async function newestPending(h: Harness): Promise<number> {
  const [, score] = await h.redis.zrange(webhookPendingKey(h.keys), '-1', '-1', 'WITHSCORES');
  return Number(score);
}
