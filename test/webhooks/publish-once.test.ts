import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventPublisher, EVENT_TTL_SECONDS, eventOnceKey } from '../../src/shared/events/publisher.js';
import { createKeys } from '../../src/shared/keys.js';
import { silentLogger } from '../../src/shared/logger.js';
import { deletePrefix, REDIS_URL, testPrefix } from '../support/redis-prefix.js';

/**
 * `publish` with `once`: the announcement of one change, made again by a retry of the work that made
 * it (its worker died after publishing and before noting that), keeps one event and one id.
 */
let redis: Redis;
const prefixes: string[] = [];

beforeAll(() => {
  redis = new Redis(REDIS_URL);
});

afterAll(async () => {
  for (const p of prefixes) await deletePrefix(redis, p);
  await redis.quit();
});

function publisher(enabled: boolean) {
  const prefix = testPrefix('once');
  prefixes.push(prefix);
  const keys = createKeys(prefix);
  const jobs: string[] = [];
  const webhookQueue = {
    add: async (_name: string, data: { eventId: string }) => void jobs.push(data.eventId),
  } as unknown as Queue;
  const events = createEventPublisher({ redis, keys, logger: silentLogger, webhookQueue, enabled });
  return { events, keys, jobs };
}

describe('publish once', () => {
  it('writes and enqueues the event of one change once, by the same id, however often published', async () => {
    const { events, keys, jobs } = publisher(true);
    const first = await events.publish(
      'campaign.state.changed',
      'c1',
      { to: 'paused' },
      { once: 'cmd_1:s:4' },
    );
    const again = await events.publish(
      'campaign.state.changed',
      'c1',
      { to: 'paused', foundApplied: true },
      { once: 'cmd_1:s:4' },
    );
    expect(again.id).toBe(first.id);
    expect(first.id).toMatch(/^evt_[0-9a-f]{32}$/);
    const recent = await events.recent(10, 'c1');
    expect(recent.map((e) => [e.id, e.data])).toEqual([[first.id, { to: 'paused' }]]);
    expect(jobs).toEqual([first.id]);
    expect((await events.get(first.id))?.body).toBe(JSON.stringify(first));
    const ttl = await redis.ttl(eventOnceKey(keys, first.id));
    expect(ttl).toBeGreaterThan(EVENT_TTL_SECONDS - 60);
  });

  it('gives another change its own event, and leaves events without `once` as they were', async () => {
    const { events, jobs } = publisher(true);
    const a = await events.publish('campaign.state.changed', 'c1', { to: 'paused' }, { once: 'cmd_1:s:4' });
    const b = await events.publish('campaign.state.changed', 'c1', { to: 'paused' }, { once: 'cmd_1:s:6' });
    const c = await events.publish('campaign.state.changed', 'c1', { to: 'active' });
    const d = await events.publish('campaign.state.changed', 'c1', { to: 'active' });
    expect(new Set([a.id, b.id, c.id, d.id]).size).toBe(4);
    expect(jobs).toEqual([a.id, b.id, c.id, d.id]);
  });

  it('names the same change alike under one key prefix, and apart under another (another deployment)', async () => {
    const a = publisher(true);
    const b = publisher(true);
    const first = await a.events.publish('campaign.missing', 'c3', {}, { once: 'campaign_missing:c3' });
    const again = await a.events.publish('campaign.missing', 'c3', {}, { once: 'campaign_missing:c3' });
    const other = await b.events.publish('campaign.missing', 'c3', {}, { once: 'campaign_missing:c3' });
    expect(again.id).toBe(first.id);
    expect(other.id).not.toBe(first.id);
    expect([a.jobs, b.jobs]).toEqual([[first.id], [other.id]]);
  });

  it('answers published false for a change whose announcing run could not record it, and writes it once', async () => {
    const { events, jobs } = publisher(true);
    expect(await events.published('cmd_3:s:7')).toBe(false);
    const first = await events.publish(
      'campaign.state.changed',
      'c4',
      { n: 1 },
      { once: 'cmd_3:s:7', recorded: false },
    );
    expect(await events.published('cmd_3:s:7')).toBe(false);
    await events.publish('campaign.state.changed', 'c4', { n: 2 }, { once: 'cmd_3:s:7' });
    expect(jobs).toEqual([first.id]);
    await events.publish('campaign.state.changed', 'c4', { n: 1 }, { once: 'cmd_3:s:8' });
    expect(await events.published('cmd_3:s:8')).toBe(true);
  });

  it('does not write the event again while its stored copy outlives the mark (dead-lettered or swept late)', async () => {
    const { events, keys, jobs } = publisher(true);
    const first = await events.publish('campaign.state.changed', 'c5', { n: 1 }, { once: 'cmd_4:s:2' });
    // The sweep and the dead letter give the stored event a fresh TTL; its mark keeps the first.
    await redis.del(eventOnceKey(keys, first.id));
    await events.publish('campaign.state.changed', 'c5', { n: 2 }, { once: 'cmd_4:s:2' });
    expect((await events.get(first.id))?.body).toBe(JSON.stringify(first));
    expect((await events.recent(10, 'c5')).map((e) => e.data)).toEqual([{ n: 1 }]);
    expect(jobs).toEqual([first.id]);
  });

  it('keeps one event with webhooks disabled too (only the recent stream is written then)', async () => {
    const { events, jobs } = publisher(false);
    await events.publish('campaign.settings.changed', 'c2', { n: 1 }, { once: 'cmd_2:orchestrator' });
    await events.publish('campaign.settings.changed', 'c2', { n: 2 }, { once: 'cmd_2:orchestrator' });
    expect((await events.recent(10, 'c2')).map((e) => e.data)).toEqual([{ n: 1 }]);
    expect(jobs).toEqual([]);
  });
});
