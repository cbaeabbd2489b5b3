import { describe, expect, it } from 'vitest';
import type { EventEnvelope } from '../../src/shared/events/types.js';
import { loadStoredEvent } from '../../src/shared/events/publisher.js';
import {
  enableDestination,
  getDestinationState,
  listDeadLetters,
  replayDeadLetters,
  replayEvent,
} from '../../src/shared/webhooks/store.js';
import { webhookOutcomes } from '../../src/shared/metrics.js';
import { Receiver, startHarness, waitFor, type Harness, cleanupsAfterEach } from './harness.js';

const cleanups = cleanupsAfterEach();

async function webhookOutcomeCounts(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await webhookOutcomes.get()).values) out[String(v.labels.outcome)] = v.value;
  return out;
}

function diffCounts(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (v !== (before[k] ?? 0)) out[k] = v - (before[k] ?? 0);
  return out;
}

async function setup(receiver: Receiver, workerOpts = {}): Promise<Harness> {
  const h = await startHarness(receiver.url, workerOpts);
  cleanups.push(
    () => receiver.stop(),
    () => h.close(),
  );
  return h;
}

const deliveredCount = (h: Harness) => h.redis.zcard(h.keys.webhookDelivered());
const deadCount = (h: Harness) => h.redis.zcard(h.keys.webhookDeadLetters());

function countBy<T>(items: T[], key: (t: T) => string): Map<string, number> {
  const m = new Map<string, number>();
  for (const i of items) m.set(key(i), (m.get(key(i)) ?? 0) + 1);
  return m;
}

