import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_TTL_SECONDS } from '../../src/shared/events/publisher.js';
import { createKeys, type Keys } from '../../src/shared/keys.js';
import { deadLetter, listDeadLetters } from '../../src/shared/webhooks/store.js';
import { connect, deletePrefix, testPrefix } from '../audit/redis-helpers.js';

/** The dead-letter set on real Redis: it must not outgrow the events it points at. */
let redis: Redis;
let prefix: string;
let keys: Keys;

beforeAll(() => {
  redis = connect();
  prefix = testPrefix();
  keys = createKeys(prefix);
});
afterAll(async () => {
  await deletePrefix(redis, prefix);
  await redis.quit();
});

const TTL_MS = EVENT_TTL_SECONDS * 1000;
const iso = (ms: number) => new Date(ms).toISOString();

describe('webhook dead letters', () => {
  it('drops entries older than the event TTL when a new one is added, keeping younger ones', async () => {
    const now = Date.parse('2026-06-01T12:00:00Z');
    const deps = { redis, keys };
    // A dead letter is written only onto a stored event (the bytes a replay sends).
    const letter = async (eventId: string, atMs: number) => {
      await redis.hset(keys.webhookEvent(eventId), {
        body: '{}',
        type: 'campaign.state.changed',
        state: 'pending',
      });
      return deadLetter(deps, { eventId, reason: 'exhausted', attempts: 9, at: iso(atMs) });
    };

    await letter('evt-ancient', now - TTL_MS - 86_400_000);
    await letter('evt-just-expired', now - TTL_MS - 1);
    await letter('evt-at-ttl', now - TTL_MS);
    await letter('evt-recent', now - 3_600_000);
    await letter('evt-new', now);

    const ids = await redis.zrange(keys.webhookDeadLetters(), 0, '-1');
    expect(ids).toEqual(['evt-at-ttl', 'evt-recent', 'evt-new']);
    // Newest first, so a limited page shows what is failing now.
    expect((await listDeadLetters(deps)).map((l) => l.eventId)).toEqual([
      'evt-new',
      'evt-recent',
      'evt-at-ttl',
    ]);
    expect((await listDeadLetters(deps, 1)).map((l) => l.eventId)).toEqual(['evt-new']);
  });
});
