import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CampaignConfig } from '../../src/shared/campaign-config.js';
import { CampaignStore, configFromResource, UnknownCampaignError } from '../../src/shared/campaign-store.js';
import { ManualClock } from '../../src/shared/clock.js';
import type { CampaignResource, CampaignStats } from '../../src/shared/cxone/wire.js';
import { createKeys } from '../../src/shared/keys.js';
import { LaunchStore } from '../../src/shared/launch-store.js';
import { deletePrefix, REDIS_URL, testPrefix } from '../e2e/stack.js';

const prefix = testPrefix();
const keys = createKeys(prefix);
let redis: Redis;
const clock = new ManualClock(Date.parse('2026-12-01T15:00:00Z'));

beforeAll(() => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
});
afterAll(async () => {
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

const config: CampaignConfig = {
  name: 'Store test',
  description: 'kept from the submitted config',
  startDateTime: '2026-12-01T09:00:00-05:00',
  targetListId: '6f1c2a7e-3b4d-4e8f-9a10-1b2c3d4e5f60',
  skillGroupId: '0b9e8d7c-6a5f-4e3d-8c2b-1a0f9e8d7c6b',
  complianceTimeZone: 'America/New_York',
  allowedCallTimes: [{ days: ['mon'], start: '09:00', end: '17:00' }],
  dialerStrategy: { strategy: 'predictive', agentCapacity: 10, callRate: 0.5, answerRate: 0.3 },
  pacing: { strategy: 'abandonment-target', targetAbandonment: 0.025, pollIntervalMs: 15_000 },
};

function resource(id: string, version: number, patch: Partial<CampaignResource> = {}): CampaignResource {
  return {
    id,
    version,
    status: 'scheduled',
    name: config.name,
    type: 'predictive',
    startDateTime: config.startDateTime,
    targetListId: config.targetListId,
    dialerSettings: { ...config.dialerStrategy, wrapUpTime: 30, skillGroupId: config.skillGroupId },
    complianceSettings: {
      timeZone: config.complianceTimeZone,
      allowedCallTimes: config.allowedCallTimes,
      doNotCallListCheck: true,
      regulatoryCompliance: 'TCPA',
    },
    createdAt: '2026-12-01T14:00:00Z',
    updatedAt: '2026-12-01T14:00:00Z',
    ...patch,
  };
}

const stats = (version: number, status: CampaignStats['status'] = 'active'): CampaignStats => ({
  version,
  status,
  totalCalls: 100,
  answeredCalls: 40,
  abandonedCalls: 1,
  complianceViolations: 0,
  agentUtilization: 70,
});

describe('configFromResource', () => {
  it("takes every CXone-held setting from CXone and keeps the orchestrator's own fields", () => {
    const changed = resource('c', 5, {
      dialerSettings: { ...resource('c', 5).dialerSettings, callRate: 0.9 },
      complianceSettings: { ...resource('c', 5).complianceSettings, timeZone: 'America/Chicago' },
    });
    const merged = configFromResource(changed, config);
    expect(merged.dialerStrategy.callRate).toBe(0.9);
    expect(merged.complianceTimeZone).toBe('America/Chicago');
    expect(merged.pacing).toEqual(config.pacing);
    expect(merged.description).toBe(config.description);
    expect(merged.compliance).toEqual({ regime: 'TCPA', doNotCallCheck: true });
  });
});

describe('CampaignStore', () => {
  const live = () => new CampaignStore({ redis, keys, clock });

  it('stores what CXone says and lists the campaign', async () => {
    const s = live();
    expect(await s.syncFromCxone(resource('c1', 2), { launchId: 'l1', config })).toBe(true);
    const record = await s.get('c1');
    expect(record).toMatchObject({ campaignId: 'c1', launchId: 'l1', status: 'scheduled', version: 2 });
    expect(record?.config.pacing).toEqual(config.pacing);
    expect(record?.syncedAt).toBe(new Date(clock.now()).toISOString());
    expect(await s.listIds()).toContain('c1');
  });

  it('never moves back to an older CXone version, but still writes its own fields', async () => {
    const s = live();
    await s.syncFromCxone(resource('c2', 4, { status: 'active' }), { config });
    expect(await s.syncFromCxone(resource('c2', 3, { status: 'scheduled' }), { launchId: 'late' })).toBe(
      false,
    );
    const record = await s.get('c2');
    expect(record).toMatchObject({ status: 'active', version: 4, launchId: 'late' });
  });

  it('records stats, taking status and version from them only when newer', async () => {
    const s = live();
    await s.syncFromCxone(resource('c3', 3, { status: 'active' }), { config });
    await s.recordStats('c3', stats(5, 'paused'), null);
    expect(await s.get('c3')).toMatchObject({ status: 'paused', version: 5, lastStats: { totalCalls: 100 } });
    await s.recordStats('c3', stats(4, 'active'), null);
    const record = await s.get('c3');
    expect(record).toMatchObject({ status: 'paused', version: 5 });
    expect(record?.lastStats?.version).toBe(4);
  });

  it('patches orchestrator fields without touching the others, and refuses unknown campaigns', async () => {
    const s = live();
    await s.syncFromCxone(resource('c4', 2), { config });
    await Promise.all([
      s.patch('c4', { pacing: { callRate: 0.7 } }),
      s.patch('c4', { polling: { effectiveIntervalMs: 20_000, desiredIntervalMs: 15_000 } }),
      s.patch('c4', { lastCommand: { commandId: 'x' } }),
    ]);
    const record = await s.get('c4');
    expect(record).toMatchObject({
      pacing: { callRate: 0.7 },
      polling: { effectiveIntervalMs: 20_000 },
      lastCommand: { commandId: 'x' },
      version: 2,
    });
    await expect(s.patch('nope', { pacing: {} })).rejects.toBeInstanceOf(UnknownCampaignError);
    await expect(s.recordStats('nope', stats(1), null)).rejects.toBeInstanceOf(UnknownCampaignError);
    expect(await s.get('nope')).toBeNull();
  });
});

describe('LaunchStore', () => {
  const launches = () => new LaunchStore({ redis, keys, clock });
  const base = { actor: 'api:test', name: 'L', requestedAt: '2026-12-01T15:00:00Z' };

  it('claims an idempotency key once, atomically, and returns the earlier claim', async () => {
    const s = launches();
    const results = await Promise.all(
      ['a', 'b', 'c', 'd'].map((id) => s.create({ ...base, launchId: id }, { key: 'k1', fingerprint: 'f1' })),
    );
    const winners = results.filter((r) => r.created);
    expect(winners).toHaveLength(1);
    const losers = results.filter((r) => !r.created);
    const winnerId = ['a', 'b', 'c', 'd'][results.findIndex((r) => r.created)];
    for (const l of losers)
      expect(l).toEqual({ created: false, existing: { launchId: winnerId, fingerprint: 'f1' } });
    // Only the winner's launch record exists.
    const records = await Promise.all(['a', 'b', 'c', 'd'].map((id) => s.get(id)));
    expect(records.filter(Boolean)).toHaveLength(1);
    expect(await redis.ttl(keys.launchIdempotency('k1'))).toBeGreaterThan(0);
  });

  it('keeps a finished launch finished: updates after success are refused', async () => {
    const s = launches();
    await s.create({ ...base, launchId: 'l2' });
    expect(await s.update('l2', { status: 'running' })).toBe(true);
    await s.finish('l2', {
      status: 'succeeded',
      campaignId: 'c9',
      cxoneVersion: 3,
      campaignStatus: 'active',
    });
    expect(await s.update('l2', { status: 'running' })).toBe(false);
    expect(await s.get('l2')).toMatchObject({ status: 'succeeded', campaignId: 'c9', cxoneVersion: 3 });
    expect(await s.update('missing', { status: 'running' })).toBe(false);
  });

  it('begins a launch in one step: returns the record as it was and marks it running unless finished', async () => {
    const s = launches();
    await s.create({ ...base, launchId: 'l3' });
    await s.update('l3', { campaignId: 'c3', cxoneVersion: 2 });
    const before = await s.begin('l3');
    expect(before).toMatchObject({ launchId: 'l3', status: 'queued', campaignId: 'c3', cxoneVersion: 2 });
    expect(await s.get('l3')).toMatchObject({ status: 'running', campaignId: 'c3' });

    await s.finish('l3', { status: 'failed', error: 'refused' });
    expect(await s.begin('l3')).toMatchObject({ status: 'failed', error: 'refused' });
    expect(await s.get('l3')).toMatchObject({ status: 'failed' });

    expect(await s.begin('missing')).toBeNull();
    expect(await redis.exists(keys.launch('missing'))).toBe(0);
  });

  it('does not share keys with the BullMQ jobs of the launch queue', () => {
    expect(keys.launch('x')).not.toBe(`${prefix}:launch:x`);
  });
});
