import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { submitLaunch } from '../../src/producers/launch-submit.js';
import { campaignConfigSchema } from '../../src/shared/campaign-schema.js';
import { ManualClock } from '../../src/shared/clock.js';
import type { AppContext } from '../../src/shared/context.js';
import { RequestAbandonedError } from '../../src/shared/errors.js';
import {
  createEventPublisher,
  loadStoredEvent,
  recentEventsKey,
  type EventPublisherStore,
} from '../../src/shared/events/publisher.js';
import type { EventEnvelope, PreparedEvent } from '../../src/shared/events/types.js';
import { createKeys, QUEUES } from '../../src/shared/keys.js';
import { LaunchStore, queuedLaunchIndexKey } from '../../src/shared/launch-store.js';
import { streamField } from '../../src/shared/stream-entry.js';
import { webhookPendingKey } from '../../src/shared/webhooks/pending.js';
import { campaignConfig } from '../e2e/stack.js';
import { recordingLogger } from '../support/log-capture.js';
import { deletePrefix, REDIS_URL, testPrefix } from '../support/redis-prefix.js';

/**
 * A launch's events are written by the script that writes the launch record they announce (the
 * request by `create`, an outcome by `finish`): both land, or neither does, and a write the script
 * refuses (an outcome already recorded, an Idempotency-Key already claimed) announces nothing. Real
 * Redis under the test's own prefix; the stored event is checked byte for byte against what
 * `publish` stores and GET /v1/webhooks/events/{id} answers (loadStoredEvent).
 */

const prefix = testPrefix('evt');
const keys = createKeys(prefix);
const clock = new ManualClock(Date.parse('2026-12-01T15:00:00Z'));
let redis: Redis;
let queue: Queue;
let seq = 0;

function setUp(enabled: boolean) {
  const { logger, lines } = recordingLogger('debug');
  const events = createEventPublisher({ redis, keys, logger, webhookQueue: queue, enabled, clock });
  return { events, lines, launches: new LaunchStore({ redis, keys, clock }) };
}

/** Counts the after-write steps a prepared event runs. */
function counted(event: PreparedEvent): PreparedEvent & { afterWrites: number } {
  const out = {
    ...event,
    afterWrites: 0,
    afterWrite: async () => {
      out.afterWrites += 1;
      await event.afterWrite();
    },
  };
  return out;
}

/** Every entry of the recent-events stream: its id and body fields. */
async function recentEntries(): Promise<Array<{ id: string; body: string }>> {
  const entries = (await redis.xrange(recentEventsKey(keys), '-', '+')) as [string, string[]][];
  return entries.map(([, fields]) => ({ id: streamField(fields, 'id')!, body: streamField(fields, 'b')! }));
}

async function newLaunch(launches: LaunchStore, idempotency?: { key: string; fingerprint: string }) {
  const launchId = `launch-${++seq}`;
  const created = await launches.create(
    { launchId, actor: 'api:test', name: `Launch ${seq}`, requestedAt: new Date(clock.now()).toISOString() },
    idempotency,
  );
  expect(created.created).toBe(true);
  return launchId;
}

/** The event is in the recent stream, stored pending with those bytes, indexed, and its job queued. */
async function expectStoredAndQueued(event: PreparedEvent, envelope: EventEnvelope) {
  const body = JSON.stringify(envelope);
  expect(event.body).toBe(body);
  expect((await recentEntries()).filter((e) => e.id === envelope.id)).toEqual([{ id: envelope.id, body }]);
  const stored = await loadStoredEvent(redis, keys, envelope.id);
  expect(stored).toEqual({
    id: envelope.id,
    type: envelope.type,
    campaignId: envelope.campaignId,
    occurredAt: envelope.occurredAt,
    body,
  });
  expect(await redis.hget(keys.webhookEvent(envelope.id), 'state')).toBe('pending');
  expect(await redis.ttl(keys.webhookEvent(envelope.id))).toBeGreaterThan(29 * 24 * 3600);
  expect(await redis.zscore(webhookPendingKey(keys), envelope.id)).toBe(String(clock.now()));
  expect((await queue.getJob(envelope.id))?.data).toEqual({ eventId: envelope.id });
}

/** Nothing of the event was written: no stream entry, no stored copy, no index entry, no job. */
async function expectNothingOf(envelope: EventEnvelope) {
  expect((await recentEntries()).some((e) => e.id === envelope.id)).toBe(false);
  expect(await redis.exists(keys.webhookEvent(envelope.id))).toBe(0);
  expect(await redis.zscore(webhookPendingKey(keys), envelope.id)).toBeNull();
  expect(await queue.getJob(envelope.id)).toBeUndefined();
}

