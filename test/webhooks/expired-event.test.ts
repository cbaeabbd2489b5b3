import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { webhookPendingKey } from '../../src/shared/webhooks/pending.js';
import {
  countSend,
  deadLetter,
  disableDestination,
  listDeadLetters,
  markDelivered,
} from '../../src/shared/webhooks/store.js';
import { Receiver, startHarness, waitFor, type Harness, cleanupsAfterEach } from './harness.js';

/**
 * A stored event lives EVENT_TTL_SECONDS. One whose TTL runs out while it is being delivered must
 * stay gone: a write of delivery fields onto its vanished hash would bring it back with no expiry,
 * and it would then stay in Redis forever.
 */

const cleanups = cleanupsAfterEach();

async function setup(): Promise<{ h: Harness; receiver: Receiver }> {
  const receiver = await new Receiver().start();
  const h = await startHarness(receiver.url, { retrySchedule: [0], timeoutMs: 600_000 });
  cleanups.push(
    () => receiver.stop(),
    () => h.close(),
  );
  return { h, receiver };
}

describe('a webhook event that expires while it is being delivered', () => {
  it('is not recreated by the delivery that answers after it expired', async () => {
    const { h, receiver } = await setup();
    const held: ServerResponse[] = [];
    receiver.respond = (_req, _body, res) => {
      held.push(res);
      return 'hang';
    };
    const e = await h.events.publish('campaign.state.changed', 'camp-expired', { to: 'paused' });
    await waitFor(() => held.length === 1, 10_000, 'the send');
    // Its TTL runs out while the receiver is still answering.
    await h.redis.del(h.keys.webhookEvent(e.id));
    held[0]!.writeHead(200).end();
    await waitFor(async () => (await h.queue.getJob(e.id))?.finishedOn !== undefined, 10_000, 'the job');
    expect(await h.redis.exists(h.keys.webhookEvent(e.id))).toBe(0);
    // Delivered, and counted as its run's: nothing but its TTL took the event away.
    expect(await h.queue.getJob(e.id).then((j) => j?.getState())).toBe('completed');
    // The receiver has it: the delivered log says so, and the event is no longer pending.
    expect(await h.redis.zscore(h.keys.webhookDelivered(), e.id)).not.toBeNull();
    expect(await h.redis.zscore(webhookPendingKey(h.keys), e.id)).toBeNull();
  });

  it('is not sent, nor recreated, when it expires between the read and the count of its send', async () => {
    const { h, receiver } = await setup();
    const eventKeyPrefix = h.keys.webhookEvent('');
    // The seam: the count of the send (the first write after the run read the event) finds it gone.
    const redis = h.redis as unknown as { evalsha: (...args: unknown[]) => Promise<unknown> };
    const evalsha = redis.evalsha.bind(redis);
    redis.evalsha = async (...args: unknown[]) => {
      if (args[1] === 1 && String(args[2]).startsWith(eventKeyPrefix)) await h.redis.del(String(args[2]));
      return evalsha(...args);
    };
    const e = await h.events.publish('campaign.state.changed', 'camp-expired-early', { to: 'paused' });
    await waitFor(async () => (await h.queue.getJob(e.id))?.finishedOn !== undefined, 10_000, 'the job');
    expect((await h.queue.getJob(e.id))?.failedReason).toMatch(/expired before it was sent/);
    expect(receiver.received).toHaveLength(0);
    expect(await h.redis.exists(h.keys.webhookEvent(e.id))).toBe(0);
  });

  it('countSend and markDelivered write nothing on an event no longer stored', async () => {
    const { h } = await setup();
    const id = 'evt_gone';
    expect(await countSend(h, id, Date.now(), 'run-a')).toBeNull();
    expect(await h.redis.exists(h.keys.webhookEvent(id))).toBe(0);
    expect(await markDelivered(h, id, { status: 200, nowMs: Date.now(), run: 'run-a' })).toEqual({
      first: true,
      own: true,
      backoffEnded: false,
      holdCut: false,
    });
    expect(await markDelivered(h, id, { status: 200, nowMs: Date.now() })).toEqual({
      first: false,
      own: true,
      backoffEnded: false,
      holdCut: false,
    });
    expect(await h.redis.exists(h.keys.webhookEvent(id))).toBe(0);
  });

  it('deadLetter without a run writes nothing on an event no longer stored, nor a partial record', async () => {
    const { h } = await setup();
    const letter = {
      eventId: 'evt_gone',
      reason: 'no_destination' as const,
      attempts: 1,
      at: new Date().toISOString(),
    };
    await h.redis.zadd(webhookPendingKey(h.keys), Date.now(), 'evt_gone');
    expect(await deadLetter(h, letter)).toBe('missing');
    expect(await h.redis.exists(h.keys.webhookEvent('evt_gone'))).toBe(0);
    expect(await h.redis.zscore(h.keys.webhookDeadLetters(), 'evt_gone')).toBeNull();
    // The pending index no longer names an event that is gone.
    expect(await h.redis.zscore(webhookPendingKey(h.keys), 'evt_gone')).toBeNull();
    // A hash left without its body (the bytes a replay sends) is no event to dead-letter either.
    await h.redis.hset(h.keys.webhookEvent('evt_bodyless'), { state: 'pending', attempts: '1' });
    expect(await deadLetter(h, { ...letter, eventId: 'evt_bodyless' })).toBe('missing');
    expect(await h.redis.hgetall(h.keys.webhookEvent('evt_bodyless'))).toEqual({
      state: 'pending',
      attempts: '1',
    });
    expect(await h.redis.ttl(h.keys.webhookEvent('evt_bodyless'))).toBe(-1);
    expect(await listDeadLetters(h)).toEqual([]);
  });

  it('is not dead-lettered, nor recreated, when it expires between the read and its dead letter', async () => {
    const { h, receiver } = await setup();
    // A destination disabled by a 410: the worker dead-letters the event without sending (no run).
    await disableDestination(h, receiver.url, { status: 410, eventId: 'evt_earlier', nowMs: Date.now() });
    const eventKeyPrefix = h.keys.webhookEvent('');
    // The seam: the dead letter (four keys: the set, the event, the pending index, the owed audit records) finds it gone.
    const redis = h.redis as unknown as { evalsha: (...args: unknown[]) => Promise<unknown> };
    const evalsha = redis.evalsha.bind(redis);
    redis.evalsha = async (...args: unknown[]) => {
      if (
        args[1] === 4 &&
        args[2] === h.keys.webhookDeadLetters() &&
        String(args[3]).startsWith(eventKeyPrefix)
      )
        await h.redis.del(String(args[3]));
      return evalsha(...args);
    };
    const e = await h.events.publish('campaign.state.changed', 'camp-expired-dead', { to: 'paused' });
    await waitFor(async () => (await h.queue.getJob(e.id))?.finishedOn !== undefined, 10_000, 'the job');
    expect((await h.queue.getJob(e.id))?.failedReason).toMatch(/expired before it could be dead-lettered/);
    expect(receiver.received).toHaveLength(0);
    // Nothing at all: no hash of dead-letter fields with a TTL and no body, no listed dead letter.
    expect(await h.redis.exists(h.keys.webhookEvent(e.id))).toBe(0);
    expect(await h.redis.zscore(h.keys.webhookDeadLetters(), e.id)).toBeNull();
    expect(await listDeadLetters(h)).toEqual([]);
  });
});