describe('webhook delivery', () => {
  it('delivers every event after the receiver answers 503 for a while, each once, with its original id and bytes', async () => {
    const receiver = await new Receiver().start();
    let down = true;
    receiver.respond = () => (down ? { status: 503 } : { status: 204 });
    // Short holds: each 503 holds the whole queue (destination-backoff.test.ts), growing on each.
    const h = await setup(receiver, { destinationBackoff: { minMs: 20, maxMs: 100 }, probePollMs: 20 });
    const published: EventEnvelope[] = [];
    for (let i = 0; i < 12; i++) {
      published.push(
        await h.events.publish('campaign.state.changed', `camp-${i % 3}`, { i, from: 'active' }),
      );
    }
    // After each hold one send probes the receiver alone (destination-backoff.test.ts), so a receiver
    // answering 503 sees one send per hold: wait for several, not for every event to be tried.
    await waitFor(() => receiver.received.length >= 6, 10_000, 'several failed attempts');
    down = false;
    await waitFor(async () => (await deliveredCount(h)) === 12, 15_000, 'all deliveries');

    const ids = published.map((e) => e.id).sort();
    const successes = receiver.successes();
    expect(successes.map((r) => r.id).sort()).toEqual(ids);
    expect([...countBy(successes, (r) => r.id).values()].every((n) => n === 1)).toBe(true);
    for (const e of published) {
      const stored = await loadStoredEvent(h.redis, h.keys, e.id);
      const attempts = receiver.received.filter((r) => r.id === e.id);
      expect(attempts.length).toBeGreaterThanOrEqual(1);
      // The same bytes on every attempt, each freshly signed and valid.
      expect(new Set(attempts.map((a) => a.body))).toEqual(new Set([stored!.body]));
      expect(attempts.every((a) => a.signatureValid)).toBe(true);
      expect(JSON.parse(stored!.body)).toMatchObject({
        id: e.id,
        type: 'campaign.state.changed',
        version: 1,
      });
    }
    expect(await deadCount(h)).toBe(0);
  });

  it('rides out a receiver that refuses connections, then delivers everything once', async () => {
    const receiver = await new Receiver().start();
    const port = receiver.port;
    const h = await setup(receiver);
    await receiver.stop();
    const published: EventEnvelope[] = [];
    for (let i = 0; i < 5; i++)
      published.push(await h.events.publish('campaign.launch.succeeded', 'camp-r', { i }));
    await waitFor(
      async () => Number((await h.redis.hget(h.keys.webhookEvent(published[4]!.id), 'attempts')) ?? 0) >= 2,
      10_000,
      'refused attempts',
    );
    await receiver.start(port);
    await waitFor(async () => (await deliveredCount(h)) === 5, 15_000, 'deliveries after restart');
    expect(
      receiver
        .successes()
        .map((r) => r.id)
        .sort(),
    ).toEqual(published.map((e) => e.id).sort());
    const refused = await h.redis.hget(h.keys.webhookEvent(published[0]!.id), 'attempts');
    expect(Number(refused)).toBeGreaterThanOrEqual(2);
  });

  it('dead-letters an event after the last scheduled attempt', async () => {
    const receiver = await new Receiver().start();
    receiver.respond = () => ({ status: 500, body: 'boom' });
    const h = await setup(receiver, { retrySchedule: [0, 20, 40] });
    const e = await h.events.publish('campaign.settings.changed', 'camp-x', {});
    await waitFor(async () => (await deadCount(h)) === 1, 10_000, 'dead letter');
    expect(receiver.received.filter((r) => r.id === e.id)).toHaveLength(4);
    const [letter] = await listDeadLetters(h);
    expect(letter).toMatchObject({
      eventId: e.id,
      reason: 'exhausted',
      status: 500,
      bodyExcerpt: 'boom',
      attempts: 4,
    });
    // Audited right after the dead letter is written.
    await waitFor(async () => (await h.audit.list('camp-x')).length > 0, 10_000, 'audit record');
    const audit = await h.audit.list('camp-x');
    expect(audit.map((r) => r.action)).toEqual(['webhook_failure']);
  });

  it('sends a 400 straight to the dead letters, audits it, and replays it after the fix', async () => {
    const receiver = await new Receiver().start();
    receiver.respond = () => ({ status: 400, body: '{"error":"unknown field campaignId"}' });
    const h = await setup(receiver);
    const e = await h.events.publish('campaign.launch.requested', 'camp-400', { launchId: 'l1' });
    await waitFor(async () => (await deadCount(h)) === 1, 10_000, 'dead letter');
    expect(receiver.received).toHaveLength(1);
    const [letter] = await listDeadLetters(h);
    expect(letter).toMatchObject({ eventId: e.id, reason: 'rejected', status: 400, attempts: 1 });
    expect(letter!.bodyExcerpt).toContain('unknown field');
    await waitFor(async () => (await h.audit.list('camp-400')).length > 0, 10_000, 'audit record');
    const [audit] = await h.audit.list('camp-400');
    expect(audit).toMatchObject({ action: 'webhook_failure', details: { eventId: e.id, status: 400 } });

    receiver.respond = () => ({ status: 200 });
    expect(await replayDeadLetters({ ...h, queue: h.queue })).toMatchObject({ queued: [e.id] });
    await waitFor(async () => (await deliveredCount(h)) === 1, 10_000, 'replayed delivery');
    expect(receiver.received.map((r) => r.id)).toEqual([e.id, e.id]);
    expect(receiver.received[0]!.body).toBe(receiver.received[1]!.body);
    expect(await deadCount(h)).toBe(0);
  });

  it('disables the destination on 410, audits it once, holds later events as dead letters, and recovers after re-enable', async () => {
    const receiver = await new Receiver().start();
    receiver.respond = () => ({ status: 410 });
    const h = await setup(receiver);
    const outcomesBefore = await webhookOutcomeCounts();
    const first = await h.events.publish('campaign.state.changed', 'camp-410', { to: 'active' });
    // The outcome is counted right after the dead letter is written: wait for both.
    const outcomes = async () => diffCounts(outcomesBefore, await webhookOutcomeCounts());
    await waitFor(
      async () => (await deadCount(h)) === 1 && Object.keys(await outcomes()).length > 0,
      10_000,
      'first dead letter',
    );
    // One run, one outcome: the 410 that disabled the destination is not also a dead letter.
    expect(await outcomes()).toEqual({ destination_disabled: 1 });
    const state = await getDestinationState(h, receiver.url);
    expect(state).toMatchObject({ enabled: false, status: 410, eventId: first.id });
    const audit = await h.audit.list('camp-410');
    expect(audit.map((r) => r.action)).toEqual(['webhook_destination_disabled']);

    const second = await h.events.publish('campaign.state.changed', 'camp-410', { to: 'paused' });
    await waitFor(
      async () => (await deadCount(h)) === 2 && Object.keys(await outcomes()).length > 1,
      10_000,
      'second dead letter',
    );
    expect(await outcomes()).toEqual({
      destination_disabled: 1,
      dead_lettered: 1,
    });
    expect(receiver.received).toHaveLength(1);
    expect((await listDeadLetters(h)).map((l) => l.reason).sort()).toEqual([
      'destination_disabled',
      'destination_gone',
    ]);

    receiver.respond = () => ({ status: 200 });
    await enableDestination(h, receiver.url);
    await replayDeadLetters({ ...h, queue: h.queue });
    await waitFor(async () => (await deliveredCount(h)) === 2, 10_000, 'deliveries after re-enable');
    expect(
      receiver
        .successes()
        .map((r) => r.id)
        .sort(),
    ).toEqual([first.id, second.id].sort());
  });

  it('does not let a hanging receiver block other deliveries', async () => {
    const receiver = await new Receiver().start();
    receiver.respond = (_req, body) =>
      (JSON.parse(body) as { campaignId: string }).campaignId === 'camp-slow' ? 'hang' : { status: 200 };
    const h = await setup(receiver, { timeoutMs: 8_000 });
    const slow = await h.events.publish('campaign.state.changed', 'camp-slow', {});
    await waitFor(() => receiver.received.some((r) => r.id === slow.id), 10_000, 'slow attempt');
    const fast: EventEnvelope[] = [];
    for (let i = 0; i < 5; i++)
      fast.push(await h.events.publish('campaign.state.changed', 'camp-fast', { i }));
    await waitFor(async () => (await deliveredCount(h)) === 5, 10_000, 'fast deliveries');
    expect(receiver.successes().map((r) => r.id)).toEqual(expect.arrayContaining(fast.map((e) => e.id)));
    // ...all while the slow event's first attempt was still waiting for its answer, already counted
    // (a worker that dies mid-send leaves the send counted).
    expect(await h.redis.hmget(h.keys.webhookEvent(slow.id), 'attempts', 'lastStatus')).toEqual(['1', null]);
    expect(await h.queue.getJob(slow.id).then((j) => j?.getState())).toBe('active');
  });

  it('replays a single event by id with the same bytes', async () => {
    const receiver = await new Receiver().start();
    const h = await setup(receiver);
    const e = await h.events.publish('campaign.compliance.paused', 'camp-rp', { reason: 'window' });
    await waitFor(async () => (await deliveredCount(h)) === 1, 10_000, 'delivery');
    await waitFor(async () => (await h.queue.getJob(e.id).then((j) => j?.getState())) === 'completed');
    expect(await replayEvent({ ...h, queue: h.queue }, e.id)).toBe('queued');
    await waitFor(() => receiver.received.length === 2, 10_000, 'redelivery');
    expect(receiver.received[1]).toMatchObject({ id: e.id, body: receiver.received[0]!.body });
    expect(await deliveredCount(h)).toBe(1);
    expect(await replayEvent({ ...h, queue: h.queue }, 'evt_unknown')).toBe('not_found');
  });

  it('does not resend an event whose delivery is already in the log when its job runs again', async () => {
    const receiver = await new Receiver().start();
    const h = await setup(receiver);
    const e = await h.events.publish('campaign.state.changed', 'camp-dup', { to: 'paused' });
    await waitFor(async () => (await deliveredCount(h)) === 1, 10_000, 'delivery');
    await waitFor(async () => (await h.queue.getJob(e.id).then((j) => j?.getState())) === 'completed');
    // What a redelivered job looks like after a worker died between the 2xx and the acknowledgement.
    await (await h.queue.getJob(e.id))!.remove();
    const again = await h.queue.add('campaign.state.changed', { eventId: e.id }, { jobId: e.id });
    await waitFor(async () => (await again.getState()) === 'completed', 10_000, 'second run');
    expect((await h.queue.getJob(e.id))!.returnvalue).toEqual({ skipped: 'already_delivered' });
    expect(receiver.received).toHaveLength(1);
  });

  it('records events but enqueues nothing when webhooks are disabled', async () => {
    const h = await startHarness(undefined);
    cleanups.push(() => h.close());
    const e = await h.events.publish('campaign.launch.failed', 'camp-off', { error: 'x' });
    expect(await h.queue.getJobCounts()).toMatchObject({ waiting: 0, delayed: 0, active: 0 });
    expect((await h.events.recent(10)).map((r) => r.id)).toEqual([e.id]);
  });
});