beforeAll(() => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  queue = new Queue(QUEUES.webhook, { connection: redis, prefix });
});
afterEach(async () => {
  await redis.del(recentEventsKey(keys));
});
afterAll(async () => {
  await queue.close();
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

describe("a launch's events, written with the launch record they announce", () => {
  it('finish writes its event with the outcome: in the stream, stored pending with the same bytes, indexed, queued', async () => {
    const { events, launches, lines } = setUp(true);
    const launchId = await newLaunch(launches);
    const event = counted(
      events.prepare('campaign.launch.succeeded', 'camp-1', { launchId, status: 'active', version: 3 }),
    );
    expect(await launches.finish(launchId, { status: 'succeeded', campaignId: 'camp-1' }, event)).toBe(true);
    expect((await launches.get(launchId))?.status).toBe('succeeded');
    await expectStoredAndQueued(event, event.envelope);
    expect(event.envelope).toMatchObject({
      type: 'campaign.launch.succeeded',
      campaignId: 'camp-1',
      data: { launchId, status: 'active', version: 3 },
    });
    expect(event.afterWrites).toBe(1);
    // The publisher's log line, as for an event it published itself.
    expect(lines.filter((l) => l.msg === 'event published')).toEqual([
      expect.objectContaining({
        eventId: event.envelope.id,
        type: 'campaign.launch.succeeded',
        enqueued: true,
      }),
    ]);
  });

  it('stores exactly what publish stores for the same event', async () => {
    const { events, launches } = setUp(true);
    const published = await events.publish('campaign.launch.failed', 'camp-p', {
      launchId: 'x',
      reason: 'r',
    });
    const launchId = await newLaunch(launches);
    const folded = events.prepare('campaign.launch.failed', 'camp-p', { launchId: 'x', reason: 'r' });
    expect(await launches.finish(launchId, { status: 'failed', error: 'r' }, folded)).toBe(true);
    const shape = async (id: string) => {
      const h = await redis.hgetall(keys.webhookEvent(id));
      return { fields: Object.keys(h).sort(), state: h.state, type: h.type, campaignId: h.campaignId };
    };
    expect(await shape(folded.envelope.id)).toEqual(await shape(published.id));
    const stream = (await redis.xrange(recentEventsKey(keys), '-', '+')) as [string, string[]][];
    expect(stream.map(([, fields]) => fields.filter((_, i) => i % 2 === 0))).toEqual([
      ['id', 'c', 'b'],
      ['id', 'c', 'b'],
    ]);
  });

  it('a finish that records nothing writes no event (the launch already finished, or gone)', async () => {
    const { events, launches } = setUp(true);
    const launchId = await newLaunch(launches);
    expect(await launches.finish(launchId, { status: 'failed', error: 'given up' })).toBe(true);
    const late = counted(events.prepare('campaign.launch.succeeded', 'camp-2', { launchId }));
    expect(await launches.finish(launchId, { status: 'succeeded', campaignId: 'camp-2' }, late)).toBe(false);
    await expectNothingOf(late.envelope);
    expect(late.afterWrites).toBe(0);
    expect((await launches.get(launchId))?.status).toBe('failed');

    const gone = counted(events.prepare('campaign.launch.failed', '', { launchId: 'no-such-launch' }));
    expect(await launches.finish('no-such-launch', { status: 'failed', error: 'x' }, gone)).toBe(false);
    await expectNothingOf(gone.envelope);
    expect(await redis.exists(keys.launch('no-such-launch'))).toBe(0);
  });

  it('create writes the request event; a replay of its Idempotency-Key writes no second one', async () => {
    const { events, launches } = setUp(true);
    const launchId = `launch-${++seq}`;
    const record = {
      launchId,
      actor: 'api:test',
      name: 'Idem',
      requestedAt: new Date(clock.now()).toISOString(),
    };
    const idem = { key: `key-${seq}`, fingerprint: 'v2:abc' };
    const requested = counted(events.prepare('campaign.launch.requested', '', { launchId, name: 'Idem' }));
    expect(await launches.create(record, idem, requested)).toEqual({ created: true });
    await expectStoredAndQueued(requested, requested.envelope);
    expect(requested.afterWrites).toBe(1);

    const replay = counted(
      events.prepare('campaign.launch.requested', '', { launchId: 'other', name: 'Idem' }),
    );
    expect(await launches.create({ ...record, launchId: 'other' }, idem, replay)).toEqual({
      created: false,
      existing: { launchId, fingerprint: 'v2:abc' },
    });
    await expectNothingOf(replay.envelope);
    expect(replay.afterWrites).toBe(0);
    expect(await redis.exists(keys.launch('other'))).toBe(0);
    expect((await recentEntries()).map((e) => e.id)).toEqual([requested.envelope.id]);
  });

  it('with webhooks disabled, the event goes to the recent stream only, and no job is queued', async () => {
    const { events, launches, lines } = setUp(false);
    const launchId = await newLaunch(launches);
    const event = events.prepare('campaign.launch.succeeded', 'camp-3', { launchId });
    expect(await launches.finish(launchId, { status: 'succeeded', campaignId: 'camp-3' }, event)).toBe(true);
    expect(await recentEntries()).toEqual([{ id: event.envelope.id, body: event.body }]);
    expect(await redis.exists(keys.webhookEvent(event.envelope.id))).toBe(0);
    expect(await redis.zscore(webhookPendingKey(keys), event.envelope.id)).toBeNull();
    expect(await queue.getJob(event.envelope.id)).toBeUndefined();
    expect(lines.find((l) => l.msg === 'event published')).toMatchObject({ enqueued: false });
  });

  it('a webhook job that cannot be queued does not undo or fail the write; the event is left to the sweep', async () => {
    const { logger, lines } = recordingLogger('debug');
    const failingQueue = { add: () => Promise.reject(new Error('connection lost')) } as unknown as Queue;
    const events: EventPublisherStore = createEventPublisher({
      redis,
      keys,
      logger,
      webhookQueue: failingQueue,
      enabled: true,
      clock,
    });
    const launches = new LaunchStore({ redis, keys, clock });
    const launchId = await newLaunch(launches);
    const event = events.prepare('campaign.launch.succeeded', 'camp-4', { launchId });
    expect(await launches.finish(launchId, { status: 'succeeded', campaignId: 'camp-4' }, event)).toBe(true);
    expect(await redis.hget(keys.webhookEvent(event.envelope.id), 'state')).toBe('pending');
    expect(await redis.zscore(webhookPendingKey(keys), event.envelope.id)).not.toBeNull();
    expect(lines.find((l) => l.msg.includes('its webhook job not queued'))).toMatchObject({
      eventId: event.envelope.id,
    });
  });

  it('an events key of the wrong type costs the announcement, logged, never the launch record', async () => {
    const { events, launches, lines } = setUp(true);
    const launchId = await newLaunch(launches);
    // The recent-events stream's key holding a string: the event cannot be written there.
    await redis.set(recentEventsKey(keys), 'not a stream');
    const event = counted(events.prepare('campaign.launch.succeeded', 'camp-5', { launchId }));
    expect(await launches.finish(launchId, { status: 'succeeded', campaignId: 'camp-5' }, event)).toBe(true);
    expect((await launches.get(launchId))?.status).toBe('succeeded');
    expect(await redis.zscore(queuedLaunchIndexKey(keys), launchId)).toBeNull();
    // Stored alone after the outcome, which fails on the same key: nothing of it is left, and the
    // failure names it.
    expect(await redis.exists(keys.webhookEvent(event.envelope.id))).toBe(0);
    expect(await redis.zscore(webhookPendingKey(keys), event.envelope.id)).toBeNull();
    expect(event.afterWrites).toBe(0);
    expect(lines.find((l) => l.msg === 'event publish failed')).toMatchObject({
      eventId: event.envelope.id,
      type: 'campaign.launch.succeeded',
    });

    // create: the launch, its claim and its index entry all written; the event not.
    const other = `launch-${++seq}`;
    const requested = counted(events.prepare('campaign.launch.requested', '', { launchId: other }));
    expect(
      await launches.create(
        { launchId: other, actor: 'api:test', name: 'x', requestedAt: new Date(clock.now()).toISOString() },
        { key: `key-${seq}`, fingerprint: 'f' },
        requested,
      ),
    ).toEqual({ created: true });
    expect(await redis.exists(keys.launch(other), keys.launchIdempotency(`key-${seq}`))).toBe(2);
    expect(await redis.zscore(queuedLaunchIndexKey(keys), other)).not.toBeNull();
    expect(await redis.exists(keys.webhookEvent(requested.envelope.id))).toBe(0);
    expect(requested.afterWrites).toBe(0);

    // publish's own path (the same Lua): fails as a whole, and stores nothing.
    const pendingBefore = await redis.zcard(webhookPendingKey(keys));
    const storedBefore = (await redis.keys(`${keys.webhookEvent('')}*`)).length;
    await expect(events.publish('campaign.state.changed', 'camp-5', {})).rejects.toThrow(/WRONGTYPE/);
    expect(await redis.zcard(webhookPendingKey(keys))).toBe(pendingBefore);
    expect((await redis.keys(`${keys.webhookEvent('')}*`)).length).toBe(storedBefore);
    await redis.del(recentEventsKey(keys));
  });
});

describe('a key of the wrong type met after the event would be written', () => {
  it("leaves neither the event nor the record's write for a record key, only the event for an event key: every type is checked before anything is written", async () => {
    const { events, launches } = setUp(true);
    const launchId = await newLaunch(launches);
    expect(await launches.recordCreated(launchId, 'camp-6', 1)).toBe(true);
    // The host's own write fails (ZREM on the queued-launch index), after the event's place in the
    // script: the event must not be left announcing an outcome that was never recorded.
    const index = queuedLaunchIndexKey(keys);
    const indexed = await redis.zrangebyscore(index, '-inf', '+inf', 'WITHSCORES');
    await redis.del(index);
    await redis.set(index, 'not a sorted set');
    try {
      const event = counted(events.prepare('campaign.launch.succeeded', 'camp-6', { launchId }));
      await expect(
        launches.finish(launchId, { status: 'succeeded', campaignId: 'camp-6' }, event),
      ).rejects.toThrow(/WRONGTYPE/);
      await expectNothingOf(event.envelope);
      expect(event.afterWrites).toBe(0);
      expect(await launches.launchOfCampaign('camp-6')).toBe(launchId);
      expect((await launches.get(launchId))?.status).not.toBe('succeeded');

      const other = `launch-${++seq}`;
      const requested = counted(events.prepare('campaign.launch.requested', '', { launchId: other }));
      await expect(
        launches.create(
          { launchId: other, actor: 'api:test', name: 'x', requestedAt: new Date(clock.now()).toISOString() },
          { key: `key-${seq}`, fingerprint: 'f' },
          requested,
        ),
      ).rejects.toThrow(/WRONGTYPE/);
      await expectNothingOf(requested.envelope);
      expect(await redis.exists(keys.launch(other), keys.launchIdempotency(`key-${seq}`))).toBe(0);
    } finally {
      await redis.del(index);
      if (indexed.length > 0) await redis.zadd(index, ...indexed.reverse());
    }

    // The event's own last key (the pending index) of the wrong type: checked before anything is
    // written, so not even its stream entry is written; the outcome is.
    const pending = webhookPendingKey(keys);
    const pendingBefore = await redis.zrangebyscore(pending, '-inf', '+inf', 'WITHSCORES');
    await redis.del(pending);
    await redis.set(pending, 'not a sorted set');
    try {
      const late = counted(events.prepare('campaign.launch.succeeded', 'camp-7', { launchId }));
      expect(await launches.finish(launchId, { status: 'succeeded', campaignId: 'camp-7' }, late)).toBe(true);
      expect(await recentEntries()).toEqual([]);
      expect(await redis.exists(keys.webhookEvent(late.envelope.id))).toBe(0);
      expect(late.afterWrites).toBe(0);
      expect((await launches.get(launchId))?.status).toBe('succeeded');
      await expect(events.publish('campaign.state.changed', 'camp-7', {})).rejects.toThrow(/WRONGTYPE/);
      expect(await recentEntries()).toEqual([]);
    } finally {
      await redis.del(pending);
      if (pendingBefore.length > 0) await redis.zadd(pending, ...pendingBefore.reverse());
    }
  });
});

describe("the API's launch events", () => {
  it('a launch abandoned at its deadline whose record is gone still announces its failure, as its request was', async () => {
    const { events } = setUp(true);
    const launchQueue = new Queue(QUEUES.launch, { connection: redis, prefix });
    // The record goes while the request is audited (deleted by hand): the failure has nothing to be
    // written to, and is announced all the same, as a worker's is (launch-failure.ts failLaunch).
    const audit = {
      append: async (input: { action: string; details?: Record<string, unknown> }) => {
        if (input.action === 'launch_requested')
          await redis.del(keys.launch(String(input.details?.launchId)));
        return {};
      },
    };
    const ctx = {
      redis,
      keys,
      clock,
      logger: recordingLogger('debug').logger,
      events,
      audit,
      queues: { launch: launchQueue },
    } as unknown as AppContext;
    let launchId = '';
    try {
      await expect(
        submitLaunch(ctx, {
          config: campaignConfigSchema.parse(campaignConfig({ name: 'Gone at the deadline' })),
          actor: 'api:test',
          signal: AbortSignal.abort(),
          onLaunchId: (id) => (launchId = id),
        }),
      ).rejects.toBeInstanceOf(RequestAbandonedError);
    } finally {
      await launchQueue.close();
    }
    const announced = (await recentEntries())
      .map((e) => JSON.parse(e.body) as EventEnvelope)
      .filter((e) => e.data.launchId === launchId);
    expect(announced.map((e) => e.type)).toEqual(['campaign.launch.requested', 'campaign.launch.failed']);
    expect(announced[1]?.data).toEqual({ launchId, reason: expect.stringMatching(/^abandoned: /) });
    expect(await queue.getJob(announced[1]!.id)).toBeDefined();
  });
});
