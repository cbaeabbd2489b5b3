import type { Job, Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { RequestAbandonedError } from '../../src/shared/errors.js';
import { EVENT_TTL_SECONDS } from '../../src/shared/events/publisher.js';
import {
  deadLetter,
  listDeadLetters,
  markDelivered,
  replayDeadLetters,
  replayEvent,
} from '../../src/shared/webhooks/store.js';
import { startHarness, type Harness, cleanupsAfterEach } from './harness.js';

/**
 * A replay queues the job before it clears the dead letter, and its clean-up never undoes what a
 * fast worker decided in between. The queue here is a stand-in, so no worker runs these jobs.
 */

const cleanups = cleanupsAfterEach();

async function setup(): Promise<Harness> {
  const h = await startHarness(undefined);
  cleanups.push(() => h.close());
  return h;
}

/**
 * A stored event, dead-lettered as rejected, a minute ago, later than every dead letter made here
 * before it: dead letters are replayed oldest first, and two made in the same millisecond would be
 * ordered by their random ids instead.
 */
let lastDeadAtMs = 0;
async function deadEvent(h: Harness, campaignId: string) {
  lastDeadAtMs = Math.max(Date.now() - 60_000, lastDeadAtMs + 1);
  const e = await h.events.publish('campaign.state.changed', campaignId, { to: 'paused' });
  // With webhooks off the publisher keeps no copy; store one as an enabled publisher would.
  await h.redis.hset(h.keys.webhookEvent(e.id), {
    body: JSON.stringify(e),
    type: e.type,
    campaignId,
    occurredAt: e.occurredAt,
    state: 'pending',
  });
  await deadLetter(h, {
    eventId: e.id,
    reason: 'rejected',
    status: 400,
    attempts: 1,
    at: new Date(lastDeadAtMs).toISOString(),
  });
  return e;
}

function queueWith(add: (...args: Parameters<Queue['add']>) => Promise<unknown>): Queue {
  return { getJob: () => Promise.resolve(undefined), add } as unknown as Queue;
}

describe('webhook replay', () => {
  it('keeps the dead letter, its details and its state when the job cannot be queued', async () => {
    const h = await setup();
    const e = await deadEvent(h, 'camp-rq');
    const before = await h.redis.hgetall(h.keys.webhookEvent(e.id));
    const failing = queueWith(() =>
      Promise.reject(new Error("READONLY You can't write against a read only replica.")),
    );
    await expect(replayEvent({ ...h, queue: failing }, e.id)).rejects.toThrow('READONLY');
    await expect(replayDeadLetters({ ...h, queue: failing })).rejects.toThrow('READONLY');
    expect((await listDeadLetters(h)).map((l) => l.eventId)).toEqual([e.id]);
    expect(await h.redis.hgetall(h.keys.webhookEvent(e.id))).toEqual(before);
  });

  it('clears the dead letter and marks the event pending once its job is queued', async () => {
    const h = await setup();
    const e = await deadEvent(h, 'camp-ok');
    const added: unknown[] = [];
    const queue = queueWith(async (...args) => {
      // Queued first: the dead letter is still listed at this point.
      expect(await h.redis.zscore(h.keys.webhookDeadLetters(), e.id)).not.toBeNull();
      added.push(args[1]);
      return {} as Job;
    });
    expect(await replayEvent({ ...h, queue }, e.id)).toBe('queued');
    expect(added).toEqual([{ eventId: e.id, replay: true }]);
    expect(await listDeadLetters(h)).toEqual([]);
    expect(await h.redis.hmget(h.keys.webhookEvent(e.id), 'state', 'deadLetter')).toEqual(['pending', null]);
  });

  it('replays the oldest dead letters until its time is up, and counts those it left', async () => {
    const h = await setup();
    const events = [];
    for (const c of ['camp-b1', 'camp-b2', 'camp-b3']) events.push(await deadEvent(h, c));
    const added: string[] = [];
    const queue = queueWith(async (_name, data) => {
      added.push((data as { eventId: string }).eventId);
      return {} as Job;
    });
    // Time already up: one replay still starts, so every call makes progress.
    const first = await replayDeadLetters({ ...h, queue }, { until: Date.now() - 1 });
    expect(first).toEqual({ queued: [events[0]!.id], already_queued: [], not_found: [], remaining: 2 });
    expect((await listDeadLetters(h)).map((l) => l.eventId).sort()).toEqual(
      [events[1]!.id, events[2]!.id].sort(),
    );
    // A request answered 503 at its deadline starts none at all.
    const aborted = new AbortController();
    aborted.abort();
    expect(await replayDeadLetters({ ...h, queue }, { signal: aborted.signal })).toEqual({
      queued: [],
      already_queued: [],
      not_found: [],
      remaining: 2,
    });
    const rest = await replayDeadLetters({ ...h, queue }, { until: Date.now() + 60_000 });
    expect(rest).toMatchObject({ remaining: 0 });
    expect(rest.queued.sort()).toEqual([events[1]!.id, events[2]!.id].sort());
    expect(added.sort()).toEqual(events.map((e) => e.id).sort());
    expect(await listDeadLetters(h)).toEqual([]);
  });

  it('does not replay again a dead letter that another call replayed (and delivered) since its snapshot', async () => {
    const h = await setup();
    const [x, y] = [await deadEvent(h, 'camp-s1'), await deadEvent(h, 'camp-s2')];
    const other = queueWith(() => Promise.resolve({} as Job));
    const added: string[] = [];
    const queue = queueWith(async (_name, data) => {
      const id = (data as { eventId: string }).eventId;
      added.push(id);
      if (id === x.id) {
        // Meanwhile a concurrent call, whose snapshot was the same, gets to y first and its job delivers it.
        expect(await replayEvent({ ...h, queue: other }, y.id)).toBe('queued');
        await markDelivered(h, y.id, { status: 200, nowMs: Date.now() });
      }
      return {} as Job;
    });
    expect(await replayDeadLetters({ ...h, queue })).toEqual({
      queued: [x.id],
      already_queued: [],
      not_found: [],
      remaining: 0,
    });
    // Replaying y again would send the receiver an event it already took.
    expect(added).toEqual([x.id]);
    expect(await h.redis.hget(h.keys.webhookEvent(y.id), 'state')).toBe('delivered');
  });

  it('queues nothing once the request deadline fired while a replay was still reading', async () => {
    const h = await setup();
    const e = await deadEvent(h, 'camp-late');
    const deadline = new AbortController();
    const added: unknown[] = [];
    const queue = {
      // Redis stalled under this read and answered after the request had been answered 503.
      getJob: () => {
        deadline.abort();
        return Promise.resolve(undefined);
      },
      add: (...args: unknown[]) => {
        added.push(args[1]);
        return Promise.resolve({} as Job);
      },
    } as unknown as Queue;
    expect(await replayDeadLetters({ ...h, queue }, { signal: deadline.signal })).toEqual({
      queued: [],
      already_queued: [],
      not_found: [],
      remaining: 1,
    });
    await expect(replayEvent({ ...h, queue }, e.id, { signal: deadline.signal })).rejects.toBeInstanceOf(
      RequestAbandonedError,
    );
    expect(added).toEqual([]);
    expect((await listDeadLetters(h)).map((l) => l.eventId)).toEqual([e.id]);
    expect(await h.redis.hget(h.keys.webhookEvent(e.id), 'state')).toBe('dead');
  });

  it('answers already_queued, not an error, when a replay at the same moment queued the event first', async () => {
    // Both read the finished job; the other removed it and queued a new one, which a worker already
    // runs: BullMQ refuses to remove it ("locked by another worker"), which was answered 500.
    const h = await setup();
    const e = await deadEvent(h, 'camp-twice');
    const locked = () =>
      Promise.reject(new Error(`Job ${e.id} could not be removed because it is locked by another worker`));
    for (const [now, expected] of [
      ['active', 'already_queued'],
      [undefined, 'queued'],
    ] as const) {
      const reads: string[] = [];
      const added: unknown[] = [];
      const queue = {
        getJob: () => {
          reads.push('getJob');
          const state = reads.length === 1 ? 'completed' : now;
          return Promise.resolve(state && { getState: () => Promise.resolve(state), remove: locked });
        },
        add: (...args: unknown[]) => {
          added.push(args[1]);
          return Promise.resolve({} as Job);
        },
      } as unknown as Queue;
      // Running (the other's job), or gone (the other between its remove and its add): then queued
      // under the id, which BullMQ adds once.
      expect(await replayEvent({ ...h, queue }, e.id)).toBe(expected);
      expect(added).toEqual(expected === 'queued' ? [{ eventId: e.id, replay: true }] : []);
    }
    // A remove refused for a job still finished is no race: it fails as it did.
    const stuck = {
      getJob: () => Promise.resolve({ getState: () => Promise.resolve('failed'), remove: locked }),
      add: () => Promise.resolve({} as Job),
    } as unknown as Queue;
    const x = await deadEvent(h, 'camp-stuck');
    await expect(replayEvent({ ...h, queue: stuck }, x.id)).rejects.toThrow('locked by another worker');
  });

  it('answers queued to one of ten replays sent at once and already_queued to the others', async () => {
    // Each found no unfinished job and added one; BullMQ kept the first under the event's id and
    // dropped the rest silently, so all ten answered queued for one job.
    const h = await setup();
    // No worker takes the job meanwhile: it stays waiting, as the assertions read it.
    await h.worker.pause();
    const e = await deadEvent(h, 'camp-ten');
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, () => replayEvent({ ...h, queue: h.queue }, e.id)),
    );
    expect(outcomes.filter((o) => o === 'queued')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'already_queued')).toHaveLength(9);
    expect(await h.queue.getJobCountByTypes('waiting', 'delayed', 'active', 'prioritized')).toBe(1);
    expect(await h.redis.exists(h.keys.custom('webhook-replay', e.id))).toBe(0);
    // Its job still waiting, a later replay is told so.
    expect(await replayEvent({ ...h, queue: h.queue }, e.id)).toBe('already_queued');
  });

  it('keeps the replayed bytes for the whole new schedule, however old the dead letter', async () => {
    const h = await setup();
    const e = await deadEvent(h, 'camp-old');
    // Dead-lettered almost EVENT_TTL_SECONDS ago: an hour of its bytes left, not the 28 h a replay retries for.
    await h.redis.expire(h.keys.webhookEvent(e.id), 3600);
    const queue = queueWith(() => Promise.resolve({} as Job));
    expect(await replayEvent({ ...h, queue }, e.id)).toBe('queued');
    expect(await h.redis.ttl(h.keys.webhookEvent(e.id))).toBeGreaterThan(EVENT_TTL_SECONDS - 60);
  });

  it('does not remove the fresh dead letter of a worker that ran the replayed job first', async () => {
    const h = await setup();
    const e = await deadEvent(h, 'camp-race');
    const queue = queueWith(async () => {
      // A fast worker: the replayed job already ran and was dead-lettered again.
      await deadLetter(h, {
        eventId: e.id,
        reason: 'rejected',
        status: 422,
        attempts: 1,
        at: new Date().toISOString(),
      });
      return {} as Job;
    });
    expect(await replayEvent({ ...h, queue }, e.id)).toBe('queued');
    expect(await listDeadLetters(h)).toEqual([expect.objectContaining({ eventId: e.id, status: 422 })]);
    expect(await h.redis.hget(h.keys.webhookEvent(e.id), 'state')).toBe('dead');
  });

  it('does not mark pending an event the replayed job already delivered', async () => {
    const h = await setup();
    const e = await deadEvent(h, 'camp-fast');
    const queue = queueWith(async () => {
      await markDelivered(h, e.id, { status: 200, nowMs: Date.now() });
      return {} as Job;
    });
    expect(await replayEvent({ ...h, queue }, e.id)).toBe('queued');
    expect(await listDeadLetters(h)).toEqual([]);
    expect(await h.redis.hmget(h.keys.webhookEvent(e.id), 'state', 'deadLetter')).toEqual([
      'delivered',
      null,
    ]);
  });
});
