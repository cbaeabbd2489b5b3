import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { AppContext } from '../../src/shared/context.js';
import type { EventEnvelope } from '../../src/shared/events/types.js';
import {
  refreshWebhookHold,
  webhookDestinationBackoff,
  webhookDestinationBackoffs,
} from '../../src/shared/metrics.js';
import {
  DEFAULT_DESTINATION_BACKOFF,
  destinationBackoffKey,
  destinationBackoffKeys,
  destinationHoldLeftMs,
  destinationOwnerKey,
  destinationRef,
  dropForeignHold,
  holdDestinationQueue,
  webhookLimiterKey,
} from '../../src/shared/webhooks/backoff.js';
import { listDeadLetters } from '../../src/shared/webhooks/store.js';
import type { WebhookWorkerOptions } from '../../src/workers/webhook-worker.js';
import { harnessWithoutWorker, webhookWorkerProcess } from '../support/webhook-worker-process.js';
import { cleanupsAfterEach, Receiver, waitFor, type Harness } from './harness.js';
import { recordingLogger, type LogLine } from '../support/log-capture.js';

/**
 * A receiver's 408/429/503 holds every delivery of the fleet, not only the event it answered: real
 * HTTP receiver, real Redis, BullMQ's own queue rate limit shared by every worker.
 */

const cleanups = cleanupsAfterEach();

const capturingLogger = () => recordingLogger('debug');

const WARN = 40;
const holdStarts = (lines: LogLine[]) =>
  lines.filter((l) => l.level === WARN && l.msg.startsWith('webhook receiver is overloaded'));

/** A webhook worker as another process would run it (webhookWorkerProcess), logging to `logger`. */
const workerProcess = (h: Harness, logger: AppContext['logger'], opts: WebhookWorkerOptions) =>
  webhookWorkerProcess(h, cleanups, opts, { logger });

const deliveredCount = (h: Harness) => h.redis.zcard(h.keys.webhookDelivered());
const holdLeft = (h: Harness) => destinationHoldLeftMs(h.redis, h.queue.toKey('limiter'));

async function backoffsCounted(status: string): Promise<number> {
  return (await webhookDestinationBackoffs.get()).values.find((v) => v.labels.status === status)?.value ?? 0;
}

async function gaugeSeconds(): Promise<number> {
  await refreshWebhookHold(1_000); // as a scrape does
  return (await webhookDestinationBackoff.get()).values[0]?.value ?? 0;
}

describe('destination-wide webhook backoff', () => {
  it("holds every worker's deliveries for the receiver's Retry-After, then delivers them all", async () => {
    const receiver = await new Receiver().start();
    receiver.respond = () =>
      receiver.received.length === 0 ? { status: 503, headers: { 'retry-after': '2' } } : { status: 200 };
    const h = await harnessWithoutWorker(receiver, cleanups);
    const a = capturingLogger();
    const b = capturingLogger();
    const counted = await backoffsCounted('503');
    const first = await workerProcess(h, a.logger, { concurrency: 1 });
    await workerProcess(h, b.logger, { concurrency: 4 });

    const held = await h.events.publish('campaign.state.changed', 'camp-held', { n: 0 });
    await waitFor(async () => (await holdLeft(h)) > 0, 5_000, 'the hold');
    const answeredAt = receiver.received[0]!.at;
    expect(receiver.received.map((r) => [r.id, r.status])).toEqual([[held.id, 503]]);
    // The answered event waits at the head of the queue with its attempt not spent.
    await waitFor(async () => (await h.queue.getJobState(held.id)) === 'waiting', 5_000, 'put back');
    expect((await h.queue.getJob(held.id))!.attemptsMade).toBe(0);
    // Visible while it lasts: the gauge, counted once, one warn line with what the receiver asked.
    expect(await gaugeSeconds()).toBeGreaterThan(0);
    expect(await gaugeSeconds()).toBeLessThanOrEqual(2);
    expect(await backoffsCounted('503')).toBe(counted + 1);
    expect(holdStarts(a.lines)).toEqual([
      expect.objectContaining({
        status: 503,
        retryAfterMs: 2_000,
        holdMs: 2_000,
        streak: 1,
        eventId: held.id,
      }),
    ]);

    // The worker whose send was answered stops; the other process must hold on its own.
    await first.close();
    const pending: EventEnvelope[] = [];
    for (let n = 1; n <= 4; n++) {
      pending.push(await h.events.publish('campaign.state.changed', 'camp-held', { n }));
    }
    await waitFor(async () => (await deliveredCount(h)) === 5, 10_000, 'every delivery');

    const later = receiver.received.slice(1);
    expect(later.map((r) => r.id).sort()).toEqual([held.id, ...pending.map((e) => e.id)].sort());
    expect(later.every((r) => r.status === 200)).toBe(true);
    // Nothing reached the receiver before the 2 s it asked for were up (timers may round down 1 ms).
    for (const r of later) expect(r.at - answeredAt).toBeGreaterThanOrEqual(1_990);
    // The run marks the event delivered before BullMQ completes its job and counts the attempt.
    await waitFor(async () => (await h.queue.getJobState(held.id)) === 'completed', 5_000, 'completed');
    const job = (await h.queue.getJob(held.id))!;
    expect([job.attemptsMade, job.attemptsStarted]).toEqual([1, 2]);
    expect(holdStarts(b.lines)).toEqual([]);
    expect(await gaugeSeconds()).toBe(0);
    expect(await h.redis.exists(destinationBackoffKey(h.keys))).toBe(0);
  });

  it('without Retry-After backs off exponentially on answers in a row, up to the cap, and starts over after a delivery', async () => {
    const receiver = await new Receiver().start();
    let overloaded = 4;
    receiver.respond = () => (overloaded-- > 0 ? { status: 429 } : { status: 200 });
    const h = await harnessWithoutWorker(receiver, cleanups);
    const log = capturingLogger();
    await workerProcess(h, log.logger, { concurrency: 1, destinationBackoff: { minMs: 200, maxMs: 700 } });

    const e = await h.events.publish('campaign.state.changed', 'camp-exp', {});
    await waitFor(async () => (await deliveredCount(h)) === 1, 10_000, 'the delivery');
    const holds = holdStarts(log.lines);
    expect(holds.map((l) => [l.status, l.holdMs, l.streak])).toEqual([
      [429, 200, 1],
      [429, 400, 2],
      [429, 700, 3],
      [429, 700, 4],
    ]);
    const at = receiver.received.map((r) => r.at);
    expect(receiver.received.map((r) => r.status)).toEqual([429, 429, 429, 429, 200]);
    [200, 400, 700, 700].forEach((hold, i) => expect(at[i + 1]! - at[i]!).toBeGreaterThanOrEqual(hold - 10));
    // Four holds, no attempt spent on any of them (counted once BullMQ completes the job).
    await waitFor(async () => (await h.queue.getJobState(e.id)) === 'completed', 5_000, 'completed');
    expect((await h.queue.getJob(e.id))!.attemptsMade).toBe(1);
    expect(log.lines.filter((l) => l.msg === 'webhook receiver accepts deliveries again')).toHaveLength(1);
    expect(await h.redis.exists(destinationBackoffKey(h.keys))).toBe(0);

    // The next overload after a delivery starts again from the floor.
    overloaded = 1;
    await h.events.publish('campaign.state.changed', 'camp-exp', { again: true });
    await waitFor(async () => (await deliveredCount(h)) === 2, 10_000, 'the second delivery');
    expect(holdStarts(log.lines).at(-1)).toMatchObject({ status: 429, holdMs: 200, streak: 1 });
  });

  it('logs and counts a hold once when several sends under way are all answered 503', async () => {
    const receiver = await new Receiver().start();
    const waiting: ServerResponse[] = [];
    receiver.respond = (_req, _body, res) => {
      if (receiver.received.length >= 3) return { status: 200 };
      waiting.push(res);
      // The three sends are answered together, once all three are in: none starts after the hold.
      if (waiting.length === 3) for (const r of waiting.splice(0)) r.writeHead(503).end();
      return 'hang';
    };
    const h = await harnessWithoutWorker(receiver, cleanups);
    const log = capturingLogger();
    const counted = await backoffsCounted('503');
    await workerProcess(h, log.logger, {
      concurrency: 3,
      destinationBackoff: { minMs: 1_000, maxMs: 5_000 },
    });

    for (let n = 0; n < 3; n++) await h.events.publish('campaign.state.changed', 'camp-burst', { n });
    await waitFor(async () => (await deliveredCount(h)) === 3, 10_000, 'every delivery');
    expect(holdStarts(log.lines)).toEqual([
      expect.objectContaining({ status: 503, holdMs: 1_000, streak: 1 }),
    ]);
    expect(await backoffsCounted('503')).toBe(counted + 1);
    const answered = Math.max(...receiver.received.slice(0, 3).map((r) => r.at));
    for (const r of receiver.received.slice(3)) expect(r.at - answered).toBeGreaterThanOrEqual(990);
  });

  it('keeps a 502 to its own event: its Retry-After delays that event alone, nothing is held', async () => {
    const receiver = await new Receiver().start();
    let failing = true;
    receiver.respond = (_req, body) => {
      if (failing && (JSON.parse(body) as { data: { n: number } }).data.n === 1) {
        failing = false;
        return { status: 502, headers: { 'retry-after': '2' } };
      }
      return { status: 200 };
    };
    const h = await harnessWithoutWorker(receiver, cleanups);
    const log = capturingLogger();
    await workerProcess(h, log.logger, {});
    const a = await h.events.publish('campaign.pacing.adjusted', 'camp-502', { n: 1 });
    await waitFor(() => receiver.received.length >= 1, 10_000, 'first attempt');
    const b = await h.events.publish('campaign.pacing.adjusted', 'camp-502', { n: 2 });
    await waitFor(async () => (await deliveredCount(h)) === 2, 10_000, 'deliveries');
    const attemptsA = receiver.received.filter((r) => r.id === a.id);
    expect(attemptsA.map((r) => r.status)).toEqual([502, 200]);
    expect(attemptsA[1]!.at - attemptsA[0]!.at).toBeGreaterThanOrEqual(1950);
    // The other event went out while the failed one waited, and the queue was never held.
    expect(receiver.received.find((r) => r.id === b.id)!.at).toBeLessThan(attemptsA[1]!.at);
    expect(holdStarts(log.lines)).toEqual([]);
    expect(await h.redis.exists(destinationBackoffKey(h.keys))).toBe(0);
  });

  it('spends attempts once an event has met its free holds, so a receiver overloaded for good still dead-letters it', async () => {
    const receiver = await new Receiver().start();
    receiver.respond = () => ({ status: 503 });
    const h = await harnessWithoutWorker(receiver, cleanups);
    await workerProcess(h, capturingLogger().logger, {
      concurrency: 1,
      freeHoldsPerEvent: 2,
      destinationBackoff: { minMs: 20, maxMs: 40 },
    });
    const e = await h.events.publish('campaign.state.changed', 'camp-down', {});
    await waitFor(async () => (await listDeadLetters(h, 10)).length === 1, 15_000, 'the dead letter');
    const [letter] = await listDeadLetters(h, 10);
    // Nine attempts on the schedule, plus the two holds that spent none.
    expect(letter).toMatchObject({ eventId: e.id, reason: 'exhausted', status: 503, attempts: 9 });
    expect(receiver.received.filter((r) => r.id === e.id)).toHaveLength(11);
  });

  it('drops a hold earned by the previous WEBHOOK_URL when a worker starts, logged once with both destinations', async () => {
    const receiver = await new Receiver().start();
    const h = await harnessWithoutWorker(receiver, cleanups);
    expect(webhookLimiterKey(h.keys)).toBe(h.queue.toKey('limiter'));
    const keys = destinationBackoffKeys(h.keys);
    // The old receiver asked for 10 minutes and is gone for good; its URL carries a token.
    const oldUrl = 'https://old-receiver.example.test/in/s3cr3tpath?token=s3cr3tquery';
    const old = await holdDestinationQueue(h.redis, keys, {
      self: destinationRef(oldUrl),
      retryAfterMs: 600_000,
      bounds: DEFAULT_DESTINATION_BACKOFF,
    });
    expect(old.started).toBe(true);
    expect(await holdLeft(h)).toBeGreaterThan(590_000);
    // A process of the same destination keeps its own hold.
    expect(await dropForeignHold(h.redis, keys, destinationRef(oldUrl))).toBeNull();
    expect(await holdLeft(h)).toBeGreaterThan(590_000);

    const a = capturingLogger();
    const b = capturingLogger();
    await workerProcess(h, a.logger, {});
    await workerProcess(h, b.logger, {});
    const e = await h.events.publish('campaign.state.changed', 'camp-moved', {});
    await waitFor(async () => (await deliveredCount(h)) === 1, 5_000, 'the delivery to the new receiver');
    expect(receiver.received.map((r) => [r.id, r.status])).toEqual([[e.id, 200]]);
    expect(await holdLeft(h)).toBe(0);
    expect(await h.redis.exists(destinationBackoffKey(h.keys), destinationOwnerKey(h.keys))).toBe(0);

    const dropped = [...a.lines, ...b.lines].filter((l) =>
      l.msg.includes('hold of another destination dropped'),
    );
    expect(dropped).toEqual([
      expect.objectContaining({
        level: WARN,
        previousDestination: destinationRef(oldUrl).label,
        destination: destinationRef(receiver.url).label,
      }),
    ]);
    expect(String(dropped[0]!.previousDestination)).toMatch(/^https:\/\/old-receiver\.example\.test \(#/);
    expect(String(dropped[0]!.destination)).toMatch(/^http:\/\/127\.0\.0\.1:\d+ \(#/);
    // Neither the old URL's path and query nor the new one's reach the log.
    const logged = JSON.stringify([...a.lines, ...b.lines]);
    expect(logged).not.toMatch(/s3cr3t|token=|\/hook/);
  });

  it('after a hold, one send probes the receiver alone; the rest follow once it is answered 2xx', async () => {
    const receiver = await new Receiver().start();
    let probeAnsweredAt = 0;
    receiver.respond = (_req, _body, res) => {
      if (receiver.received.length === 0) return { status: 429 };
      if (receiver.received.length === 1) {
        // The probe: answered late, so any send beside it would reach the receiver meanwhile.
        setTimeout(() => {
          probeAnsweredAt = Date.now();
          res.writeHead(200).end();
        }, 400);
        return 'hang';
      }
      return { status: 200 };
    };
    const h = await harnessWithoutWorker(receiver, cleanups);
    const a = capturingLogger();
    const b = capturingLogger();
    const bounds = { minMs: 500, maxMs: 2_000 };
    await workerProcess(h, a.logger, { concurrency: 3, destinationBackoff: bounds, probePollMs: 20 });
    await workerProcess(h, b.logger, { concurrency: 3, destinationBackoff: bounds, probePollMs: 20 });

    const first = await h.events.publish('campaign.state.changed', 'camp-probe', { n: 0 });
    await waitFor(async () => (await holdLeft(h)) > 0, 5_000, 'the hold');
    for (let n = 1; n <= 5; n++) await h.events.publish('campaign.state.changed', 'camp-probe', { n });
    await waitFor(async () => (await deliveredCount(h)) === 6, 10_000, 'every delivery');

    // (The probe's 200 was written by hand, after the receiver recorded it as 0.)
    expect(receiver.received.map((r) => r.status)).toEqual([429, 0, 200, 200, 200, 200, 200]);
    expect(receiver.received[0]!.id).toBe(first.id);
    // Nothing reached the receiver while the probe waited for its answer; then all the rest went.
    const probe = receiver.received[1]!;
    expect(probe.at - receiver.received[0]!.at).toBeGreaterThanOrEqual(490);
    for (const r of receiver.received.slice(2)) expect(r.at).toBeGreaterThanOrEqual(probeAnsweredAt);
    const probes = [...a.lines, ...b.lines].filter((l) => l.msg.includes('probes the receiver alone'));
    expect(probes).toEqual([expect.objectContaining({ eventId: probe.id })]);
    const accepted = [...a.lines, ...b.lines].filter(
      (l) => l.msg === 'webhook receiver accepts deliveries again',
    );
    expect(accepted).toEqual([expect.objectContaining({ eventId: probe.id })]);
    expect(await h.redis.exists(destinationBackoffKey(h.keys), destinationOwnerKey(h.keys))).toBe(0);
    expect(await h.redis.exists(destinationBackoffKeys(h.keys).probeKey)).toBe(0);
  });

  it("a send that waited for the probe looks again before it goes: the probe's 410 disabled the destination", async () => {
    const receiver = await new Receiver().start();
    receiver.respond = (_req, _body, res) => {
      if (receiver.received.length === 0) return { status: 429 };
      if (receiver.received.length === 1) {
        // The probe: answered late, so the others are waiting for it when its 410 comes.
        setTimeout(() => res.writeHead(410).end(), 300);
        return 'hang';
      }
      return { status: 410 };
    };
    const h = await harnessWithoutWorker(receiver, cleanups);
    const a = capturingLogger();
    const bounds = { minMs: 300, maxMs: 2_000 };
    await workerProcess(h, a.logger, { concurrency: 4, destinationBackoff: bounds, probePollMs: 20 });

    await h.events.publish('campaign.state.changed', 'camp-gone', { n: 0 });
    await waitFor(async () => (await holdLeft(h)) > 0, 5_000, 'the hold');
    for (let n = 1; n <= 3; n++) await h.events.publish('campaign.state.changed', 'camp-gone', { n });
    await waitFor(
      async () => (await h.redis.zcard(h.keys.webhookDeadLetters())) === 4,
      10_000,
      'every event dead-lettered',
    );

    // Only the probe reached the receiver after the hold: the rest found the destination disabled.
    expect(receiver.received.map((r) => r.status)).toEqual([429, 0]);
    const letters = await listDeadLetters({ redis: h.redis, keys: h.keys });
    expect(letters.map((l) => l.reason).sort()).toEqual([
      'destination_disabled',
      'destination_disabled',
      'destination_disabled',
      'destination_gone',
    ]);
    expect(a.lines.filter((l) => l.msg.includes('probes the receiver alone'))).toHaveLength(1);
    expect(await h.redis.exists(destinationBackoffKeys(h.keys).probeKey)).toBe(0);
  });

  it('cuts a long hold short when a send under way is answered 2xx, and the next send still probes alone', async () => {
    const receiver = await new Receiver().start();
    const waiting: { res: ServerResponse; n: number }[] = [];
    receiver.respond = (_req, body, res) => {
      if (receiver.received.length >= 2) return { status: 200 };
      waiting.push({ res, n: (JSON.parse(body) as { data: { n: number } }).data.n });
      if (waiting.length === 2) {
        // Both sends are in: event 0 is answered with a ten-minute Retry-After, then event 1 with 200.
        const [zero, one] = [...waiting].sort((x, y) => x.n - y.n);
        zero!.res.writeHead(503, { 'retry-after': '600' }).end();
        setTimeout(() => one!.res.writeHead(200).end(), 150);
      }
      return 'hang';
    };
    const h = await harnessWithoutWorker(receiver, cleanups);
    // Two processes, one send each: the one answered 503 puts its event back and its worker sleeps
    // through the hold it saw (BullMQ's fetch, up to 30 s); the other's 2xx cuts the hold, and its
    // next fetch takes the held event at once, as the probe.
    const a = capturingLogger();
    const b = capturingLogger();
    await workerProcess(h, a.logger, { concurrency: 1 });
    await workerProcess(h, b.logger, { concurrency: 1 });
    const zero = await h.events.publish('campaign.state.changed', 'camp-cut', { n: 0 });
    const one = await h.events.publish('campaign.state.changed', 'camp-cut', { n: 1 });
    await waitFor(
      async () => (await deliveredCount(h)) === 2,
      5_000,
      'both deliveries, well within the hold',
    );

    const lines = [...a.lines, ...b.lines];
    expect(holdStarts(lines)).toEqual([expect.objectContaining({ status: 503, holdMs: 600_000 })]);
    expect(lines.filter((l) => l.msg.includes('hold cut short'))).toEqual([
      expect.objectContaining({ eventId: one.id }),
    ]);
    // The cut did not end the episode: the held event went out as a probe, alone, and its 2xx ended it.
    expect(lines.filter((l) => l.msg.includes('probes the receiver alone'))).toEqual([
      expect.objectContaining({ eventId: zero.id }),
    ]);
    expect(lines.filter((l) => l.msg === 'webhook receiver accepts deliveries again')).toEqual([
      expect.objectContaining({ eventId: zero.id }),
    ]);
    expect(receiver.received.map((r) => r.id)).toEqual([expect.any(String), expect.any(String), zero.id]);
    expect(receiver.received.at(-1)!.status).toBe(200);
    expect(await holdLeft(h)).toBe(0);
    expect(await h.redis.exists(destinationBackoffKey(h.keys), destinationOwnerKey(h.keys))).toBe(0);
  });
});
